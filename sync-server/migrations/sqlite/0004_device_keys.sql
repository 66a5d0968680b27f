-- Devices sign every record version they submit (Ed25519); the server keeps each device's
-- public key and each version's signature, and `sync-server verify` re-checks them.
ALTER TABLE devices ADD COLUMN public_key TEXT;
ALTER TABLE versions ADD COLUMN signature TEXT;
