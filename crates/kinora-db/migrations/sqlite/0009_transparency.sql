-- Staff roles and the transparency log of staff access (C2SP tlog-tiles). Entries
-- and the tree's stored hashes are appended in one transaction; checkpoints are
-- signed after. `subject_account` lets the person see their own entries; the
-- public log carries only the keyed commitment.
CREATE TABLE staff (
    account_id  TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    granted_at  INTEGER NOT NULL
);
CREATE TABLE log_entries (
    idx              INTEGER PRIMARY KEY,
    entry            TEXT NOT NULL,
    subject_account  TEXT,
    created_at       INTEGER NOT NULL
);
CREATE INDEX log_entries_subject ON log_entries(subject_account, idx);
CREATE TABLE log_hashes (
    idx   INTEGER PRIMARY KEY,
    hash  TEXT NOT NULL
);
CREATE TABLE log_checkpoints (
    size        INTEGER PRIMARY KEY,
    note        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
