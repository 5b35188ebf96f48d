-- The journal's "need a callback" badge counts an agent's open calls (`done = false`) in their
-- queues. Without this index the count walked every call the queues ever had (the planner picks
-- the queue index when `done` is a bound parameter), so it grew with the journal's history.
CREATE INDEX calls_queue_done_idx ON calls (queue_name, done, id);
