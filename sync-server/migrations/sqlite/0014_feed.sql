-- The change feed for other systems (issue 15): one row per record version received, review
-- decision and site status change, numbered with the change sequence handed out in the same
-- transaction, so that rows become visible in sequence order (the pull's invariant) and a
-- reader resuming after a number misses nothing. A version's content is read from `versions`;
-- a review's or a site change's is in `data`. Holds the changes from this migration on: a
-- system starts from an export, then follows the feed.
CREATE TABLE feed (
    seq       INTEGER PRIMARY KEY,
    village   TEXT NOT NULL,
    kind      TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    version   INTEGER,
    at        TEXT NOT NULL,
    data      TEXT
);
