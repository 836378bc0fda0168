-- The social layer: privacy, follows requests, likes, comments, hashtags, blocks,
-- mutes, notifications, reports, view events, full-text search.
ALTER TABLE accounts ADD COLUMN private BIGINT NOT NULL DEFAULT 0;
ALTER TABLE videos ADD COLUMN comments_setting TEXT NOT NULL DEFAULT 'everyone';
ALTER TABLE videos ADD COLUMN shares BIGINT NOT NULL DEFAULT 0;

CREATE TABLE likes (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    video_id   TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, video_id)
);
CREATE INDEX likes_video ON likes(video_id, created_at);

CREATE TABLE comments (
    id         TEXT PRIMARY KEY,
    video_id   TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    reply_to   TEXT,
    body       TEXT NOT NULL,
    likes      BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX comments_video ON comments(video_id, created_at);

CREATE TABLE comment_likes (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    comment_id TEXT NOT NULL REFERENCES comments(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, comment_id)
);

CREATE TABLE video_tags (
    video_id   TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (video_id, tag)
);
CREATE INDEX video_tags_tag ON video_tags(tag, created_at);

CREATE TABLE tag_follows (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, tag)
);

CREATE TABLE blocks (
    blocker_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    blocked_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked ON blocks(blocked_id);

CREATE TABLE mutes (
    muter_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    muted_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (muter_id, muted_id)
);

CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    actor_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    video_id   TEXT,
    comment_id TEXT,
    created_at BIGINT NOT NULL,
    read_at    BIGINT
);
CREATE INDEX notifications_account ON notifications(account_id, created_at);

CREATE TABLE reports (
    id          TEXT PRIMARY KEY,
    reporter_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    video_id    TEXT,
    comment_id  TEXT,
    account_id  TEXT,
    reason      TEXT NOT NULL,
    details     TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX reports_status ON reports(status, created_at);

CREATE TABLE view_events (
    id         TEXT PRIMARY KEY,
    video_id   TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    viewer_id  TEXT,
    watched_ms BIGINT NOT NULL,
    completed  BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX view_events_video ON view_events(video_id);

-- Full-text search: generated tsvector columns with GIN indexes ('simple' config:
-- no stemming, so results do not depend on a language guess).
ALTER TABLE videos ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('simple', caption)) STORED;
CREATE INDEX videos_search ON videos USING GIN (search);
ALTER TABLE accounts ADD COLUMN search tsvector GENERATED ALWAYS AS
  (to_tsvector('simple', username || ' ' || display_name || ' ' || bio)) STORED;
CREATE INDEX accounts_search ON accounts USING GIN (search);
