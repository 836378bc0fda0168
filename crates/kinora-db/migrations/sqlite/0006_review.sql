-- Findings of the security review: fair job claims per account, token expiry
-- for API tokens, indexes for retention sweeps.
ALTER TABLE jobs ADD COLUMN account_id TEXT;
ALTER TABLE jobs ADD COLUMN claimed_at INTEGER;
CREATE INDEX jobs_account ON jobs(account_id, claimed_at);
CREATE INDEX jobs_finished ON jobs(status, updated_at);
CREATE INDEX view_events_created ON view_events(created_at);
CREATE INDEX tokens_expires ON tokens(expires_at);
