-- For You learns from what people do: impressions (videos served in a page),
-- "not interested" marks, replays; and a person can switch profiling off.
ALTER TABLE accounts ADD COLUMN personalized_feed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE view_events ADD COLUMN replays INTEGER NOT NULL DEFAULT 0;
CREATE TABLE not_interested (
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    video_id    TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, video_id)
);
CREATE INDEX not_interested_time ON not_interested(created_at);
CREATE TABLE feed_impressions (
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    video_id    TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL
);
CREATE INDEX feed_impressions_time ON feed_impressions(created_at);
CREATE INDEX feed_impressions_account ON feed_impressions(account_id, created_at);
CREATE INDEX view_events_time ON view_events(created_at);
-- The recommender polls every table it learns from by time.
CREATE INDEX likes_time ON likes(created_at);
CREATE INDEX comments_time ON comments(created_at);
CREATE INDEX follows_time ON follows(created_at);
