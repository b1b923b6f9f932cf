-- App overrides (postgres). Twin of the other backend's 20261126000012_app_overrides.sql.
-- A project's preset for connecting an app: an OAuth client and non-sensitive field values
-- (password fields cannot be preset, so nothing here is secret).
CREATE TABLE app_overrides (
    id            TEXT PRIMARY KEY,
    project_id    TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    app_slug      TEXT NOT NULL,
    oauth_app_id  TEXT,
    cfmap         TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (project_id, name)
);
