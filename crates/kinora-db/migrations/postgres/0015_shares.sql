-- Who shared what (signed-in viewers only), so For You learns from shares like
-- from likes; the count on the video stays as it was.
CREATE TABLE video_shares (
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    video_id    TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL
);
CREATE INDEX video_shares_time ON video_shares(created_at);
