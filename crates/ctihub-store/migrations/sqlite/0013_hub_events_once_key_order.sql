-- Only a ringing toast and a screen pop carry a once key ("incoming_call:17", "screen_pop:17"),
-- and those keys sorted neither among themselves (a kind's keys in two places, and "…:17"
-- after "…:1843501") nor after the keys before them, so each new one landed in the middle of
-- the index: with every keyless event's NULL beside them, three to five pages of each of the
-- event writer's commits were this index. A key is now the call's id, zero-padded, then the
-- kind ("0000000000000000017:screen_pop"), so new keys land at the end, and only keys are
-- indexed. The keys already stored are rewritten, so a PBX retrying across the upgrade still
-- finds its event published.
DROP INDEX hub_events_once_key_key;
UPDATE hub_events
SET once_key = printf('%019d', CAST(substr(once_key, instr(once_key, ':') + 1) AS INTEGER))
    || ':' || substr(once_key, 1, instr(once_key, ':') - 1)
WHERE once_key NOT GLOB '[0-9]*';
CREATE UNIQUE INDEX hub_events_once_key_key ON hub_events (once_key) WHERE once_key IS NOT NULL;
