-- The last seven digits of each caller-index key, so Zendesk's suffix search `phone:*5135557611`
-- probes an index instead of scanning every key. Keys are `+digits` or `digits`.
ALTER TABLE caller_index ADD COLUMN phone_tail TEXT;
UPDATE caller_index SET phone_tail = substr(replace(phone_key, '+', ''), -7);
CREATE INDEX caller_index_phone_tail_idx ON caller_index (phone_tail);
