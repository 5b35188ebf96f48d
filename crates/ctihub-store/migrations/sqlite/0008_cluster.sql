-- Cluster mode: what several nodes on one database must agree on, kept in the database so a
-- node holds no state of its own (docs/deployment.md).

-- Every running node, noted at start and every couple of seconds after. A node whose note is
-- older than a few beats is dead (killed, frozen, cut off): its consoles stop counting.
CREATE TABLE cluster_nodes (
    id          TEXT PRIMARY KEY,
    address     TEXT NOT NULL,
    version     TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    seen_at     INTEGER NOT NULL
);

-- Each console page holding its live event stream, on the node that serves it. "The agent has
-- a console open" is a row here whose node is alive and whose session holds; a node's rows go
-- when the stream ends, when the node stops, or when another node sweeps a dead node away.
-- (console_sessions.stream_seen_at from 0006 is no longer written; it is dropped one release
-- later, so nodes of the previous release keep working during a rolling upgrade.)
CREATE TABLE console_streams (
    id          TEXT PRIMARY KEY,
    node_id     TEXT NOT NULL,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL,
    opened_at   INTEGER NOT NULL
);
CREATE INDEX console_streams_user_id_idx ON console_streams (user_id);
CREATE INDEX console_streams_node_id_idx ON console_streams (node_id);

-- Rate-limit counts shared by every node: requests per key (a hash of a credential or a client
-- address) in one fixed window. Nodes add what they counted every second and read the total.
CREATE TABLE rate_limit_counts (
    key           TEXT NOT NULL,
    window_start  INTEGER NOT NULL,
    hits          INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_limit_counts_window_start_idx ON rate_limit_counts (window_start);

-- A hub event that must reach consoles once per call (its ringing toast, its screen pop) carries
-- a key. A PBX that retries an event on another node after the first node died between storing
-- the call event and publishing gets the missing event published, and never a second one.
ALTER TABLE hub_events ADD COLUMN once_key TEXT;
CREATE UNIQUE INDEX hub_events_once_key_key ON hub_events (once_key);
