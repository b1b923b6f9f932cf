-- Connect: projects, their end users and connect tokens (SQLite). Twin of
-- migrations/postgres/20261126000009_connect.sql: change both.

-- A product's integration with Latchkey; its accounts live apart from the workspace's own.
CREATE TABLE projects (
    id                 TEXT PRIMARY KEY,
    workspace_id       TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    support_email      TEXT,
    created_at         INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);

-- The product's end users, per project and environment (development and production never mix).
CREATE TABLE external_users (
    id           TEXT PRIMARY KEY,
    project_id   TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment  TEXT NOT NULL CHECK (environment IN ('development', 'production')),
    external_id  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (project_id, environment, external_id)
);
CREATE INDEX external_users_listing ON external_users (project_id, environment, created_at DESC, id DESC);

-- Connect tokens: only the hash of the bearer token is stored. `settings` is the JSON of what
-- the token was created with (origins, redirect and webhook URIs, scopes, app restrictions).
CREATE TABLE connect_tokens (
    token_hash    TEXT PRIMARY KEY,
    project_id    TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    environment   TEXT NOT NULL CHECK (environment IN ('development', 'production')),
    external_id   TEXT NOT NULL,
    settings      TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER
);
CREATE INDEX connect_tokens_expires_at ON connect_tokens (expires_at);

-- Connect accounts belong to an end user of a project; workspace accounts have these NULL.
ALTER TABLE accounts ADD COLUMN project_id TEXT REFERENCES projects (id) ON DELETE CASCADE;
ALTER TABLE accounts ADD COLUMN environment TEXT;
ALTER TABLE accounts ADD COLUMN external_user_id TEXT REFERENCES external_users (id) ON DELETE CASCADE;
ALTER TABLE accounts ADD COLUMN external_id TEXT;
CREATE INDEX accounts_connect ON accounts (project_id, environment, created_at DESC, id DESC);
CREATE INDEX accounts_external_user ON accounts (external_user_id);
