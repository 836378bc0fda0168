-- Legal references redacted in the public log: the entry carries
-- sha256(nonce ":" reference); the operator keeps nonce and reference here to
-- reveal them later (`kinora access reveal INDEX`), and anyone can check.
CREATE TABLE log_redactions (
    idx        INTEGER PRIMARY KEY,
    nonce      TEXT NOT NULL,
    reference  TEXT NOT NULL
);
