-- Kinora core schema (SQLite). Times are milliseconds since the Unix epoch.
CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    email         TEXT,
    password_hash TEXT NOT NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    bio           TEXT NOT NULL DEFAULT '',
    region        TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE tokens (
    hash        TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    csrf        TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER
);
CREATE INDEX tokens_account ON tokens(account_id);

CREATE TABLE follows (
    follower_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    followee_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
);
CREATE INDEX follows_followee ON follows(followee_id, state);

CREATE TABLE videos (
    id             TEXT PRIMARY KEY,
    account_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    caption        TEXT NOT NULL DEFAULT '',
    visibility     TEXT NOT NULL,
    status         TEXT NOT NULL,
    error_code     TEXT,
    error_message  TEXT,
    duration_ms    INTEGER,
    width          INTEGER,
    height         INTEGER,
    region         TEXT NOT NULL,
    original_key   TEXT NOT NULL,
    original_bytes INTEGER NOT NULL,
    original_name  TEXT NOT NULL DEFAULT '',
    likes          INTEGER NOT NULL DEFAULT 0,
    comments       INTEGER NOT NULL DEFAULT 0,
    views          INTEGER NOT NULL DEFAULT 0,
    feed_score     INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    ready_at       INTEGER,
    deleted_at     INTEGER
);
CREATE INDEX videos_account ON videos(account_id, created_at);
CREATE INDEX videos_feed ON videos(status, visibility, feed_score, id);

CREATE TABLE media_objects (
    video_id   TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    object_key TEXT NOT NULL,
    mime       TEXT NOT NULL,
    width      INTEGER NOT NULL,
    height     INTEGER NOT NULL,
    bitrate    INTEGER NOT NULL,
    bytes      INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    PRIMARY KEY (video_id, name)
);

CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    run_at       INTEGER NOT NULL,
    locked_by    TEXT,
    locked_until INTEGER,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX jobs_ready ON jobs(status, run_at);
