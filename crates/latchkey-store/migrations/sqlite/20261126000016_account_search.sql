-- Indexes for account search and filters (sqlite). Twin of the other backend's
-- 20261126000016_account_search.sql.
-- A search matches the nickname (substring), the app slug or the owner's email: with a
-- million accounts a scan takes over a second. The nickname gets an FTS5 trigram index (an
-- external-content table over `accounts`, kept by triggers), which serves substrings of three
-- characters or more; the app and the owner get B-tree indexes the search's other two
-- branches (and the app filter) use.
CREATE INDEX accounts_workspace_app ON accounts (workspace_id, app_slug, created_at DESC, id DESC);
CREATE INDEX accounts_workspace_owner ON accounts (workspace_id, owner_id);

CREATE VIRTUAL TABLE accounts_name_search USING fts5(
    name, content = 'accounts', content_rowid = 'rowid', tokenize = 'trigram case_sensitive 0'
);
INSERT INTO accounts_name_search (rowid, name) SELECT rowid, name FROM accounts;

CREATE TRIGGER accounts_name_search_insert AFTER INSERT ON accounts BEGIN
    INSERT INTO accounts_name_search (rowid, name) VALUES (NEW.rowid, NEW.name);
END;
CREATE TRIGGER accounts_name_search_delete AFTER DELETE ON accounts BEGIN
    INSERT INTO accounts_name_search (accounts_name_search, rowid, name) VALUES ('delete', OLD.rowid, OLD.name);
END;
CREATE TRIGGER accounts_name_search_update AFTER UPDATE OF name ON accounts BEGIN
    INSERT INTO accounts_name_search (accounts_name_search, rowid, name) VALUES ('delete', OLD.rowid, OLD.name);
    INSERT INTO accounts_name_search (rowid, name) VALUES (NEW.rowid, NEW.name);
END;
