-- When a session's console last held its live event stream open (refreshed every 30 s while it
-- does): "the agent has a console open" for APIs that must say whether a pop was delivered,
-- which a signed-in session alone cannot tell (its browser may have been closed for hours).
ALTER TABLE console_sessions ADD COLUMN stream_seen_at BIGINT;
