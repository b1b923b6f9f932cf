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

-- Inserts and deletes: statement-level triggers with transition tables, one aggregated change
-- per statement and tally row. A row-level trigger would update the same tally row once per
-- account, which inside one transaction (a bulk import) leaves a chain of row versions that
-- every later update walks: quadratic.
CREATE FUNCTION account_tallies_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO account_tallies (workspace_id, app_slug, owner_id, sharing, n)
    SELECT workspace_id, app_slug, COALESCE(owner_id, ''), sharing, COUNT(*)
    FROM new_rows WHERE project_id IS NULL
    GROUP BY workspace_id, app_slug, COALESCE(owner_id, ''), sharing
    ON CONFLICT (workspace_id, app_slug, owner_id, sharing) DO UPDATE SET n = account_tallies.n + EXCLUDED.n;
    RETURN NULL;
END;
$$;

CREATE FUNCTION account_tallies_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_tallies t SET n = t.n - o.c
    FROM (SELECT workspace_id, app_slug, COALESCE(owner_id, '') AS owner_id, sharing, COUNT(*) AS c
          FROM old_rows WHERE project_id IS NULL
          GROUP BY workspace_id, app_slug, COALESCE(owner_id, ''), sharing) o
    WHERE t.workspace_id = o.workspace_id AND t.app_slug = o.app_slug
      AND t.owner_id = o.owner_id AND t.sharing = o.sharing;
    DELETE FROM account_tallies t
    USING (SELECT DISTINCT workspace_id FROM old_rows) o
    WHERE t.workspace_id = o.workspace_id AND t.n <= 0;
    RETURN NULL;
END;
$$;

CREATE TRIGGER account_tallies_insert AFTER INSERT ON accounts
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION account_tallies_added();

CREATE TRIGGER account_tallies_delete AFTER DELETE ON accounts
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION account_tallies_removed();

-- Changes of owner, sharing or app are rare and one row at a time: a row-level trigger that
-- fires only when one of them really changes (a refresh, which rewrites credentials on every
-- renewal, never touches a tally row).
CREATE FUNCTION account_tallies_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.project_id IS NULL THEN
        UPDATE account_tallies SET n = n - 1
        WHERE workspace_id = OLD.workspace_id AND app_slug = OLD.app_slug
          AND owner_id = COALESCE(OLD.owner_id, '') AND sharing = OLD.sharing;
        DELETE FROM account_tallies
        WHERE workspace_id = OLD.workspace_id AND app_slug = OLD.app_slug
          AND owner_id = COALESCE(OLD.owner_id, '') AND sharing = OLD.sharing AND n <= 0;
    END IF;
    IF NEW.project_id IS NULL THEN
        INSERT INTO account_tallies (workspace_id, app_slug, owner_id, sharing, n)
        VALUES (NEW.workspace_id, NEW.app_slug, COALESCE(NEW.owner_id, ''), NEW.sharing, 1)
        ON CONFLICT (workspace_id, app_slug, owner_id, sharing) DO UPDATE SET n = account_tallies.n + 1;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER account_tallies_update AFTER UPDATE OF workspace_id, app_slug, owner_id, sharing, project_id ON accounts
FOR EACH ROW
WHEN (OLD.workspace_id IS DISTINCT FROM NEW.workspace_id OR OLD.app_slug IS DISTINCT FROM NEW.app_slug
      OR OLD.owner_id IS DISTINCT FROM NEW.owner_id OR OLD.sharing IS DISTINCT FROM NEW.sharing
      OR OLD.project_id IS DISTINCT FROM NEW.project_id)
EXECUTE FUNCTION account_tallies_moved();
