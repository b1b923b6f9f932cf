-- Members an account is shared with when its sharing mode is 'members' (PostgreSQL).
-- Twin of migrations/sqlite/20261126000005_account_shares.sql.
CREATE TABLE account_shares (
    account_id    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (account_id, user_id),
    -- A member who leaves the workspace loses every share at once.
    FOREIGN KEY (workspace_id, user_id) REFERENCES members (workspace_id, user_id) ON DELETE CASCADE
);
CREATE INDEX account_shares_user ON account_shares (user_id, account_id);
