-- Witnesses (C2SP tlog-witness): the size each configured witness last cosigned,
-- and the cosignature lines, appended to the served checkpoint of that size.
CREATE TABLE log_witnesses (
    witness     TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE log_cosignatures (
    size        INTEGER NOT NULL,
    witness     TEXT NOT NULL,
    line        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (size, witness)
);
