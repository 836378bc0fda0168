-- The social layer: privacy, follows requests, likes, comments, hashtags, blocks,
-- mutes, notifications, reports, view events, full-text search.
ALTER TABLE accounts ADD COLUMN private INTEGER NOT NULL DEFAULT 0;
ALTER TABLE videos ADD COLUMN comments_setting TEXT NOT NULL DEFAULT 'everyone';
ALTER TABLE videos ADD COLUMN shares INTEGER NOT NULL DEFAULT 0;

CREATE TABLE likes (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    video_id   TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, video_id)
);
CREATE INDEX likes_video ON likes(video_id, created_at);

CREATE TABLE comments (
    id         TEXT PRIMARY KEY,
    video_id   TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    reply_to   TEXT,
    body       TEXT NOT NULL,
    likes      INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    deleted_at INTEGER
);
CREATE INDEX comments_video ON comments(video_id, created_at);

CREATE TABLE comment_likes (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    comment_id TEXT NOT NULL REFERENCES comments(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, comment_id)
);

CREATE TABLE video_tags (
    video_id   TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (video_id, tag)
);
CREATE INDEX video_tags_tag ON video_tags(tag, created_at);

CREATE TABLE tag_follows (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, tag)
);

CREATE TABLE blocks (
    blocker_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    blocked_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked ON blocks(blocked_id);

CREATE TABLE mutes (
    muter_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    muted_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (muter_id, muted_id)
);

CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    actor_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    video_id   TEXT,
    comment_id TEXT,
    created_at INTEGER NOT NULL,
    read_at    INTEGER
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
    created_at  INTEGER NOT NULL
);
CREATE INDEX reports_status ON reports(status, created_at);

CREATE TABLE view_events (
    id         TEXT PRIMARY KEY,
    video_id   TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    viewer_id  TEXT,
    watched_ms INTEGER NOT NULL,
    completed  INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX view_events_video ON view_events(video_id);

-- Full-text search (FTS5, external content kept in step by triggers).
CREATE VIRTUAL TABLE videos_fts USING fts5(caption, content='videos', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER videos_fts_ai AFTER INSERT ON videos BEGIN
  INSERT INTO videos_fts(rowid, caption) VALUES (new.rowid, new.caption);
END;
CREATE TRIGGER videos_fts_ad AFTER DELETE ON videos BEGIN
  INSERT INTO videos_fts(videos_fts, rowid, caption) VALUES ('delete', old.rowid, old.caption);
END;
CREATE TRIGGER videos_fts_au AFTER UPDATE OF caption ON videos BEGIN
  INSERT INTO videos_fts(videos_fts, rowid, caption) VALUES ('delete', old.rowid, old.caption);
  INSERT INTO videos_fts(rowid, caption) VALUES (new.rowid, new.caption);
END;
INSERT INTO videos_fts(videos_fts) VALUES ('rebuild');

CREATE VIRTUAL TABLE accounts_fts USING fts5(username, display_name, bio, content='accounts', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER accounts_fts_ai AFTER INSERT ON accounts BEGIN
  INSERT INTO accounts_fts(rowid, username, display_name, bio) VALUES (new.rowid, new.username, new.display_name, new.bio);
END;
CREATE TRIGGER accounts_fts_ad AFTER DELETE ON accounts BEGIN
  INSERT INTO accounts_fts(accounts_fts, rowid, username, display_name, bio) VALUES ('delete', old.rowid, old.username, old.display_name, old.bio);
END;
CREATE TRIGGER accounts_fts_au AFTER UPDATE OF username, display_name, bio ON accounts BEGIN
  INSERT INTO accounts_fts(accounts_fts, rowid, username, display_name, bio) VALUES ('delete', old.rowid, old.username, old.display_name, old.bio);
  INSERT INTO accounts_fts(rowid, username, display_name, bio) VALUES (new.rowid, new.username, new.display_name, new.bio);
END;
INSERT INTO accounts_fts(accounts_fts) VALUES ('rebuild');
