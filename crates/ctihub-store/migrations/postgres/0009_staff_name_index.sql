-- PBXs name the agent who answered (`user=Alice Agent`): find staff by name with one index probe
-- instead of a walk over every agent at each answered call.
CREATE INDEX users_staff_name_idx ON users (lower(name)) WHERE role IN ('agent', 'admin');
