-- Outgoing webhooks (SQLite). Twin of migrations/postgres/20261126000010_webhooks.sql.

-- Per workspace: the signing secret (sealed) and where account health changes go, if anywhere.
CREATE TABLE webhook_settings (
    workspace_id       TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    secret_ciphertext  BLOB NOT NULL,
    key_id             INTEGER NOT NULL REFERENCES data_keys (id),
    health_url         TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

-- One row per event to deliver; the row is the delivery log. Payloads never hold credentials.
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url              TEXT NOT NULL,
    event            TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    last_status      INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    delivered_at     INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_workspace ON webhook_deliveries (workspace_id, created_at DESC, id DESC);
