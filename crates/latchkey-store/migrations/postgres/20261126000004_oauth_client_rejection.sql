-- A workspace OAuth client the provider rejected (invalid_client), until an admin changes it
-- or it works again (PostgreSQL). Twin of migrations/sqlite/20261126000004_oauth_client_rejection.sql.
ALTER TABLE oauth_clients ADD COLUMN rejected_at BIGINT;
ALTER TABLE oauth_clients ADD COLUMN rejected_error TEXT;
