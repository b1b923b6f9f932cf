-- Workflows, their steps, which accounts the steps use, and runs (SQLite).
-- Twin of migrations/postgres/20261126000007_workflows.sql.
CREATE TABLE workflows (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    builder       TEXT NOT NULL CHECK (builder IN ('v1', 'v2')),
    created_by    TEXT NOT NULL,
    -- SHA-256 of the secret that authenticates POST /hooks/{id} (shown once).
    hook_secret_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX workflows_workspace ON workflows (workspace_id, created_at);
CREATE TABLE steps (
    id            TEXT PRIMARY KEY,
    workflow_id   TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    workspace_id  TEXT NOT NULL,
    position      INTEGER NOT NULL,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('http', 'code')),
    props         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (workflow_id, name)
);
CREATE INDEX steps_workflow ON steps (workflow_id, position);
-- An app prop of a step bound to an account; deleting the account unbinds it.
CREATE TABLE step_accounts (
    step_id       TEXT NOT NULL REFERENCES steps (id) ON DELETE CASCADE,
    prop          TEXT NOT NULL,
    workflow_id   TEXT NOT NULL,
    workspace_id  TEXT NOT NULL,
    account_id    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (step_id, prop)
);
CREATE INDEX step_accounts_account ON step_accounts (account_id);
CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    workflow_id   TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    workspace_id  TEXT NOT NULL,
    step_id       TEXT,
    started_by    TEXT NOT NULL,
    status        TEXT NOT NULL,
    exports       TEXT NOT NULL,
    logs          TEXT NOT NULL,
    error         TEXT,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER NOT NULL
);
CREATE INDEX runs_workflow ON runs (workflow_id, started_at);
