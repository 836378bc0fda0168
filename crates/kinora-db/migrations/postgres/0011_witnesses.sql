-- Witnesses (C2SP tlog-witness): the size each configured witness last cosigned,
-- and the cosignature lines, appended to the served checkpoint of that size.
CREATE TABLE log_witnesses (
    witness     TEXT PRIMARY KEY,
    size        BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE TABLE log_cosignatures (
    size        BIGINT NOT NULL,
    witness     TEXT NOT NULL,
    line        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (size, witness)
);
