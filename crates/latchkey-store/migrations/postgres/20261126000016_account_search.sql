-- Indexes for account search and filters (postgres). Twin of the other backend's
-- 20261126000016_account_search.sql.
-- A search matches the nickname (substring), the app slug or the owner's email: with a
-- million accounts a scan takes over a second. The nickname gets a trigram index (pg_trgm,
-- which serves LIKE '%…%'); the app and the owner get B-tree indexes the search's other two
-- branches (and the app filter) use. Without pg_trgm (a server that refuses the extension)
-- the migration still succeeds and nickname search scans.
CREATE INDEX accounts_workspace_app ON accounts (workspace_id, app_slug, created_at DESC, id DESC);
CREATE INDEX accounts_workspace_owner ON accounts (workspace_id, owner_id);

DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXECUTE 'CREATE INDEX accounts_name_trgm ON accounts USING gin (LOWER(name) gin_trgm_ops)';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): account search by nickname will scan', SQLERRM;
END;
$$;
