-- A workspace OAuth client the provider rejected (invalid_client), until an admin changes it
-- or it works again (SQLite). Twin of migrations/postgres/20261126000004_oauth_client_rejection.sql.
ALTER TABLE oauth_clients ADD COLUMN rejected_at INTEGER;
ALTER TABLE oauth_clients ADD COLUMN rejected_error TEXT;
