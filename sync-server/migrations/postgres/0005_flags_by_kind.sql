-- The review queue filtered by one flag kind counts and lists from the flags of that kind in
-- the caller's villages, not from every flag of the province (a rare kind among a million
-- records: 107 ms p95 before, see BENCHMARKS.md).
CREATE INDEX version_flags_kind ON version_flags(kind, village);
