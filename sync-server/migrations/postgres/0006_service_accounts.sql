-- Service accounts (issue 15): systems that read through the API with keys, never a password.
-- A key is a token row with an id (listed and revoked by it), so that authentication, expiry
-- and revocation stay one path for people and systems.
ALTER TABLE tokens ADD COLUMN key_id TEXT COLLATE "C";
CREATE UNIQUE INDEX tokens_key ON tokens(key_id) WHERE key_id IS NOT NULL;

CREATE TABLE service_accounts (
    user_id    TEXT COLLATE "C" PRIMARY KEY REFERENCES users(id),
    purpose    TEXT NOT NULL,
    created_by TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL
);
