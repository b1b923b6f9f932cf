-- Workspaces' own OAuth clients (SQLite). Twin of migrations/postgres/20261126000003_oauth_clients.sql.
CREATE TABLE oauth_clients (
    id                        TEXT PRIMARY KEY,
    workspace_id              TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    app_slug                  TEXT NOT NULL,
    name                      TEXT NOT NULL,
    client_id                 TEXT NOT NULL,
    client_secret_ciphertext  BLOB NOT NULL,
    key_id                    INTEGER NOT NULL REFERENCES data_keys (id),
    scopes                    TEXT,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
);
CREATE INDEX oauth_clients_workspace ON oauth_clients (workspace_id, app_slug);
