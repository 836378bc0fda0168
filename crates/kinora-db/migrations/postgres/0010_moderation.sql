-- Moderation: staff act on reports (remove a video or comment, restrict or suspend
-- an account, dismiss); the affected person is notified and may appeal each action
-- once; an appeal is a report in the same queue (`appeal_of` names the action).
ALTER TABLE accounts ADD COLUMN restricted_at BIGINT;
ALTER TABLE accounts ADD COLUMN suspended_at BIGINT;
ALTER TABLE reports ADD COLUMN appeal_of TEXT;
ALTER TABLE reports ADD COLUMN resolved_at BIGINT;
CREATE UNIQUE INDEX reports_one_appeal ON reports(appeal_of);
CREATE TABLE moderation_actions (
    id          TEXT PRIMARY KEY,
    report_id   TEXT NOT NULL,
    actor_id    TEXT REFERENCES accounts(id) ON DELETE SET NULL,
    action      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    subject_id  TEXT REFERENCES accounts(id) ON DELETE SET NULL,
    video_id    TEXT,
    comment_id  TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX moderation_actions_month ON moderation_actions(created_at);
CREATE INDEX moderation_actions_subject ON moderation_actions(subject_id);
ALTER TABLE notifications ADD COLUMN action_id TEXT;
