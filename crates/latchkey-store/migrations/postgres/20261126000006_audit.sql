-- The audit log (PostgreSQL): who did what with which account, when, with what outcome — never a
-- credential value. One chain for the whole install: `mac` is an HMAC over the previous
-- event's MAC and this event's fields, so edits and deletions are detectable
-- (`latchkey audit verify`). `audit_head` holds the chain's end; appending locks it.
-- Twin of migrations/sqlite/20261126000006_audit.sql.
CREATE TABLE audit_events (
    seq           BIGINT PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    workspace_id  TEXT NOT NULL,
    at            BIGINT NOT NULL,
    actor_type    TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    action        TEXT NOT NULL,
    account_id    TEXT,
    outcome       TEXT NOT NULL,
    detail        TEXT,
    mac           BYTEA NOT NULL
);
CREATE INDEX audit_events_workspace ON audit_events (workspace_id, seq);
CREATE INDEX audit_events_account ON audit_events (account_id, seq);
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   BIGINT NOT NULL,
    mac   BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, mac) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
