-- A number every change to `settings` raises. The CTI configuration is read at every PBX event
-- and kept parsed (settings_cache.rs); this one small row tells whether it is still current,
-- so a node reads the whole document only after it changed. Triggers keep the number right
-- whoever writes: any node, the CLI, a restore.
CREATE TABLE settings_generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO settings_generation (id, value) VALUES (1, 0);
CREATE FUNCTION settings_generation_raise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE settings_generation SET value = value + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER settings_changed AFTER INSERT OR UPDATE OR DELETE ON settings
    FOR EACH STATEMENT EXECUTE FUNCTION settings_generation_raise();
