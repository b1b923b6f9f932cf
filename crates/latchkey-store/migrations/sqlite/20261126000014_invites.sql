-- Member invitations from the web UI (sqlite). Twin of the other backend's 20261126000014_invites.sql.
-- A one-time link lets an invited member choose their own password; only its hash is stored.
CREATE TABLE invites (
    token_hash    TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    FOREIGN KEY (workspace_id, user_id) REFERENCES members (workspace_id, user_id) ON DELETE CASCADE
);
CREATE INDEX invites_expires_at ON invites (expires_at);
