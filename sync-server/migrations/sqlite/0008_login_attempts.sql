-- Failed-login counting lives in the database rather than in one server's memory, so that
-- several servers behind a balancer share one limit per username.
CREATE TABLE login_attempts (
    username     TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    attempts     INTEGER NOT NULL
) WITHOUT ROWID;
