-- Workspace account counts kept by triggers (sqlite; row-level: SQLite updates a row in
-- place, so a bulk insert touching one tally row a million times stays linear). Twin of the other backend's
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
    n             INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, app_slug, owner_id, sharing)
);

INSERT INTO account_tallies (workspace_id, app_slug, owner_id, sharing, n)
SELECT workspace_id, app_slug, COALESCE(owner_id, ''), sharing, COUNT(*)
FROM accounts WHERE project_id IS NULL
GROUP BY workspace_id, app_slug, COALESCE(owner_id, ''), sharing;

CREATE TRIGGER account_tallies_insert AFTER INSERT ON accounts
WHEN NEW.project_id IS NULL
BEGIN
    INSERT INTO account_tallies (workspace_id, app_slug, owner_id, sharing, n)
    VALUES (NEW.workspace_id, NEW.app_slug, COALESCE(NEW.owner_id, ''), NEW.sharing, 1)
    ON CONFLICT (workspace_id, app_slug, owner_id, sharing) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER account_tallies_delete AFTER DELETE ON accounts
WHEN OLD.project_id IS NULL
BEGIN
    UPDATE account_tallies SET n = n - 1
    WHERE workspace_id = OLD.workspace_id AND app_slug = OLD.app_slug
      AND owner_id = COALESCE(OLD.owner_id, '') AND sharing = OLD.sharing;
    DELETE FROM account_tallies
    WHERE workspace_id = OLD.workspace_id AND app_slug = OLD.app_slug
      AND owner_id = COALESCE(OLD.owner_id, '') AND sharing = OLD.sharing AND n <= 0;
END;

-- Only when owner, sharing or app really change (a refresh rewrites credentials, not these).
CREATE TRIGGER account_tallies_update AFTER UPDATE OF workspace_id, app_slug, owner_id, sharing, project_id ON accounts
WHEN OLD.workspace_id IS NOT NEW.workspace_id OR OLD.app_slug IS NOT NEW.app_slug
  OR OLD.owner_id IS NOT NEW.owner_id OR OLD.sharing IS NOT NEW.sharing
  OR OLD.project_id IS NOT NEW.project_id
BEGIN
    UPDATE account_tallies SET n = n - 1
    WHERE OLD.project_id IS NULL AND workspace_id = OLD.workspace_id AND app_slug = OLD.app_slug
      AND owner_id = COALESCE(OLD.owner_id, '') AND sharing = OLD.sharing;
    DELETE FROM account_tallies
    WHERE OLD.project_id IS NULL AND workspace_id = OLD.workspace_id AND app_slug = OLD.app_slug
      AND owner_id = COALESCE(OLD.owner_id, '') AND sharing = OLD.sharing AND n <= 0;
    INSERT INTO account_tallies (workspace_id, app_slug, owner_id, sharing, n)
    SELECT NEW.workspace_id, NEW.app_slug, COALESCE(NEW.owner_id, ''), NEW.sharing, 1
    WHERE NEW.project_id IS NULL
    ON CONFLICT (workspace_id, app_slug, owner_id, sharing) DO UPDATE SET n = n + 1;
END;
