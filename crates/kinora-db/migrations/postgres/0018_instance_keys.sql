-- Which keys this instance was made with (their ids, never the keys): every
-- process checks its key directory against these at start. Not backed up.
CREATE TABLE instance_keys (
    name        TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
