-- Connect OAuth flows (postgres). Twin of the other backend's 20261126000011_connect_flows.sql.
-- A flow started from the hosted connect page names the connect token it will spend (its hash;
-- the token's project, environment and end user come from the token's row). NULL for members'
-- flows.
ALTER TABLE oauth_flows ADD COLUMN connect_token_hash TEXT;
