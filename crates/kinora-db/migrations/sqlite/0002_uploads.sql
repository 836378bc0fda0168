-- Resumable (tus) uploads. The bytes live in <data>/uploads/<id>; `received` is
-- the acknowledged length. `video_id` is fixed at creation so finishing is idempotent.
CREATE TABLE uploads (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    video_id    TEXT NOT NULL,
    length      INTEGER NOT NULL,
    received    INTEGER NOT NULL DEFAULT 0,
    filename    TEXT NOT NULL DEFAULT '',
    caption     TEXT NOT NULL DEFAULT '',
    visibility  TEXT NOT NULL,
    state       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX uploads_account ON uploads(account_id, state);
CREATE INDEX uploads_expiry ON uploads(state, expires_at);
