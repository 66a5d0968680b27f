-- The review queue filters by kind and sorts by arrival within a region.
ALTER TABLE records ADD COLUMN kind TEXT NOT NULL DEFAULT '';
UPDATE records SET kind = COALESCE(
    (SELECT json_extract(v.data, '$.body.kind') FROM versions v
      WHERE v.record_id = records.id AND v.version = records.current_version), '');
CREATE INDEX records_village_received ON records(village, received_at);
