-- Agent console sign-in sessions. Only a SHA-256 of the cookie's token is stored, so a copy of
-- the database does not let anyone sign in; expiry slides forward while the agent is active.
CREATE TABLE console_sessions (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    seen_at     INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX console_sessions_token_hash_key ON console_sessions (token_hash);
CREATE INDEX console_sessions_user_id_idx ON console_sessions (user_id);
CREATE INDEX console_sessions_expires_at_idx ON console_sessions (expires_at);
