-- Windows that have run out are pruned at each login attempt (usernames that do not exist
-- would otherwise accumulate a row each); the index keeps that a range delete.
CREATE INDEX login_attempts_window ON login_attempts(window_start);
