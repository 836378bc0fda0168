-- Account deletion (GDPR Art. 17): an account scheduled for erasure is deactivated
-- (it answers like a missing one) until its erase job runs; the journal keeps only
-- a keyed hash of erased accounts' ids, so a restore can erase them again.
ALTER TABLE accounts ADD COLUMN erase_at INTEGER;
CREATE TABLE erasure_journal (
    subject    TEXT PRIMARY KEY,
    erased_at  INTEGER NOT NULL
);
