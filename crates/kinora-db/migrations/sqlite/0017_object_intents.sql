-- Objects this instance is about to write before the row that owns them exists
-- (an upload's original before its video). A crash in between leaves an intent;
-- start-up removes the object only if it is still unowned. Nothing else is ever
-- removed for being unknown, so a restored instance beside production, which
-- knows fewer objects, deletes nothing of production's. Not backed up.
CREATE TABLE object_intents (
    region      TEXT NOT NULL,
    key         TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (region, key)
);
