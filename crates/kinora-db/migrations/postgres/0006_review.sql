-- Findings of the security review: fair job claims per account, token expiry
-- for API tokens, indexes for retention sweeps.
ALTER TABLE jobs ADD COLUMN account_id TEXT;
ALTER TABLE jobs ADD COLUMN claimed_at BIGINT;
CREATE INDEX jobs_account ON jobs(account_id, claimed_at);
CREATE INDEX jobs_finished ON jobs(status, updated_at);
CREATE INDEX view_events_created ON view_events(created_at);
CREATE INDEX tokens_expires ON tokens(expires_at);
-- API tokens used to live forever: they now expire 90 days after they were issued.
UPDATE tokens SET expires_at = created_at + 7776000000 WHERE expires_at IS NULL;
