-- Workspace account counts kept by triggers (postgres). Twin of the other backend's
-- 20261126000015_account_tallies.sql.
-- A listing's total_count was a COUNT(*) over the workspace's accounts on every page: 150 ms
-- and more with a million accounts. One row per (workspace, app, owner, sharing) holds how
-- many workspace accounts (not Connect ones) fall in it, kept exact in the same transaction
-- as every insert, delete and change, so a listing sums a handful of rows instead.
CREATE TABLE account_tallies (
    workspace_id  TEXT NOT NULL,
    app_slug      TEXT NOT NULL,
    owner_id      TEXT NOT NULL,      -- '' for legacy accounts (no owner)
    sharing       TEXT NOT NULL,
    n             BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, app_slug, owner_id, sharing)
);

INSERT INTO account_tallies (workspace_id, app_slug, owner_id, sharing, n)
SELECT workspace_id, app_slug, COALESCE(owner_id, ''), sharing, COUNT(*)
FROM accounts WHERE project_id IS NULL
GROUP BY workspace_id, app_slug, COALESCE(owner_id, ''), sharing;

CREATE FUNCTION account_tallies_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.project_id IS NULL THEN
        UPDATE account_tallies SET n = n - 1
        WHERE workspace_id = OLD.workspace_id AND app_slug = OLD.app_slug
          AND owner_id = COALESCE(OLD.owner_id, '') AND sharing = OLD.sharing;
        DELETE FROM account_tallies
        WHERE workspace_id = OLD.workspace_id AND app_slug = OLD.app_slug
          AND owner_id = COALESCE(OLD.owner_id, '') AND sharing = OLD.sharing AND n <= 0;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.project_id IS NULL THEN
        INSERT INTO account_tallies (workspace_id, app_slug, owner_id, sharing, n)
        VALUES (NEW.workspace_id, NEW.app_slug, COALESCE(NEW.owner_id, ''), NEW.sharing, 1)
        ON CONFLICT (workspace_id, app_slug, owner_id, sharing) DO UPDATE SET n = account_tallies.n + 1;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER account_tallies_insert_delete AFTER INSERT OR DELETE ON accounts
FOR EACH ROW EXECUTE FUNCTION account_tallies_apply();

CREATE TRIGGER account_tallies_update AFTER UPDATE OF workspace_id, app_slug, owner_id, sharing, project_id ON accounts
FOR EACH ROW
WHEN (OLD.workspace_id IS DISTINCT FROM NEW.workspace_id OR OLD.app_slug IS DISTINCT FROM NEW.app_slug
      OR OLD.owner_id IS DISTINCT FROM NEW.owner_id OR OLD.sharing IS DISTINCT FROM NEW.sharing
      OR OLD.project_id IS DISTINCT FROM NEW.project_id)
EXECUTE FUNCTION account_tallies_apply();
