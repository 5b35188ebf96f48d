-- Events for a call ctihub does not know yet (a sipgate dtmf that overtook its newCall, an event
-- for a call purged meanwhile): an acknowledged event is never dropped. They join the call when
-- one with that source id appears, and are purged with old calls otherwise.
CREATE TABLE parked_call_events (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX parked_call_events_ref_idx ON parked_call_events (source, external_id);
