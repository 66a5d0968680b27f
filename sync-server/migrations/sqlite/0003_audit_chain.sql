-- Each audit entry carries the SHA-256 over the previous entry's hash and its own content: an
-- edited, inserted or deleted entry breaks the chain (`sync-server audit verify`). Entries
-- written before this version are chained when the server first opens the database.
ALTER TABLE audit ADD COLUMN hash TEXT;
