-- The near-duplicate look-up probes its candidate bands in memory (fingerprint::BandIndex),
-- loaded from this table when the store opens: 548 band probes per pushed photo on database
-- indexes cost ~4 ms at a million photos (BENCHMARKS.md). What the database still answers is
-- which photos carry a fingerprint found within distance.
DROP INDEX photo_fingerprints_b0;
DROP INDEX photo_fingerprints_b1;
DROP INDEX photo_fingerprints_b2;
DROP INDEX photo_fingerprints_b3;
CREATE INDEX photo_fingerprints_fp ON photo_fingerprints(fp);
