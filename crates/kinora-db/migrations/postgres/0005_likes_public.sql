-- Whether an account's liked videos are visible on its profile.
ALTER TABLE accounts ADD COLUMN likes_public BIGINT NOT NULL DEFAULT 0;
