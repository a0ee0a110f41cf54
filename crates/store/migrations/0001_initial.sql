-- Switchboard's schema. One text for SQLite and PostgreSQL: ids are UUID strings, times are
-- milliseconds since the epoch (BIGINT), snapshots and event bodies are JSON text.

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Assets, queues, idle codes, wrap-up reasons, templates: one row each, body as JSON.
CREATE TABLE catalog (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    deleted_at BIGINT,
    PRIMARY KEY (kind, id)
);
CREATE UNIQUE INDEX catalog_live_name ON catalog (kind, name) WHERE deleted_at IS NULL;

CREATE TABLE queue_agents (
    queue_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    PRIMARY KEY (queue_id, agent_id)
);
CREATE INDEX queue_agents_agent ON queue_agents (agent_id);

-- An agent's account and its live snapshot. `version` guards every write (optimistic
-- concurrency); the columns after it are copies of the snapshot for routing queries.
CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    version BIGINT NOT NULL,
    state TEXT NOT NULL,
    presence TEXT NOT NULL,
    connected BIGINT NOT NULL,
    has_offer BIGINT NOT NULL,
    load BIGINT NOT NULL,
    capacity BIGINT NOT NULL,
    open_chats BIGINT NOT NULL,
    free_since BIGINT NOT NULL,
    deadline_at BIGINT
);
CREATE INDEX agents_deadline ON agents (deadline_at);

CREATE TABLE agent_events (
    agent_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (agent_id, seq)
);

-- A conversation's snapshot; `head_seq` is its version and the last event's number.
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    asset_id TEXT NOT NULL,
    queue_id TEXT NOT NULL,
    status TEXT NOT NULL,
    head_seq BIGINT NOT NULL,
    state TEXT NOT NULL,
    priority BIGINT NOT NULL,
    front_at BIGINT NOT NULL,
    arrived_at BIGINT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    identity TEXT,
    deadline_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX conversations_line ON conversations (queue_id, status, priority, front_at);
CREATE INDEX conversations_deadline ON conversations (deadline_at);
CREATE INDEX conversations_asset ON conversations (asset_id, status);
CREATE INDEX conversations_identity ON conversations (identity, arrived_at);

CREATE TABLE events (
    conversation_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

-- Idempotency: a command id is kept per sender with its first answer.
CREATE TABLE commands (
    scope TEXT NOT NULL,
    client_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (scope, client_id)
);
CREATE INDEX commands_at ON commands (at);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_agent ON sessions (agent_id);

-- Which node holds which agent connection, so a crashed node's connections can be closed.
CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    heartbeat_at BIGINT NOT NULL
);
CREATE TABLE connections (
    id TEXT PRIMARY KEY,
    node_id TEXT NOT NULL,
    agent_id TEXT,
    conversation_id TEXT,
    opened_at BIGINT NOT NULL
);
CREATE INDEX connections_node ON connections (node_id);
