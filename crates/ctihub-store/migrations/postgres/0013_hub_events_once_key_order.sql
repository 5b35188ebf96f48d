-- A once key is now the call's id, zero-padded, then the kind ("0000000000000000017:screen_pop"),
-- so that new keys sort at the end of the index, and only keys are indexed (see the SQLite
-- migration of the same number). The keys already stored are rewritten, so a PBX retrying
-- across the upgrade still finds its event published.
DROP INDEX hub_events_once_key_key;
UPDATE hub_events
SET once_key = lpad(split_part(once_key, ':', 2), 19, '0') || ':' || split_part(once_key, ':', 1)
WHERE once_key !~ '^[0-9]';
CREATE UNIQUE INDEX hub_events_once_key_key ON hub_events (once_key) WHERE once_key IS NOT NULL;
