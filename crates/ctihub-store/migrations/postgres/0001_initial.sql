-- ctihub schema, PostgreSQL flavour. Keep in step with ../sqlite/0001_initial.sql: same tables,
-- columns and index names, so the store's SQL runs unchanged on both.

-- One id space for every record (DESIGN: ids are integers below 2^53 on the wire).
CREATE SEQUENCE id_sequence MINVALUE 1 MAXVALUE 9007199254740991 NO CYCLE;

CREATE TABLE organizations (
    id           BIGINT PRIMARY KEY,
    name         TEXT NOT NULL,
    name_lower   TEXT NOT NULL,
    external_id  TEXT,
    domain_names TEXT NOT NULL DEFAULT '[]',
    tags         TEXT NOT NULL DEFAULT '[]',
    notes        TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX organizations_name_lower_key ON organizations (name_lower);
CREATE INDEX organizations_external_id_idx ON organizations (external_id);

-- Phones, tags and custom field values are kept on the row as JSON so a user is read in one
-- query; caller_index, tag_index and field_values are the write-maintained indexes for lookups.
CREATE TABLE users (
    id              BIGINT PRIMARY KEY,
    role            TEXT NOT NULL,
    name            TEXT NOT NULL,
    email           TEXT,
    email_lower     TEXT,
    organization_id BIGINT REFERENCES organizations (id) ON DELETE SET NULL,
    external_id     TEXT,
    phones          TEXT NOT NULL DEFAULT '[]',
    tags            TEXT NOT NULL DEFAULT '[]',
    custom_fields   TEXT NOT NULL DEFAULT '{}',
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    password_hash   TEXT,
    agent_id        TEXT,
    extension       TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email_lower_key ON users (email_lower);
CREATE UNIQUE INDEX users_agent_id_key ON users (agent_id);
CREATE INDEX users_external_id_idx ON users (external_id);
CREATE INDEX users_organization_id_idx ON users (organization_id);
CREATE INDEX users_role_idx ON users (role);

CREATE TABLE caller_index (
    phone_key  TEXT NOT NULL,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    level      TEXT NOT NULL,
    extension  TEXT,
    source_id  BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX caller_index_phone_key_idx ON caller_index (phone_key);
CREATE INDEX caller_index_user_id_idx ON caller_index (user_id);

CREATE TABLE tag_index (
    owner_id BIGINT NOT NULL,
    tag      TEXT NOT NULL,
    PRIMARY KEY (owner_id, tag)
);
CREATE INDEX tag_index_tag_idx ON tag_index (tag);

CREATE TABLE custom_fields (
    id          BIGINT PRIMARY KEY,
    target      TEXT NOT NULL,
    field_key   TEXT NOT NULL,
    title       TEXT NOT NULL,
    field_type  TEXT NOT NULL,
    description TEXT,
    options     TEXT NOT NULL DEFAULT '[]',
    position    BIGINT NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX custom_fields_target_key_key ON custom_fields (target, field_key);

CREATE TABLE field_values (
    owner_id BIGINT NOT NULL,
    field_id BIGINT NOT NULL REFERENCES custom_fields (id) ON DELETE CASCADE,
    value    TEXT NOT NULL,
    PRIMARY KEY (owner_id, field_id)
);
CREATE INDEX field_values_lookup_idx ON field_values (field_id, value);

CREATE TABLE agent_groups (
    id          BIGINT PRIMARY KEY,
    name        TEXT NOT NULL,
    name_lower  TEXT NOT NULL,
    description TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX agent_groups_name_lower_key ON agent_groups (name_lower);

CREATE TABLE group_memberships (
    id         BIGINT PRIMARY KEY,
    group_id   BIGINT NOT NULL REFERENCES agent_groups (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX group_memberships_group_user_key ON group_memberships (group_id, user_id);
CREATE INDEX group_memberships_user_id_idx ON group_memberships (user_id);

CREATE TABLE tickets (
    id              BIGINT PRIMARY KEY,
    subject         TEXT NOT NULL,
    description     TEXT NOT NULL,
    status          TEXT NOT NULL,
    priority        TEXT,
    ticket_type     TEXT,
    requester_id    BIGINT NOT NULL REFERENCES users (id),
    submitter_id    BIGINT NOT NULL REFERENCES users (id),
    assignee_id     BIGINT REFERENCES users (id),
    group_id        BIGINT REFERENCES agent_groups (id),
    organization_id BIGINT REFERENCES organizations (id),
    tags            TEXT NOT NULL DEFAULT '[]',
    custom_fields   TEXT NOT NULL DEFAULT '{}',
    via             TEXT NOT NULL,
    external_id     TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX tickets_requester_idx ON tickets (requester_id, created_at);
CREATE INDEX tickets_assignee_idx ON tickets (assignee_id);
CREATE INDEX tickets_status_idx ON tickets (status);
CREATE INDEX tickets_organization_idx ON tickets (organization_id);

CREATE TABLE comments (
    id         BIGINT PRIMARY KEY,
    ticket_id  BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author_id  BIGINT NOT NULL REFERENCES users (id),
    body       TEXT NOT NULL,
    public     BOOLEAN NOT NULL,
    voice      TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX comments_ticket_idx ON comments (ticket_id, id);

CREATE TABLE calls (
    id                BIGINT PRIMARY KEY,
    direction         TEXT NOT NULL,
    state             TEXT NOT NULL,
    from_line         TEXT NOT NULL,
    to_line           TEXT NOT NULL,
    from_name         TEXT,
    to_name           TEXT,
    customer_key      TEXT,
    dnis              TEXT,
    queue_name        TEXT,
    started_at        BIGINT NOT NULL,
    answered_at       BIGINT,
    ended_at          BIGINT,
    completion_status TEXT,
    hangup_cause      TEXT,
    agent_id          BIGINT,
    end_user_id       BIGINT,
    organization_id   BIGINT,
    ticket_id         BIGINT,
    duration          BIGINT,
    time_to_answer    BIGINT,
    talk_time         BIGINT,
    hold_time         BIGINT,
    wait_time         BIGINT,
    wrap_up_time      BIGINT,
    queue_time        BIGINT,
    recording_url     TEXT,
    transcript        TEXT,
    done              BOOLEAN NOT NULL DEFAULT FALSE,
    comment           TEXT,
    details           TEXT NOT NULL DEFAULT '{}',
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX calls_started_at_idx ON calls (started_at);
CREATE INDEX calls_customer_key_idx ON calls (customer_key);
CREATE INDEX calls_ticket_idx ON calls (ticket_id);

CREATE TABLE call_refs (
    source      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    call_id     BIGINT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    PRIMARY KEY (source, external_id)
);
CREATE INDEX call_refs_call_idx ON call_refs (call_id);

CREATE TABLE call_events (
    id          BIGINT PRIMARY KEY,
    call_id     BIGINT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    source      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX call_events_call_idx ON call_events (call_id, id);

CREATE TABLE api_tokens (
    id           BIGINT PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label        TEXT,
    token_hash   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE UNIQUE INDEX api_tokens_token_hash_key ON api_tokens (token_hash);

CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Real-time messages for agent consoles. The hub delivers from here, so a reconnecting console
-- (SSE Last-Event-ID) or another node catches up by reading rows after the last id it saw.
CREATE TABLE hub_events (
    id         BIGINT PRIMARY KEY,
    kind       TEXT NOT NULL,
    -- JSON array of user ids; NULL means every agent.
    recipients TEXT,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE agent_presence (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    status     TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX calls_journal_idx ON calls (done, id);
CREATE INDEX calls_queue_idx ON calls (queue_name, id);
