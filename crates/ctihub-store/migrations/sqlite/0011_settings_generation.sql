-- A number every change to `settings` raises. The CTI configuration is read at every PBX event
-- and kept parsed (settings_cache.rs); this one small row tells whether it is still current.
-- Before, the cache asked SQLite whether anything at all had been committed, and the event
-- writer commits hundreds of times a second, so it read the whole document again at nearly
-- every event. Triggers keep the number right whoever writes: the server, the CLI, a restore.
CREATE TABLE settings_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO settings_generation (id, value) VALUES (1, 0);
CREATE TRIGGER settings_inserted AFTER INSERT ON settings
BEGIN
    UPDATE settings_generation SET value = value + 1;
END;
CREATE TRIGGER settings_updated AFTER UPDATE ON settings
BEGIN
    UPDATE settings_generation SET value = value + 1;
END;
CREATE TRIGGER settings_deleted AFTER DELETE ON settings
BEGIN
    UPDATE settings_generation SET value = value + 1;
END;
