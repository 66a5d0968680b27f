-- The change feed for other systems (issue 15): see the SQLite migration 0014 for the design.
CREATE TABLE feed (
    seq       BIGINT PRIMARY KEY,
    village   TEXT COLLATE "C" NOT NULL,
    kind      TEXT COLLATE "C" NOT NULL,
    entity_id TEXT COLLATE "C" NOT NULL,
    version   BIGINT,
    at        TEXT NOT NULL,
    data      TEXT
);
