-- OAuth accounts and connect flows (SQLite). Twin of migrations/postgres/20261126000002_oauth.sql.

-- Which OAuth client an account was connected with: 'default' (the operator's) or an 'oa_…' id.
ALTER TABLE accounts ADD COLUMN oauth_client TEXT;
ALTER TABLE accounts ADD COLUMN last_refreshed_at INTEGER;
ALTER TABLE accounts ADD COLUMN next_refresh_at INTEGER;
ALTER TABLE accounts ADD COLUMN refresh_failures INTEGER NOT NULL DEFAULT 0;
-- A refresh lease: who is refreshing, until when. Taken with a conditional UPDATE, so exactly one
-- process refreshes an account at a time, without holding a connection during the HTTP call.
ALTER TABLE accounts ADD COLUMN refresh_lease TEXT;
ALTER TABLE accounts ADD COLUMN refresh_lease_until INTEGER;
CREATE INDEX accounts_next_refresh_at ON accounts (next_refresh_at);

-- A started OAuth connect flow. Only hashes of the handle and the state are stored; the PKCE
-- verifier is sealed like a credential.
CREATE TABLE oauth_flows (
    id                    TEXT PRIMARY KEY,
    handle_hash           TEXT NOT NULL UNIQUE,
    state_hash            TEXT NOT NULL UNIQUE,
    workspace_id          TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id               TEXT NOT NULL,
    app_slug              TEXT NOT NULL,
    account_id            TEXT,
    oauth_client          TEXT NOT NULL,
    redirect_uri          TEXT NOT NULL,
    scopes                TEXT NOT NULL,
    verifier_ciphertext   BLOB NOT NULL,
    browser_hash          TEXT,
    created_at            INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    used_at               INTEGER
);
CREATE INDEX oauth_flows_expires_at ON oauth_flows (expires_at);

-- Health changes of accounts, for webhooks and the audit trail.
CREATE TABLE account_events (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    account_id    TEXT NOT NULL,
    kind          TEXT NOT NULL,
    detail        TEXT,
    created_at    INTEGER NOT NULL
);
CREATE INDEX account_events_account ON account_events (workspace_id, account_id, created_at);
