-- Data downloads (GDPR Art. 20): a ZIP of everything about an account, built by a
-- job into the account's home region, downloadable until it expires.
CREATE TABLE exports (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    status      TEXT NOT NULL,
    region      TEXT NOT NULL,
    object_key  TEXT,
    bytes       INTEGER,
    error       TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER
);
CREATE INDEX exports_account ON exports(account_id, created_at);
