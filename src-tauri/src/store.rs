//! The device's local store: one SQLite file in WAL mode with `synchronous=FULL`, versioned
//! migrations, and a refusal to open a database written by a newer app. Every change runs in a
//! transaction, so killing the app at any instant leaves either the old or the new state.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use shared::ErrorCode;

use crate::error::{CoreError, CoreResult};

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_outbox_attempt_time.sql"),
    include_str!("../migrations/0003_documents.sql"),
    include_str!("../migrations/0004_review.sql"),
];
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub struct LocalStore {
    conn: Mutex<Connection>,
    /// Test hook: fail the N-th write step from now (see [`LocalStore::step`]); -1 = never.
    fail_at: AtomicI64,
}

impl LocalStore {
    pub fn open(path: &Path) -> CoreResult<Self> {
        let conn = Connection::open(path)?;
        let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(CoreError::internal(format!("could not enable WAL ({mode})")));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&conn)?;
        Ok(LocalStore { conn: Mutex::new(conn), fail_at: AtomicI64::new(-1) })
    }

    /// Run `f` in one IMMEDIATE transaction; any error rolls everything back.
    pub fn write<R>(&self, f: impl FnOnce(&Transaction<'_>) -> CoreResult<R>) -> CoreResult<R> {
        let mut conn = self.conn.lock().map_err(|_| CoreError::internal("store lock poisoned"))?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let r = f(&tx)?;
        tx.commit()?;
        Ok(r)
    }

    pub fn read<R>(&self, f: impl FnOnce(&Connection) -> CoreResult<R>) -> CoreResult<R> {
        let conn = self.conn.lock().map_err(|_| CoreError::internal("store lock poisoned"))?;
        f(&conn)
    }

    /// Arm the fault hook: the `n`-th call to [`LocalStore::step`] from now fails.
    pub fn fail_at_step(&self, n: i64) {
        self.fail_at.store(n, Ordering::SeqCst);
    }

    /// A point between two writes of a multi-write change. Tests arm it to prove that an
    /// interruption at any point leaves no half-written record.
    pub fn step(&self) -> CoreResult<()> {
        let left = self.fail_at.load(Ordering::SeqCst);
        if left < 0 {
            return Ok(());
        }
        if left == 0 {
            self.fail_at.store(-1, Ordering::SeqCst);
            return Err(CoreError::new(ErrorCode::Unavailable, "injected fault"));
        }
        self.fail_at.store(left - 1, Ordering::SeqCst);
        Ok(())
    }
}

fn migrate(conn: &Connection) -> CoreResult<()> {
    migrate_to(conn, SCHEMA_VERSION)
}

/// Apply migrations up to `target` (tests build older databases with it).
pub(crate) fn migrate_to(conn: &Connection, target: i64) -> CoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    )?;
    let current: i64 =
        conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(CoreError::new(
            ErrorCode::SchemaTooNew,
            format!("本地数据由更新版本的应用写入（架构 {current} > {SCHEMA_VERSION}），请升级应用"),
        ));
    }
    for (n, sql) in
        MIGRATIONS.iter().enumerate().skip(current as usize).take((target - current).max(0) as usize)
    {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let res = conn.execute_batch(sql).and_then(|_| {
            conn.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, datetime('now'))",
                [n as i64 + 1],
            )
        });
        match res {
            Ok(_) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e.into());
            }
        }
    }
    Ok(())
}

pub fn meta_get(conn: &Connection, key: &str) -> CoreResult<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

pub fn meta_set(conn: &Connection, key: &str, value: &str) -> CoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

pub fn meta_delete(conn: &Connection, key: &str) -> CoreResult<()> {
    conn.execute("DELETE FROM meta WHERE key = ?1", [key])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_newer_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.db");
        drop(LocalStore::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute("INSERT INTO schema_migrations VALUES (?1, 'x')", [SCHEMA_VERSION + 1])
            .unwrap();
        let err = LocalStore::open(&path).err().expect("must refuse");
        assert_eq!(err.code(), ErrorCode::SchemaTooNew);
    }

    #[test]
    fn wal_and_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::open(&dir.path().join("app.db")).unwrap();
        s.read(|c| {
            let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
            assert_eq!(mode, "wal");
            assert_eq!(sync, 2, "FULL");
            Ok(())
        })
        .unwrap();
    }
}
