-- Who did what to the system's security: sign-ins (and failed attempts), sign-outs, API token
-- changes and settings changes. Append-only: nothing updates or deletes rows here; admins read it.
-- `actor` is what the actor was known as at the time (an e-mail, `cli`, or the e-mail tried on a
-- failed sign-in), so a row still says who after the user is deleted.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor_id    INTEGER,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT,
    address     TEXT,
    detail      TEXT
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
