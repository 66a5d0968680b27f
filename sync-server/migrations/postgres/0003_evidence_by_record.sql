-- A push reads its evidence on a snapshot outside the write lock, then fetches in one statement
-- per table the rows of records changed since that snapshot (domain::push). These indexes make
-- "the rows of these records" a look-up (credential_visits has had one since 0001).
CREATE INDEX blob_links_record ON blob_links(record_id);
CREATE INDEX photo_originals_record ON photo_originals(record_id);
