-- When an outbox entry was last sent, so the UI can show how long something has been waiting.
ALTER TABLE outbox ADD COLUMN last_attempt_at TEXT;
