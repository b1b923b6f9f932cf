-- Workspace environment variables (SQLite): named values for code and HTTP steps, sealed like
-- credentials; `secret` ones are write-only. Twin of migrations/postgres/20261126000008_env_vars.sql.
CREATE TABLE env_vars (
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    value_ciphertext  BLOB NOT NULL,
    key_id            INTEGER NOT NULL REFERENCES data_keys (id),
    secret            INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, name)
);
