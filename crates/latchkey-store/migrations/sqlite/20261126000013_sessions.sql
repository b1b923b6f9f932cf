-- Web UI sessions (sqlite). Twin of the other backend's 20261126000013_sessions.sql.
-- Only hashes: of the session cookie's value and of the session's CSRF token.
CREATE TABLE sessions (
    id_hash       TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    csrf_hash     TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    FOREIGN KEY (workspace_id, user_id) REFERENCES members (workspace_id, user_id) ON DELETE CASCADE
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
