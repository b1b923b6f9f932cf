-- Initial schema (PostgreSQL). Twin of migrations/sqlite/20261126000001_initial.sql: change both.
-- Times are Unix milliseconds. Secrets are only ever stored as *_ciphertext (AES-256-GCM
-- envelopes) or *_hash columns; there is no plaintext secret column.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE data_keys (
    id            BIGINT PRIMARY KEY,
    wrapped_key   BYTEA NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    password_hash  TEXT,
    created_at     BIGINT NOT NULL
);

CREATE TABLE members (
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    FOREIGN KEY (workspace_id, user_id) REFERENCES members (workspace_id, user_id) ON DELETE CASCADE
);

CREATE TABLE api_clients (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);

CREATE TABLE access_tokens (
    token_hash    TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL REFERENCES api_clients (id) ON DELETE CASCADE,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    scopes        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);

CREATE TABLE custom_apps (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name_slug     TEXT NOT NULL,
    definition    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (workspace_id, name_slug)
);

CREATE TABLE app_requests (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    requested_by  TEXT NOT NULL,
    name          TEXT NOT NULL,
    url           TEXT,
    note          TEXT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE accounts (
    id                      TEXT PRIMARY KEY,
    workspace_id            TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    app_slug                TEXT NOT NULL,
    name                    TEXT NOT NULL,
    owner_id                TEXT,
    sharing                 TEXT NOT NULL DEFAULT 'private' CHECK (sharing IN ('private', 'workspace', 'members')),
    credentials_ciphertext  BYTEA NOT NULL,
    key_id                  BIGINT NOT NULL REFERENCES data_keys (id),
    healthy                 SMALLINT NOT NULL DEFAULT 1 CHECK (healthy IN (0, 1)),
    dead                    SMALLINT NOT NULL DEFAULT 0 CHECK (dead IN (0, 1)),
    error                   TEXT,
    authorized_scopes       TEXT NOT NULL DEFAULT '',
    expires_at              BIGINT,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL,
    version                 BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX accounts_workspace_created ON accounts (workspace_id, created_at DESC, id DESC);
CREATE INDEX accounts_key_id ON accounts (key_id);
