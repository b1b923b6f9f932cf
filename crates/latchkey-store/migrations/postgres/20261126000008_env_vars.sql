-- Workspace environment variables (PostgreSQL): named values for code and HTTP steps, sealed like
-- credentials; `secret` ones are write-only. Twin of migrations/sqlite/20261126000008_env_vars.sql.
CREATE TABLE env_vars (
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    value_ciphertext  BYTEA NOT NULL,
    key_id            BIGINT NOT NULL REFERENCES data_keys (id),
    secret            BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, name)
);
