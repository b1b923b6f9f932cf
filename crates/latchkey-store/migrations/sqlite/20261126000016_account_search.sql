-- Indexes for account search and filters (sqlite). Twin of the other backend's
-- 20261126000016_account_search.sql.
-- A search matches the nickname (substring), the app slug or the owner's email. The app and
-- the owner get B-tree indexes the search's other two branches (and the app filter) use. The
-- nickname has no index here: an FTS5 trigram table kept by triggers made concurrent writers
-- fail with "database is locked" instead of waiting their turn (see the conformance test
-- `concurrent_inserts_all_land`), so a nickname search scans the workspace's names.
CREATE INDEX accounts_workspace_app ON accounts (workspace_id, app_slug, created_at DESC, id DESC);
CREATE INDEX accounts_workspace_owner ON accounts (workspace_id, owner_id);
