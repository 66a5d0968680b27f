//! The embedded default backend: one SQLite file in WAL mode. One writer connection (SQLite
//! serialises writers anyway) and a few reader connections that see consistent snapshots.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::fingerprint::BandIndex;
use shared::auth::{Role, UserInfo};
use shared::documents::{DocumentKind, DocumentNumber, NumberBlock};
use shared::ids::{DeviceId, InspectionId, MutationId, SiteId, UserId};
use shared::inspection::Inspection;
use shared::region::{Region, RegionCode, RegionLevel};
use shared::review::ReviewStatus;
use shared::site::Site;
use shared::sync::{InspectionRecord, MutationOutcome};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::*;

/// Migrations in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_records_kind.sql"),
    include_str!("../../migrations/sqlite/0003_audit_chain.sql"),
    include_str!("../../migrations/sqlite/0004_device_keys.sql"),
    include_str!("../../migrations/sqlite/0005_evidence.sql"),
    include_str!("../../migrations/sqlite/0006_fingerprint_index.sql"),
    include_str!("../../migrations/sqlite/0007_document_numbers.sql"),
    include_str!("../../migrations/sqlite/0008_login_attempts.sql"),
    include_str!("../../migrations/sqlite/0009_login_attempts_window.sql"),
    include_str!("../../migrations/sqlite/0010_evidence_by_record.sql"),
    include_str!("../../migrations/sqlite/0011_version_exports.sql"),
    include_str!("../../migrations/sqlite/0012_flags_by_kind.sql"),
    include_str!("../../migrations/sqlite/0013_service_accounts.sql"),
    include_str!("../../migrations/sqlite/0014_feed.sql"),
    include_str!("../../migrations/sqlite/0015_webhooks.sql"),
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const READERS: usize = 4;

pub struct SqliteStore {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Candidate filter of the near-duplicate photo look-up (see `fingerprint`).
    fp_index: RwLock<BandIndex>,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, _) = &e
            && f.code == rusqlite::ErrorCode::ConstraintViolation
        {
            return StoreError::Duplicate;
        }
        StoreError::Backend(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // FULL: a committed push must survive power loss, since the device will drop its outbox
    // entry once it sees `applied`.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.set_prepared_statement_cache_capacity(128);
    // One plan per statement, whatever its parameters. Without this, a plan that consulted a
    // bound value (an equality term on a column another index could use, a `LIMIT ?`) marks
    // the statement to be re-planned on rebinding, and rusqlite clears the bindings of every
    // statement it puts back in the cache: the evidence look-ups were parsed and planned
    // afresh on every execution, a fifth of a push's CPU. Our statements are written for
    // their indexes, so nothing is lost.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // Index look-ups at province scale (the fingerprint bands: thousands of random index pages
    // per query) read through a shared memory map instead of a read() per page into each
    // connection's small private cache. BENCHMARKS.md has the figures.
    conn.pragma_update(None, "mmap_size", 1i64 << 30)?;
    // Statement journals (an `INSERT OR REPLACE`, a foreign key, a multi-row statement) stay in
    // memory instead of a temporary file written with a syscall per page.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

/// A time window over more than one township is walked along the arrival index. SQLite would
/// otherwise take the villages' index for the village range and, for a province, walk a
/// million entries to find a day's records: a province export `from` a minute ago took 4.8 s
/// for no rows. Inside one township the villages' index is the narrower way in.
fn by_arrival(q: &RecordQuery) -> bool {
    (q.from.is_some() || q.to.is_some()) && q.lo.get(..9) != q.hi.get(..9)
}

impl SqliteStore {
    /// Open (creating if needed) the database file and apply pending migrations. Refuses a
    /// database written by a newer schema.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let writer = Connection::open(path)?;
        let mode: String = writer.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!("could not enable WAL (got {mode})")));
        }
        configure(&writer)?;
        // A push of 500 inspections dirties more pages than the default 2 MiB cache holds, and
        // a full cache spills them to the WAL mid-transaction (written twice, with a syscall
        // each). 64 MiB holds the largest batch; pages are allocated as used.
        writer.pragma_update(None, "cache_size", -65_536)?;
        migrate(&writer)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            configure(&r)?;
            readers.push(Mutex::new(r));
        }
        let fp_index = RwLock::new(load_band_index(&writer)?);
        let store =
            SqliteStore { writer: Mutex::new(writer), readers, next_reader: AtomicUsize::new(0), fp_index };
        // Entries from before the audit chain existed are chained once, in order.
        let mut tx = store.write()?;
        crate::audit_chain::seal_unchained(tx.as_mut())?;
        tx.commit()?;
        Ok(store)
    }
}

/// Take a connection even if a thread panicked while holding it: the panicking transaction was
/// rolled back when its `SqliteTx` dropped, and any transaction still open is rolled back here,
/// so one bad request can never stop every later write.
fn recover<'a>(
    r: Result<
        std::sync::MutexGuard<'a, Connection>,
        std::sync::PoisonError<std::sync::MutexGuard<'a, Connection>>,
    >,
) -> StoreResult<std::sync::MutexGuard<'a, Connection>> {
    let conn = r.unwrap_or_else(|p| p.into_inner());
    if !conn.is_autocommit() {
        conn.execute_batch("ROLLBACK")?;
    }
    Ok(conn)
}

fn migrate(conn: &Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    )?;
    let current: i64 =
        conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { found: current, supported: SCHEMA_VERSION });
    }
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = n as i64 + 1;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let res = conn.execute_batch(sql).and_then(|_| {
            conn.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, ts(OffsetDateTime::now_utc())],
            )
        });
        match res {
            Ok(_) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e.into());
            }
        }
        tracing::info!(version, "applied sqlite migration");
    }
    Ok(())
}

impl SqliteStore {
    fn tx<'a>(&'a self, conn: std::sync::MutexGuard<'a, Connection>) -> SqliteTx<'a> {
        SqliteTx {
            conn,
            done: false,
            seq: None,
            seq_dirty: false,
            fp_index: &self.fp_index,
            fp_pending: Vec::new(),
        }
    }
}

impl Store for SqliteStore {
    fn write(&self) -> StoreResult<Box<dyn Tx + '_>> {
        let conn = recover(self.writer.lock())?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Box::new(self.tx(conn)))
    }

    fn read(&self) -> StoreResult<Box<dyn Tx + '_>> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        let mut guard = None;
        for i in 0..n {
            match self.readers[(start + i) % n].try_lock() {
                Ok(g) => guard = Some(recover(Ok(g))?),
                Err(std::sync::TryLockError::Poisoned(p)) => guard = Some(recover(Err(p))?),
                Err(std::sync::TryLockError::WouldBlock) => continue,
            }
            break;
        }
        let conn = match guard {
            Some(g) => g,
            None => recover(self.readers[start % n].lock())?,
        };
        conn.execute_batch("BEGIN")?;
        Ok(Box::new(self.tx(conn)))
    }

    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    fn schema_version(&self) -> i64 {
        SCHEMA_VERSION
    }
}

struct SqliteTx<'a> {
    conn: std::sync::MutexGuard<'a, Connection>,
    done: bool,
    /// The change sequence as handed out in this transaction; written back once at commit, so a
    /// batch of N changes costs one UPDATE rather than N (writers are serialised, so no other
    /// transaction can interleave).
    seq: Option<u64>,
    seq_dirty: bool,
    /// The store's in-memory band index, and the fingerprints this transaction wrote: they
    /// join the index when it commits (and are seen by its own look-ups before).
    fp_index: &'a RwLock<BandIndex>,
    fp_pending: Vec<u64>,
}

/// Every stored fingerprint into the band index, once when the store opens (this process is
/// the only writer of the file while it runs; every later insert goes through a transaction).
fn load_band_index(conn: &Connection) -> StoreResult<BandIndex> {
    let mut index = BandIndex::default();
    let mut st = conn.prepare("SELECT fp FROM photo_fingerprints WHERE fp IS NOT NULL")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        index.insert(r.get::<_, i64>(0)? as u64);
    }
    Ok(index)
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

fn ts(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(&Rfc3339).unwrap_or_default()
}

fn parse_ts(s: &str) -> rusqlite::Result<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

/// An audit entry from the columns `at, user_id, device_id, action, entity, entity_id, detail`
/// starting at `first`.
fn audit_row(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<AuditEntry> {
    let user: Option<String> = r.get(first + 1)?;
    let device: Option<String> = r.get(first + 2)?;
    Ok(AuditEntry {
        at: parse_ts(&r.get::<_, String>(first)?)?,
        user_id: user.map(uuid_col).transpose()?.map(UserId),
        device_id: device.map(uuid_col).transpose()?.map(DeviceId),
        action: r.get(first + 3)?,
        entity: r.get(first + 4)?,
        entity_id: r.get(first + 5)?,
        detail: json_col(r.get(first + 6)?)?,
    })
}

fn conv<E: std::error::Error + Send + Sync + 'static>(e: E) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

fn uuid_col(s: String) -> rusqlite::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(&s).map_err(conv)
}

fn region_col(s: String) -> rusqlite::Result<RegionCode> {
    RegionCode::parse(&s).map_err(conv)
}

fn json_col<T: serde::de::DeserializeOwned>(s: String) -> rusqlite::Result<T> {
    serde_json::from_str(&s).map_err(conv)
}

#[derive(Debug, thiserror::Error)]
#[error("unknown enum value {0}")]
struct UnknownValue(String);

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    let role: String = r.get(3)?;
    Ok(UserRow {
        info: UserInfo {
            id: UserId(uuid_col(r.get(0)?)?),
            username: r.get(1)?,
            display_name: r.get(2)?,
            role: Role::parse(&role).ok_or_else(|| conv(UnknownValue(role)))?,
            region: region_col(r.get(4)?)?,
        },
        password_hash: r.get(5)?,
        disabled: r.get(6)?,
    })
}

const USER_COLS: &str = "id, username, display_name, role, region, password_hash, disabled";

fn region_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Region> {
    let level: String = r.get(2)?;
    let parent: Option<String> = r.get(3)?;
    Ok(Region {
        code: region_col(r.get(0)?)?,
        name: r.get(1)?,
        level: RegionLevel::parse(&level).ok_or_else(|| conv(UnknownValue(level)))?,
        parent: parent.map(region_col).transpose()?,
        generated: r.get(4)?,
    })
}

/// Most rows an export sorts in memory (see `for_each_export_row`).
const EXPORT_SORT_MAX: u64 = 20_000;

/// The export's columns of a record's current version, in [`ExportRow`] order (`WHERE …` follows).
pub const EXPORT_SELECT: &str =
    "SELECT r.id, r.current_version, r.status, r.kind, r.site_id, s.name, r.village,
        r.received_at, e.device_time, e.lng, e.lat, e.accuracy_m, e.fix_count, e.position_source,
        e.manual_reason, e.photos, e.notes, json_extract(r.review, '$.comment'), e.flag_kinds,
        e.flags_zh, e.flags_json
   FROM records r
   JOIN version_exports e ON e.record_id = r.id AND e.version = r.current_version
   JOIN sites s ON s.id = r.site_id";

const RECORD_COLS: &str = "id, site_id, village, submitted_by, device_id, current_version, status, \
                           review, received_at, change_seq, kind";
const RECORD_COLS_R: &str = "r.id, r.site_id, r.village, r.submitted_by, r.device_id, r.current_version, \
                             r.status, r.review, r.received_at, r.change_seq, r.kind";

fn record_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RecordRow> {
    let status: String = r.get(6)?;
    let review: Option<String> = r.get(7)?;
    Ok(RecordRow {
        id: InspectionId(uuid_col(r.get(0)?)?),
        site_id: SiteId(uuid_col(r.get(1)?)?),
        village: region_col(r.get(2)?)?,
        submitted_by: UserId(uuid_col(r.get(3)?)?),
        device_id: DeviceId(uuid_col(r.get(4)?)?),
        current_version: r.get(5)?,
        status: ReviewStatus::parse(&status).ok_or_else(|| conv(UnknownValue(status)))?,
        review: review.map(json_col).transpose()?,
        received_at: parse_ts(&r.get::<_, String>(8)?)?,
        change_seq: r.get::<_, i64>(9)? as u64,
        kind: {
            let k: String = r.get(10)?;
            shared::inspection::InspectionKind::parse(&k).ok_or_else(|| conv(UnknownValue(k)))?
        },
    })
}

const VISIT_COLS: &str = "record_id, user_id, site_id, at_ms, lng, lat, accuracy_m, position_key";

fn visit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Visit> {
    let lng: Option<f64> = r.get(4)?;
    let lat: Option<f64> = r.get(5)?;
    Ok(Visit {
        record_id: InspectionId(uuid_col(r.get(0)?)?),
        user_id: UserId(uuid_col(r.get(1)?)?),
        site_id: SiteId(uuid_col(r.get(2)?)?),
        at_ms: r.get(3)?,
        position: lng.zip(lat),
        accuracy_m: r.get(6)?,
        position_key: r.get(7)?,
    })
}

fn credential_visit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CredentialVisit> {
    let lng: Option<f64> = r.get(5)?;
    let lat: Option<f64> = r.get(6)?;
    Ok(CredentialVisit {
        credential_no: r.get(0)?,
        record_id: InspectionId(uuid_col(r.get(1)?)?),
        officer: r.get(2)?,
        started_ms: r.get(3)?,
        ended_ms: r.get(4)?,
        position: lng.zip(lat),
        place: r.get(7)?,
    })
}

fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_unix_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The WHERE clause of a record query with this backend's placeholders.
fn record_where(q: &RecordQuery, table: &str) -> (String, Vec<String>) {
    super::record_where(q, table, |n| format!("?{n}"), ts)
}

impl SqliteTx<'_> {
    /// How many records match, counting no further than `cap` + 1.
    fn count_capped(&self, q: &RecordQuery, where_sql: &str, args: &[String], cap: u64) -> StoreResult<u64> {
        let from = if by_arrival(q) { "records INDEXED BY records_received" } else { "records" };
        let n: i64 = self.conn.query_row(
            &format!("SELECT COUNT(*) FROM (SELECT 1 FROM {from} WHERE {where_sql} LIMIT {})", cap + 1),
            rusqlite::params_from_iter(args.iter()),
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    fn load_record(&mut self, row: RecordRow) -> StoreResult<InspectionRecord> {
        let inspection = self
            .version(&row.id, row.current_version)?
            .ok_or_else(|| StoreError::Corrupt(format!("record {} lacks its current version", row.id)))?;
        Ok(row.to_record(inspection))
    }
}

impl Tx for SqliteTx<'_> {
    fn commit(mut self: Box<Self>) -> StoreResult<()> {
        if let (true, Some(v)) = (self.seq_dirty, self.seq) {
            self.conn.execute("UPDATE seqs SET value = ?1 WHERE name = 'change'", [v as i64])?;
        }
        self.conn.execute_batch("COMMIT")?;
        self.done = true;
        if !self.fp_pending.is_empty() {
            let mut index = self.fp_index.write().unwrap_or_else(|p| p.into_inner());
            self.fp_pending.drain(..).for_each(|fp| index.insert(fp));
        }
        Ok(())
    }

    fn next_change_seq(&mut self) -> StoreResult<u64> {
        let next = self.current_change_seq()? + 1;
        self.seq = Some(next);
        self.seq_dirty = true;
        Ok(next)
    }

    fn current_change_seq(&mut self) -> StoreResult<u64> {
        if let Some(v) = self.seq {
            return Ok(v);
        }
        let v: i64 = self.conn.query_row("SELECT value FROM seqs WHERE name = 'change'", [], |r| r.get(0))?;
        self.seq = Some(v as u64);
        Ok(v as u64)
    }

    fn insert_region(&mut self, r: &Region) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO regions (code, name, level, parent, generated) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                r.code.as_str(),
                r.name,
                r.level.as_str(),
                r.parent.map(|p| p.to_string()),
                r.generated
            ])?;
        Ok(())
    }

    fn region(&mut self, code: &RegionCode) -> StoreResult<Option<Region>> {
        Ok(self
            .conn
            .prepare_cached("SELECT code, name, level, parent, generated FROM regions WHERE code = ?1")?
            .query_row([code.as_str()], region_row)
            .optional()?)
    }

    fn region_children(&mut self, code: &RegionCode) -> StoreResult<Vec<Region>> {
        let mut st = self.conn.prepare_cached(
            "SELECT code, name, level, parent, generated FROM regions WHERE parent = ?1 ORDER BY code",
        )?;
        let rows = st.query_map([code.as_str()], region_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn count_regions(&mut self, level: RegionLevel) -> StoreResult<u64> {
        let n: i64 =
            self.conn
                .query_row("SELECT COUNT(*) FROM regions WHERE level = ?1", [level.as_str()], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn regions_in(&mut self, level: RegionLevel, lo: &str, hi: &str) -> StoreResult<Vec<Region>> {
        let mut st = self.conn.prepare_cached(
            "SELECT code, name, level, parent, generated FROM regions
             WHERE level = ?1 AND code BETWEEN ?2 AND ?3 ORDER BY code",
        )?;
        let rows = st.query_map(params![level.as_str(), lo, hi], region_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn insert_user(&mut self, u: &UserRow) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO users (id, username, display_name, role, region, password_hash, disabled)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                u.info.id.to_string(),
                u.info.username,
                u.info.display_name,
                u.info.role.as_str(),
                u.info.region.as_str(),
                u.password_hash,
                u.disabled
            ],
        )?;
        Ok(())
    }

    fn user_by_username(&mut self, username: &str) -> StoreResult<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE username = ?1");
        Ok(self.conn.prepare_cached(&sql)?.query_row([username], user_row).optional()?)
    }

    fn user_by_id(&mut self, id: &UserId) -> StoreResult<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE id = ?1");
        Ok(self.conn.prepare_cached(&sql)?.query_row([id.to_string()], user_row).optional()?)
    }

    fn users_by_role(&mut self, role: Role) -> StoreResult<Vec<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE role = ?1 ORDER BY username");
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map([role.as_str()], user_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn users_in(&mut self, lo: &str, hi: &str) -> StoreResult<Vec<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE region BETWEEN ?1 AND ?2 ORDER BY username");
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map([lo, hi], user_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn update_user(&mut self, u: &UserRow) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE users SET display_name = ?2, role = ?3, region = ?4, password_hash = ?5, disabled = ?6
             WHERE id = ?1",
            params![
                u.info.id.to_string(),
                u.info.display_name,
                u.info.role.as_str(),
                u.info.region.as_str(),
                u.password_hash,
                u.disabled
            ],
        )?;
        Ok(())
    }

    fn clear_villages(&mut self, user: &UserId) -> StoreResult<()> {
        self.conn.execute("DELETE FROM user_villages WHERE user_id = ?1", [user.to_string()])?;
        Ok(())
    }

    fn assign_villages(&mut self, user: &UserId, villages: &[RegionCode]) -> StoreResult<()> {
        let mut st = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO user_villages (user_id, village) VALUES (?1, ?2)")?;
        for v in villages {
            st.execute(params![user.to_string(), v.as_str()])?;
        }
        Ok(())
    }

    fn assigned_villages(&mut self, user: &UserId) -> StoreResult<Vec<RegionCode>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT village FROM user_villages WHERE user_id = ?1 ORDER BY village")?;
        let rows = st.query_map([user.to_string()], |r| region_col(r.get(0)?))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn is_assigned(&mut self, user: &UserId, village: &RegionCode) -> StoreResult<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM user_villages WHERE user_id = ?1 AND village = ?2")?
            .query_row(params![user.to_string(), village.as_str()], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn insert_token(&mut self, t: &TokenRow) -> StoreResult<()> {
        self.conn.prepare_cached(
            "INSERT INTO tokens (token_hash, user_id, issued_at, expires_at, revoked) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![t.token_hash, t.user_id.to_string(), ts(t.issued_at), ts(t.expires_at), t.revoked])?;
        Ok(())
    }

    fn token(&mut self, hash: &[u8]) -> StoreResult<Option<TokenRow>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT token_hash, user_id, issued_at, expires_at, revoked FROM tokens WHERE token_hash = ?1",
            )?
            .query_row([hash], |r| {
                Ok(TokenRow {
                    token_hash: r.get(0)?,
                    user_id: UserId(uuid_col(r.get(1)?)?),
                    issued_at: parse_ts(&r.get::<_, String>(2)?)?,
                    expires_at: parse_ts(&r.get::<_, String>(3)?)?,
                    revoked: r.get(4)?,
                })
            })
            .optional()?)
    }

    fn revoke_token(&mut self, hash: &[u8]) -> StoreResult<bool> {
        let n = self
            .conn
            .execute("UPDATE tokens SET revoked = 1 WHERE token_hash = ?1 AND revoked = 0", [hash])?;
        Ok(n > 0)
    }

    fn revoke_user_tokens(&mut self, user: &UserId) -> StoreResult<u64> {
        let n = self.conn.execute(
            "UPDATE tokens SET revoked = 1 WHERE user_id = ?1 AND revoked = 0",
            [user.to_string()],
        )?;
        Ok(n as u64)
    }

    fn append_feed(&mut self, f: &FeedRow) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO feed (seq, village, kind, entity_id, version, at, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                f.seq as i64,
                f.village.as_str(),
                f.kind.as_str(),
                f.entity_id,
                f.version,
                ts(f.at),
                f.data
            ])?;
        Ok(())
    }

    fn feed_after(
        &mut self,
        after: u64,
        lo: &str,
        hi: &str,
        limit: u32,
        scan: u32,
    ) -> StoreResult<(Vec<FeedItem>, u64, bool)> {
        let mut st = self.conn.prepare_cached(
            "SELECT f.seq, f.village, f.kind, f.entity_id, f.version, f.at, COALESCE(f.data, v.data) \
             FROM (SELECT * FROM feed WHERE seq > ?1 ORDER BY seq LIMIT ?2) f \
             LEFT JOIN versions v ON f.kind = 'version' AND v.record_id = f.entity_id AND v.version = f.version \
             WHERE f.village BETWEEN ?3 AND ?4 ORDER BY f.seq LIMIT ?5",
        )?;
        let items = st
            .query_map(params![after as i64, scan, lo, hi, limit], |r| {
                Ok(FeedItem {
                    seq: r.get::<_, i64>(0)? as u64,
                    village: r.get(1)?,
                    kind: r.get(2)?,
                    entity_id: r.get(3)?,
                    version: r.get(4)?,
                    at: r.get(5)?,
                    data: r.get(6)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let (scanned, last): (Option<i64>, Option<i64>) = self
            .conn
            .prepare_cached(
                "SELECT (SELECT MAX(seq) FROM (SELECT seq FROM feed WHERE seq > ?1 ORDER BY seq LIMIT ?2)), \
                 (SELECT MAX(seq) FROM feed)",
            )?
            .query_row(params![after as i64, scan], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let scanned = scanned.map_or(after, |s| s as u64);
        Ok((items, scanned, last.is_some_and(|l| l as u64 > scanned)))
    }

    fn feed_last(&mut self) -> StoreResult<u64> {
        let last: Option<i64> = self.conn.query_row("SELECT MAX(seq) FROM feed", [], |r| r.get(0))?;
        Ok(last.unwrap_or(0) as u64)
    }

    fn insert_webhook(&mut self, w: &WebhookRow) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO webhooks (id, owner, url, secret, events, created_at, cursor, delivered, given_up, attempts, failing_since, next_attempt_at, last_status, last_error, last_attempt_at, lease_until) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            params![
                w.id,
                w.owner.to_string(),
                w.url,
                w.secret,
                w.events,
                ts(w.created_at),
                w.cursor as i64,
                w.delivered as i64,
                w.given_up as i64,
                w.attempts,
                w.failing_since,
                w.next_attempt_at,
                w.last_status,
                w.last_error,
                w.last_attempt_at,
                w.lease_until
            ],
        )?;
        Ok(())
    }

    fn webhook(&mut self, id: &str) -> StoreResult<Option<WebhookRow>> {
        Ok(self.conn.query_row("SELECT id, owner, url, secret, events, created_at, cursor, delivered, given_up, attempts, failing_since, next_attempt_at, last_status, last_error, last_attempt_at, lease_until FROM webhooks WHERE id = ?1", [id], webhook_row).optional()?)
    }

    fn webhooks(&mut self, owner: Option<&UserId>) -> StoreResult<Vec<WebhookRow>> {
        let owner = owner.map(|o| o.to_string());
        let mut st = self.conn.prepare(
            "SELECT id, owner, url, secret, events, created_at, cursor, delivered, given_up, attempts, failing_since, next_attempt_at, last_status, last_error, last_attempt_at, lease_until FROM webhooks WHERE ?1 IS NULL OR owner = ?1 ORDER BY created_at, id",
        )?;
        let rows = st.query_map([owner], webhook_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn delete_webhook(&mut self, id: &str) -> StoreResult<bool> {
        Ok(self.conn.execute("DELETE FROM webhooks WHERE id = ?1", [id])? > 0)
    }

    fn claim_webhooks(&mut self, now: i64, lease_until: i64, limit: u32) -> StoreResult<Vec<WebhookRow>> {
        let due = "(next_attempt_at IS NULL OR next_attempt_at <= ?1) AND (lease_until IS NULL OR lease_until <= ?1)";
        let mut rows = {
            let mut st = self
                .conn
                .prepare(&format!("SELECT id, owner, url, secret, events, created_at, cursor, delivered, given_up, attempts, failing_since, next_attempt_at, last_status, last_error, last_attempt_at, lease_until FROM webhooks WHERE {due} ORDER BY next_attempt_at, id LIMIT ?2"))?;
            st.query_map(params![now, limit], webhook_row)?.collect::<Result<Vec<_>, _>>()?
        };
        for w in &mut rows {
            self.conn
                .execute("UPDATE webhooks SET lease_until = ?2 WHERE id = ?1", params![w.id, lease_until])?;
            w.lease_until = Some(lease_until);
        }
        Ok(rows)
    }

    fn save_webhook_state(&mut self, w: &WebhookRow) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE webhooks SET cursor = ?2, delivered = ?3, given_up = ?4, attempts = ?5, failing_since = ?6, \
             next_attempt_at = ?7, last_status = ?8, last_error = ?9, last_attempt_at = ?10, lease_until = NULL WHERE id = ?1",
            params![
                w.id,
                w.cursor as i64,
                w.delivered as i64,
                w.given_up as i64,
                w.attempts,
                w.failing_since,
                w.next_attempt_at,
                w.last_status,
                w.last_error,
                w.last_attempt_at
            ],
        )?;
        Ok(())
    }

    fn insert_service_account(&mut self, a: &ServiceAccountRow) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO service_accounts (user_id, purpose, created_by, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![a.user_id.to_string(), a.purpose, a.created_by.to_string(), ts(a.created_at)],
        )?;
        Ok(())
    }

    fn service_account(&mut self, user: &UserId) -> StoreResult<Option<ServiceAccountRow>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT user_id, purpose, created_by, created_at FROM service_accounts WHERE user_id = ?1",
            )?
            .query_row([user.to_string()], service_account_row)
            .optional()?)
    }

    fn service_accounts(&mut self) -> StoreResult<Vec<ServiceAccountRow>> {
        let mut st = self
            .conn
            .prepare("SELECT user_id, purpose, created_by, created_at FROM service_accounts ORDER BY created_at, user_id")?;
        let rows = st.query_map([], service_account_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn insert_api_key(&mut self, k: &ApiKeyRow) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO tokens (token_hash, user_id, issued_at, expires_at, revoked, key_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![k.token_hash, k.user_id.to_string(), ts(k.issued_at), ts(k.expires_at), k.revoked, k.key_id],
        )?;
        Ok(())
    }

    fn api_keys(&mut self, user: &UserId) -> StoreResult<Vec<ApiKeyRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT key_id, user_id, token_hash, issued_at, expires_at, revoked FROM tokens \
             WHERE user_id = ?1 AND key_id IS NOT NULL ORDER BY issued_at, key_id",
        )?;
        let rows = st.query_map([user.to_string()], |r| {
            Ok(ApiKeyRow {
                key_id: r.get(0)?,
                user_id: UserId(uuid_col(r.get(1)?)?),
                token_hash: r.get(2)?,
                issued_at: parse_ts(&r.get::<_, String>(3)?)?,
                expires_at: parse_ts(&r.get::<_, String>(4)?)?,
                revoked: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn revoke_api_key(&mut self, user: &UserId, key_id: &str) -> StoreResult<bool> {
        let n = self.conn.execute(
            "UPDATE tokens SET revoked = 1 WHERE user_id = ?1 AND key_id = ?2 AND revoked = 0",
            params![user.to_string(), key_id],
        )?;
        Ok(n > 0)
    }

    fn device(&mut self, id: &DeviceId) -> StoreResult<Option<DeviceRow>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, user_id, name, platform, last_seq, registered_at, public_key FROM devices WHERE id = ?1",
            )?
            .query_row([id.to_string()], |r| {
                Ok(DeviceRow {
                    id: DeviceId(uuid_col(r.get(0)?)?),
                    user_id: UserId(uuid_col(r.get(1)?)?),
                    name: r.get(2)?,
                    platform: r.get(3)?,
                    last_seq: r.get::<_, i64>(4)? as u64,
                    registered_at: parse_ts(&r.get::<_, String>(5)?)?,
                    public_key: r.get(6)?,
                })
            })
            .optional()?)
    }

    fn insert_device(&mut self, d: &DeviceRow) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO devices (id, user_id, name, platform, last_seq, registered_at, public_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                d.id.to_string(),
                d.user_id.to_string(),
                d.name,
                d.platform,
                d.last_seq as i64,
                ts(d.registered_at),
                d.public_key
            ],
        )?;
        Ok(())
    }

    fn set_device_key(&mut self, id: &DeviceId, public_key: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached("UPDATE devices SET public_key = ?2 WHERE id = ?1 AND public_key IS NULL")?
            .execute(params![id.to_string(), public_key])?;
        Ok(())
    }

    fn set_device_seq(&mut self, id: &DeviceId, seq: u64) -> StoreResult<()> {
        self.conn
            .prepare_cached("UPDATE devices SET last_seq = ?2 WHERE id = ?1")?
            .execute(params![id.to_string(), seq as i64])?;
        Ok(())
    }

    fn mutation_result(
        &mut self,
        device: &DeviceId,
        seq: u64,
    ) -> StoreResult<Option<(MutationId, MutationOutcome)>> {
        Ok(self
            .conn
            .prepare_cached("SELECT mutation_id, outcome FROM mutations WHERE device_id = ?1 AND seq = ?2")?
            .query_row(params![device.to_string(), seq as i64], |r| {
                Ok((MutationId(uuid_col(r.get(0)?)?), json_col(r.get(1)?)?))
            })
            .optional()?)
    }

    fn insert_mutation_result(
        &mut self,
        device: &DeviceId,
        seq: u64,
        mutation_id: &MutationId,
        outcome: &MutationOutcome,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO mutations (device_id, seq, mutation_id, outcome, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                device.to_string(),
                seq as i64,
                mutation_id.to_string(),
                serde_json::to_string(outcome)?,
                ts(at)
            ])?;
        Ok(())
    }

    fn insert_site(&mut self, s: &Site, change_seq: u64) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO sites (id, village, kind, status, name, data, change_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                s.id.to_string(),
                s.village.as_str(),
                s.kind().as_str(),
                s.status.map(|x| x.as_str()),
                s.name,
                serde_json::to_string(s)?,
                change_seq as i64
            ])?;
        Ok(())
    }

    fn update_site(&mut self, s: &Site, change_seq: u64) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE sites SET village = ?2, status = ?3, name = ?4, data = ?5, change_seq = ?6 WHERE id = ?1",
            )?
            .execute(params![
                s.id.to_string(),
                s.village.as_str(),
                s.status.map(|x| x.as_str()),
                s.name,
                serde_json::to_string(s)?,
                change_seq as i64
            ])?;
        Ok(())
    }

    fn site(&mut self, id: &SiteId) -> StoreResult<Option<Site>> {
        Ok(self
            .conn
            .prepare_cached("SELECT data FROM sites WHERE id = ?1")?
            .query_row([id.to_string()], |r| json_col(r.get(0)?))
            .optional()?)
    }

    fn sites_changed(
        &mut self,
        filter: &SiteFilter,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<(u64, Site)>> {
        let map = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(u64, Site)> {
            Ok((r.get::<_, i64>(0)? as u64, json_col(r.get(1)?)?))
        };
        let rows = match filter {
            SiteFilter::AssignedTo(user) => {
                let mut st = self.conn.prepare_cached(
                    "SELECT s.change_seq, s.data FROM sites s
                     JOIN user_villages uv ON uv.village = s.village AND uv.user_id = ?1
                     WHERE s.change_seq > ?2 ORDER BY s.change_seq LIMIT ?3",
                )?;
                st.query_map(params![user.to_string(), after as i64, limit], map)?
                    .collect::<Result<Vec<_>, _>>()?
            }
            SiteFilter::VillageRange(lo, hi) => {
                let mut st = self.conn.prepare_cached(
                    "SELECT change_seq, data FROM sites
                     WHERE village BETWEEN ?1 AND ?2 AND change_seq > ?3 ORDER BY change_seq LIMIT ?4",
                )?;
                st.query_map(params![lo, hi, after as i64, limit], map)?.collect::<Result<Vec<_>, _>>()?
            }
        };
        Ok(rows)
    }

    fn for_each_site(&mut self, f: &mut dyn FnMut(&Site)) -> StoreResult<()> {
        let mut st = self.conn.prepare("SELECT data FROM sites")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let site: Site = json_col(r.get(0)?)?;
            f(&site);
        }
        Ok(())
    }

    fn count_sites(&mut self) -> StoreResult<Vec<(String, u64)>> {
        let mut st = self.conn.prepare("SELECT kind, COUNT(*) FROM sites GROUP BY kind ORDER BY kind")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn record(&mut self, id: &InspectionId) -> StoreResult<Option<RecordRow>> {
        let sql = format!("SELECT {RECORD_COLS} FROM records WHERE id = ?1");
        Ok(self.conn.prepare_cached(&sql)?.query_row([id.to_string()], record_row).optional()?)
    }

    fn insert_record(&mut self, r: &RecordRow) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO records (id, site_id, village, submitted_by, device_id, current_version,
                                      status, review, received_at, change_seq, kind)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                r.id.to_string(),
                r.site_id.to_string(),
                r.village.as_str(),
                r.submitted_by.to_string(),
                r.device_id.to_string(),
                r.current_version,
                r.status.as_str(),
                r.review.as_ref().map(serde_json::to_string).transpose()?,
                ts(r.received_at),
                r.change_seq as i64,
                r.kind.as_str()
            ])?;
        Ok(())
    }

    fn update_record(&mut self, r: &RecordRow) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE records SET current_version = ?2, status = ?3, review = ?4, received_at = ?5,
                        change_seq = ?6, device_id = ?7 WHERE id = ?1",
            )?
            .execute(params![
                r.id.to_string(),
                r.current_version,
                r.status.as_str(),
                r.review.as_ref().map(serde_json::to_string).transpose()?,
                ts(r.received_at),
                r.change_seq as i64,
                r.device_id.to_string()
            ])?;
        Ok(())
    }

    fn insert_version(
        &mut self,
        i: &Inspection,
        received_at: OffsetDateTime,
        device: &DeviceId,
        signature: Option<&str>,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO versions (record_id, version, data, received_at, device_id, signature, flags_checked)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)",
            )?
            .execute(params![
                i.id.to_string(),
                i.version,
                serde_json::to_string(i)?,
                ts(received_at),
                device.to_string(),
                signature
            ])?;
        self.put_version_export(&VersionExport::of(i), &ExportFlags::of(&[]))
    }

    fn signed_versions_page(&mut self, after: (String, u32), limit: u32) -> StoreResult<Vec<SignedVersion>> {
        let mut st = self.conn.prepare_cached(
            "SELECT v.record_id, v.version, v.data, v.signature, d.public_key, v.device_id
               FROM versions v LEFT JOIN devices d ON d.id = v.device_id
              WHERE (v.record_id, v.version) > (?1, ?2)
              ORDER BY v.record_id, v.version LIMIT ?3",
        )?;
        let rows = st.query_map(params![after.0, after.1, limit], |r| {
            Ok(SignedVersion {
                record_id: r.get(0)?,
                version: r.get(1)?,
                inspection: json_col(r.get(2)?)?,
                signature: r.get(3)?,
                public_key: r.get(4)?,
                device_id: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn version(&mut self, id: &InspectionId, version: u32) -> StoreResult<Option<Inspection>> {
        Ok(self
            .conn
            .prepare_cached("SELECT data FROM versions WHERE record_id = ?1 AND version = ?2")?
            .query_row(params![id.to_string(), version], |r| json_col(r.get(0)?))
            .optional()?)
    }

    fn versions(&mut self, id: &InspectionId) -> StoreResult<Vec<Inspection>> {
        let mut st =
            self.conn.prepare_cached("SELECT data FROM versions WHERE record_id = ?1 ORDER BY version")?;
        let rows = st.query_map([id.to_string()], |r| json_col(r.get(0)?))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn records_changed(
        &mut self,
        filter: &RecordFilter,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<InspectionRecord>> {
        let rows: Vec<RecordRow> = match filter {
            RecordFilter::SubmittedBy(user) => {
                let sql = format!(
                    "SELECT {RECORD_COLS} FROM records WHERE submitted_by = ?1 AND change_seq > ?2
                     ORDER BY change_seq LIMIT ?3"
                );
                let mut st = self.conn.prepare_cached(&sql)?;
                st.query_map(params![user.to_string(), after as i64, limit], record_row)?
                    .collect::<Result<_, _>>()?
            }
            RecordFilter::VillageRange(lo, hi) => {
                let sql = format!(
                    "SELECT {RECORD_COLS} FROM records WHERE village BETWEEN ?1 AND ?2 AND change_seq > ?3
                     ORDER BY change_seq LIMIT ?4"
                );
                let mut st = self.conn.prepare_cached(&sql)?;
                st.query_map(params![lo, hi, after as i64, limit], record_row)?.collect::<Result<_, _>>()?
            }
        };
        rows.into_iter().map(|r| self.load_record(r)).collect()
    }

    fn count_records(&mut self) -> StoreResult<Vec<(ReviewStatus, u64)>> {
        let mut st = self.conn.prepare("SELECT status, COUNT(*) FROM records GROUP BY status")?;
        let rows = st.query_map([], |r| {
            let s: String = r.get(0)?;
            Ok((ReviewStatus::parse(&s).ok_or_else(|| conv(UnknownValue(s)))?, r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn list_records(&mut self, q: &RecordQuery) -> StoreResult<(Vec<InspectionRecord>, u64)> {
        let (where_sql, args) = record_where(q, "");
        let cap = super::count_cap(q);
        let total = match super::flagged_count(q, |n| format!("?{n}"), ts, "CROSS JOIN", cap) {
            Some((sql, args)) => {
                self.conn.query_row(&sql, rusqlite::params_from_iter(args.iter()), |r| r.get::<_, i64>(0))?
                    as u64
            }
            None => self.count_capped(q, &where_sql, &args, LIST_COUNT_CAP)?,
        };
        let flagged = match super::flagged_from(q, |n| format!("?{n}"), ts, "CROSS JOIN") {
            // A flag few records carry (a photo reused somewhere in the province): start from
            // those flags and sort them, instead of walking every record for the few that have
            // it (9.7 s at a million records for a flag none had).
            Some((from_where, fargs)) if total <= cap => Some((
                format!(
                    "SELECT {RECORD_COLS_R} {from_where} GROUP BY r.id
                      ORDER BY r.received_at DESC, r.id DESC LIMIT {} OFFSET {}",
                    q.limit, q.offset
                ),
                fargs,
            )),
            _ => None,
        };
        // As for exports: past the cap, walk the arrival index instead of sorting the matches.
        let (sql, args) = flagged.unwrap_or_else(|| {
            let from = if total > cap || by_arrival(q) {
                "records INDEXED BY records_received"
            } else {
                "records"
            };
            let sql = format!(
                "SELECT {RECORD_COLS} FROM {from} WHERE {where_sql} ORDER BY received_at DESC, id DESC LIMIT {} OFFSET {}",
                q.limit, q.offset
            );
            (sql, args)
        });
        let rows: Vec<RecordRow> = {
            let mut st = self.conn.prepare_cached(&sql)?;
            st.query_map(rusqlite::params_from_iter(args.iter()), record_row)?.collect::<Result<_, _>>()?
        };
        let records = rows.into_iter().map(|r| self.load_record(r)).collect::<StoreResult<Vec<_>>>()?;
        Ok((records, total))
    }

    fn for_each_record(
        &mut self,
        q: &RecordQuery,
        f: &mut dyn FnMut(&InspectionRecord) -> bool,
    ) -> StoreResult<()> {
        let (where_sql, args) = record_where(q, "r.");
        let sql = format!(
            "SELECT r.id, r.site_id, r.village, r.submitted_by, r.device_id, r.current_version, r.status,
                    r.review, r.received_at, r.change_seq, r.kind, v.data
             FROM records r JOIN versions v ON v.record_id = r.id AND v.version = r.current_version
             WHERE {where_sql} ORDER BY r.received_at DESC, r.id DESC"
        );
        let mut st = self.conn.prepare(&sql)?;
        let mut rows = st.query(rusqlite::params_from_iter(args.iter()))?;
        while let Some(r) = rows.next()? {
            let row = record_row(r)?;
            let inspection: Inspection = json_col(r.get(11)?)?;
            if !f(&row.to_record(inspection)) {
                break;
            }
        }
        Ok(())
    }

    fn count_versions(&mut self) -> StoreResult<u64> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM versions", [], |r| r.get::<_, i64>(0))? as u64)
    }

    fn for_each_export_row(
        &mut self,
        q: &RecordQuery,
        f: &mut dyn FnMut(&ExportRow<'_>) -> bool,
    ) -> StoreResult<()> {
        let (where_sql, args) = record_where(q, "r.");
        // Newest first without sorting more than EXPORT_SORT_MAX rows in memory: a large
        // selection walks the arrival index backwards and filters; a small one (a township)
        // is found through its villages and sorted.
        let (plain_where, plain_args) = record_where(q, "");
        let placeholder = |n: usize| format!("?{n}");
        let few_flagged = match super::flagged_count(q, placeholder, ts, "CROSS JOIN", EXPORT_SORT_MAX) {
            Some((sql, cargs)) => {
                let n: i64 =
                    self.conn.query_row(&sql, rusqlite::params_from_iter(cargs.iter()), |r| r.get(0))?;
                n as u64 <= EXPORT_SORT_MAX
            }
            None => false,
        };
        let (sql, args) = if few_flagged
            && let Some((from_where, fargs)) = super::flagged_from(q, placeholder, ts, "CROSS JOIN")
        {
            // Few records carry the flag: start from the flags, as the queue does.
            let (cols, joins) =
                EXPORT_SELECT.split_once("FROM records r").expect("EXPORT_SELECT reads records r");
            let from_where = from_where.replacen(" WHERE ", &format!(" {joins} WHERE "), 1);
            (format!("{cols} {from_where} GROUP BY r.id ORDER BY r.received_at DESC, r.id DESC"), fargs)
        } else {
            let from = if by_arrival(q)
                || q.flag.is_some()
                || self.count_capped(q, &plain_where, &plain_args, EXPORT_SORT_MAX)? > EXPORT_SORT_MAX
            {
                EXPORT_SELECT.replace("FROM records r", "FROM records r INDEXED BY records_received")
            } else {
                EXPORT_SELECT.to_string()
            };
            (format!("{from} WHERE {where_sql} ORDER BY r.received_at DESC, r.id DESC"), args)
        };
        let mut st = self.conn.prepare(&sql)?;
        let mut rows = st.query(rusqlite::params_from_iter(args.iter()))?;
        while let Some(r) = rows.next()? {
            let text = |n: usize| -> rusqlite::Result<&str> {
                match r.get_ref(n)? {
                    rusqlite::types::ValueRef::Null => Ok(""),
                    v => v
                        .as_str()
                        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(n, v.data_type(), e.into())),
                }
            };
            let row = ExportRow {
                id: text(0)?,
                version: r.get(1)?,
                status: text(2)?,
                kind: text(3)?,
                site_id: text(4)?,
                site_name: text(5)?,
                village: text(6)?,
                received_at: text(7)?,
                device_time: text(8)?,
                lng: r.get(9)?,
                lat: r.get(10)?,
                accuracy_m: r.get(11)?,
                fix_count: r.get(12)?,
                position_source: text(13)?,
                manual_reason: text(14)?,
                photos: text(15)?,
                notes: text(16)?,
                comment: match r.get_ref(17)? {
                    rusqlite::types::ValueRef::Null => None,
                    _ => Some(text(17)?),
                },
                flag_kinds: text(18)?,
                flags_zh: text(19)?,
                flags_json: text(20)?,
            };
            if !f(&row) {
                break;
            }
        }
        Ok(())
    }

    fn put_version_export(&mut self, e: &VersionExport, flags: &ExportFlags) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO version_exports (record_id, version, device_time, lng, lat, accuracy_m,
                    fix_count, position_source, manual_reason, photos, notes, flag_kinds, flags_zh, flags_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?
            .execute(params![
                e.record_id.to_string(),
                e.version,
                e.device_time,
                e.lng,
                e.lat,
                e.accuracy_m,
                e.fix_count,
                e.position_source,
                e.manual_reason,
                e.photos,
                e.notes,
                flags.kinds,
                flags.zh,
                flags.json,
            ])?;
        Ok(())
    }

    fn version_export(&mut self, record: &InspectionId, version: u32) -> StoreResult<Option<StoredExport>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT device_time, lng, lat, accuracy_m, fix_count, position_source, manual_reason, photos,
                        notes, flag_kinds, flags_zh, flags_json
                   FROM version_exports WHERE record_id = ?1 AND version = ?2",
            )?
            .query_row(params![record.to_string(), version], |r| {
                Ok(StoredExport {
                    device_time: r.get(0)?,
                    lng: r.get(1)?,
                    lat: r.get(2)?,
                    accuracy_m: r.get(3)?,
                    fix_count: r.get(4)?,
                    position_source: r.get(5)?,
                    manual_reason: r.get(6)?,
                    photos: r.get(7)?,
                    notes: r.get(8)?,
                    flag_kinds: r.get(9)?,
                    flags_zh: r.get(10)?,
                    flags_json: r.get(11)?,
                })
            })
            .optional()?)
    }

    fn versions_without_export(&mut self, limit: u32) -> StoreResult<Vec<Inspection>> {
        let mut st = self.conn.prepare_cached(
            "SELECT v.data FROM versions v WHERE NOT EXISTS
               (SELECT 1 FROM version_exports e WHERE e.record_id = v.record_id AND e.version = v.version)
             LIMIT ?1",
        )?;
        let rows = st.query_map([limit], |r| json_col(r.get(0)?))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn blob_size(&mut self, sha256: &str) -> StoreResult<Option<u64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT size FROM blobs WHERE sha256 = ?1")?
            .query_row([sha256], |r| r.get::<_, i64>(0))
            .optional()?
            .map(|n| n as u64))
    }

    fn insert_blob(&mut self, sha256: &str, size: u64, at: OffsetDateTime) -> StoreResult<()> {
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO blobs (sha256, size, created_at) VALUES (?1, ?2, ?3)")?
            .execute(params![sha256, size as i64, ts(at)])?;
        Ok(())
    }

    fn link_blob(&mut self, sha256: &str, record: &InspectionId, version: u32) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO blob_links (sha256, record_id, version) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![sha256, record.to_string(), version])?;
        Ok(())
    }

    fn records_naming_blob(&mut self, sha256: &str) -> StoreResult<Vec<RecordRow>> {
        let sql = format!(
            "SELECT {RECORD_COLS} FROM records WHERE id IN
             (SELECT record_id FROM blob_links WHERE sha256 = ?1)"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map([sha256], record_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn record_ids_naming_blob(&mut self, sha256: &str) -> StoreResult<Vec<InspectionId>> {
        // The links' primary key starts with the hash: no records row is read (a join to
        // records made this the costliest look-up of a checked push).
        let mut st = self.conn.prepare_cached(
            "SELECT DISTINCT record_id FROM blob_links WHERE sha256 = ?1 ORDER BY record_id",
        )?;
        let rows = st.query_map([sha256], |r| Ok(InspectionId(uuid_col(r.get(0)?)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn count_blobs(&mut self) -> StoreResult<u64> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM blobs", [], |r| r.get::<_, i64>(0))? as u64)
    }

    fn blobs_page(&mut self, after: &str, limit: u32) -> StoreResult<Vec<(String, u64)>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT sha256, size FROM blobs WHERE sha256 > ?1 ORDER BY sha256 LIMIT ?2")?;
        let rows = st.query_map(params![after, limit], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn add_counter(&mut self, key: &CounterKey, delta: i64) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO counters (region, metric, year, value) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (region, metric, year) DO UPDATE SET value = value + excluded.value",
            )?
            .execute(params![key.region.as_str(), key.metric, key.year, delta])?;
        Ok(())
    }

    fn counter(&mut self, key: &CounterKey) -> StoreResult<i64> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM counters WHERE region = ?1 AND metric = ?2 AND year = ?3")?
            .query_row(params![key.region.as_str(), key.metric, key.year], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }

    fn all_counters(&mut self) -> StoreResult<Vec<(CounterKey, i64)>> {
        let mut st = self
            .conn
            .prepare("SELECT region, metric, year, value FROM counters WHERE value != 0 ORDER BY 1, 2, 3")?;
        let rows = st.query_map([], |r| {
            Ok((CounterKey { region: region_col(r.get(0)?)?, metric: r.get(1)?, year: r.get(2)? }, r.get(3)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn upsert_target(&mut self, t: &shared::target::Target) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO targets (year, region, metric, value, monthly_plan) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (year, region, metric) DO UPDATE SET value = excluded.value,
                        monthly_plan = excluded.monthly_plan",
            )?
            .execute(params![
                t.year,
                t.region.as_str(),
                t.metric.as_str(),
                t.value,
                serde_json::to_string(&t.monthly_plan)?
            ])?;
        Ok(())
    }

    fn targets(&mut self, year: i32, region: &RegionCode) -> StoreResult<Vec<shared::target::Target>> {
        let mut st = self.conn.prepare_cached(
            "SELECT metric, value, monthly_plan FROM targets WHERE year = ?1 AND region = ?2 ORDER BY metric",
        )?;
        let rows = st.query_map(params![year, region.as_str()], |r| {
            let m: String = r.get(0)?;
            Ok(shared::target::Target {
                year,
                region: *region,
                metric: shared::target::TargetMetric::parse(&m).ok_or_else(|| conv(UnknownValue(m)))?,
                value: r.get(1)?,
                monthly_plan: json_col(r.get(2)?)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn audit_head(&mut self) -> StoreResult<Option<(u64, String)>> {
        Ok(self
            .conn
            .prepare_cached("SELECT id, hash FROM audit WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?)))
            .optional()?)
    }

    fn insert_audit(&mut self, seq: u64, a: &AuditEntry, hash: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO audit (id, at, user_id, device_id, action, entity, entity_id, detail, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                seq as i64,
                ts(a.at),
                a.user_id.map(|u| u.to_string()),
                a.device_id.map(|d| d.to_string()),
                a.action,
                a.entity,
                a.entity_id,
                serde_json::to_string(&a.detail)?,
                hash
            ])?;
        Ok(())
    }

    fn audit_page(&mut self, after: u64, limit: u32) -> StoreResult<Vec<(u64, AuditEntry, Option<String>)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, at, user_id, device_id, action, entity, entity_id, detail, hash FROM audit
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = st.query_map(params![after as i64, limit], |r| {
            Ok((r.get::<_, i64>(0)? as u64, audit_row(r, 1)?, r.get::<_, Option<String>>(8)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn set_audit_hash(&mut self, seq: u64, hash: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached("UPDATE audit SET hash = ?2 WHERE id = ?1 AND hash IS NULL")?
            .execute(params![seq as i64, hash])?;
        Ok(())
    }

    fn audit_for(&mut self, entity_id: &str) -> StoreResult<Vec<AuditEntry>> {
        let mut st = self.conn.prepare_cached(
            "SELECT at, user_id, device_id, action, entity, entity_id, detail FROM audit
             WHERE entity_id = ?1 ORDER BY id",
        )?;
        let rows = st.query_map([entity_id], |r| audit_row(r, 0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn issue_number_block(
        &mut self,
        kind: DocumentKind,
        year: i32,
        size: u32,
        device: &DeviceId,
        now: OffsetDateTime,
    ) -> StoreResult<NumberBlock> {
        // Writers are serialised (BEGIN IMMEDIATE), so read-then-update hands out each serial once.
        let next: i64 = self
            .conn
            .prepare_cached("SELECT next FROM document_serials WHERE kind = ?1 AND year = ?2")?
            .query_row(params![kind.as_str(), year], |r| r.get(0))
            .optional()?
            .unwrap_or(1);
        let last = next + i64::from(size) - 1;
        if last > i64::from(u32::MAX) {
            return Err(StoreError::Backend("document serials exhausted".into()));
        }
        self.conn
            .prepare_cached(
                "INSERT INTO document_serials (kind, year, next) VALUES (?1, ?2, ?3)
                 ON CONFLICT (kind, year) DO UPDATE SET next = excluded.next",
            )?
            .execute(params![kind.as_str(), year, last + 1])?;
        self.conn
            .prepare_cached(
                "INSERT INTO document_number_blocks (kind, year, first, last, device_id, issued_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![kind.as_str(), year, next, last, device.to_string(), ts(now)])?;
        Ok(NumberBlock { kind, year, first: next as u32, last: last as u32 })
    }

    fn number_blocks(&mut self, device: &DeviceId) -> StoreResult<Vec<NumberBlock>> {
        let mut st = self.conn.prepare_cached(
            "SELECT kind, year, first, last FROM document_number_blocks WHERE device_id = ?1
             ORDER BY kind, year, first",
        )?;
        let rows = st.query_map([device.to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i32>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, year, first, last) = row?;
            let kind = DocumentKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("document kind {kind}")))?;
            out.push(NumberBlock { kind, year, first: first as u32, last: last as u32 });
        }
        Ok(out)
    }

    fn number_block_device(&mut self, n: &DocumentNumber) -> StoreResult<Option<DeviceId>> {
        // Blocks never overlap: the one starting nearest below the serial is the only candidate.
        let row: Option<(String, i64)> = self
            .conn
            .prepare_cached(
                "SELECT device_id, last FROM document_number_blocks
                 WHERE kind = ?1 AND year = ?2 AND first <= ?3 ORDER BY first DESC LIMIT 1",
            )?
            .query_row(params![n.kind.as_str(), n.year, i64::from(n.serial)], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match row {
            Some((dev, last)) if last >= i64::from(n.serial) => {
                Ok(Some(dev.parse().map_err(|_| StoreError::Corrupt(format!("device id {dev}")))?))
            }
            _ => Ok(None),
        }
    }

    fn document_number_record(&mut self, n: &DocumentNumber) -> StoreResult<Option<InspectionId>> {
        let id: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT record_id FROM document_numbers WHERE kind = ?1 AND year = ?2 AND serial = ?3",
            )?
            .query_row(params![n.kind.as_str(), n.year, i64::from(n.serial)], |r| r.get(0))
            .optional()?;
        id.map(|s| s.parse().map_err(|_| StoreError::Corrupt(format!("record id {s}")))).transpose()
    }

    fn use_document_number(
        &mut self,
        n: &DocumentNumber,
        record: &InspectionId,
        version: u32,
        device: &DeviceId,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let changed = self
            .conn
            .prepare_cached(
                "INSERT INTO document_numbers (kind, year, serial, record_id, version, device_id, used_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                n.kind.as_str(),
                n.year,
                i64::from(n.serial),
                record.to_string(),
                version,
                device.to_string(),
                ts(now)
            ])?;
        Ok(changed == 1)
    }

    fn login_attempts(&mut self, username: &str) -> StoreResult<Option<(i64, u32)>> {
        Ok(self
            .conn
            .prepare_cached("SELECT window_start, attempts FROM login_attempts WHERE username = ?1")?
            .query_row([username], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn set_login_attempts(&mut self, username: &str, window_start_ms: i64, attempts: u32) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO login_attempts (username, window_start, attempts) VALUES (?1, ?2, ?3)
                 ON CONFLICT (username) DO UPDATE SET window_start = excluded.window_start,
                        attempts = excluded.attempts",
            )?
            .execute(params![username, window_start_ms, attempts])?;
        Ok(())
    }

    fn clear_login_attempts(&mut self, username: &str) -> StoreResult<()> {
        self.conn.prepare_cached("DELETE FROM login_attempts WHERE username = ?1")?.execute([username])?;
        Ok(())
    }

    fn prune_login_attempts(&mut self, started_before_ms: i64) -> StoreResult<u64> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM login_attempts WHERE window_start < ?1")?
            .execute([started_before_ms])?;
        Ok(n as u64)
    }

    fn count_audit(&mut self) -> StoreResult<u64> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM audit", [], |r| r.get::<_, i64>(0))? as u64)
    }

    fn insert_fingerprint(&mut self, sha256: &str, fp: Option<u64>) -> StoreResult<()> {
        self.fp_pending.extend(fp);
        let bands = fp.map(crate::fingerprint::bands);
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO photo_fingerprints (sha256, fp, b0, b1, b2, b3)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                sha256,
                fp.map(|f| f as i64),
                bands.map(|b| b[0]),
                bands.map(|b| b[1]),
                bands.map(|b| b[2]),
                bands.map(|b| b[3]),
            ])?;
        Ok(())
    }

    fn fingerprint(&mut self, sha256: &str) -> StoreResult<Option<u64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT fp FROM photo_fingerprints WHERE sha256 = ?1")?
            .query_row([sha256], |r| r.get::<_, Option<i64>>(0))
            .optional()?
            .flatten()
            .map(|f| f as u64))
    }

    fn near_fingerprints(&mut self, fp: u64, max: u32) -> StoreResult<Vec<(String, u64)>> {
        let mut near = self.fp_index.read().unwrap_or_else(|p| p.into_inner()).near(fp, max);
        near.extend(self.fp_pending.iter().filter(|o| crate::fingerprint::distance(fp, **o) <= max));
        near.sort_unstable();
        near.dedup();
        let mut st = self.conn.prepare_cached("SELECT sha256 FROM photo_fingerprints WHERE fp = ?1")?;
        let mut out = Vec::new();
        for f in near {
            for sha in st.query_map([f as i64], |r| r.get::<_, String>(0))? {
                out.push((sha?, f));
            }
        }
        Ok(out)
    }

    fn blobs_without_fingerprint(&mut self, after: &str, limit: u32) -> StoreResult<Vec<String>> {
        let mut st = self.conn.prepare_cached(
            "SELECT b.sha256 FROM blobs b WHERE b.sha256 > ?1
               AND NOT EXISTS (SELECT 1 FROM photo_fingerprints f WHERE f.sha256 = b.sha256)
             ORDER BY b.sha256 LIMIT ?2",
        )?;
        let rows = st.query_map(params![after, limit], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn upsert_visit(&mut self, v: &Visit) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO visits
                   (record_id, user_id, site_id, at_ms, lng, lat, accuracy_m, position_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                v.record_id.to_string(),
                v.user_id.to_string(),
                v.site_id.to_string(),
                v.at_ms,
                v.position.map(|p| p.0),
                v.position.map(|p| p.1),
                v.accuracy_m,
                v.position_key,
            ])?;
        Ok(())
    }

    fn visit_before(
        &mut self,
        user: &UserId,
        at_ms: i64,
        exclude: &InspectionId,
    ) -> StoreResult<Option<Visit>> {
        let sql = format!(
            "SELECT {VISIT_COLS} FROM visits WHERE user_id = ?1 AND at_ms <= ?2 AND record_id <> ?3
             ORDER BY at_ms DESC LIMIT 1"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![user.to_string(), at_ms, exclude.to_string()], visit_row)
            .optional()?)
    }

    fn visit_after(
        &mut self,
        user: &UserId,
        at_ms: i64,
        exclude: &InspectionId,
    ) -> StoreResult<Option<Visit>> {
        let sql = format!(
            "SELECT {VISIT_COLS} FROM visits WHERE user_id = ?1 AND at_ms >= ?2 AND record_id <> ?3
             ORDER BY at_ms LIMIT 1"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![user.to_string(), at_ms, exclude.to_string()], visit_row)
            .optional()?)
    }

    fn visits_at(&mut self, position_key: &str, limit: u32) -> StoreResult<Vec<Visit>> {
        let sql = format!("SELECT {VISIT_COLS} FROM visits WHERE position_key = ?1 LIMIT ?2");
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map(params![position_key, limit], visit_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn replace_credential_visits(
        &mut self,
        record: &InspectionId,
        visits: &[CredentialVisit],
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached("DELETE FROM credential_visits WHERE record_id = ?1")?
            .execute([record.to_string()])?;
        let mut st = self.conn.prepare_cached(
            "INSERT OR REPLACE INTO credential_visits
               (credential_no, record_id, officer, started_ms, ended_ms, lng, lat, place)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for v in visits {
            st.execute(params![
                v.credential_no,
                v.record_id.to_string(),
                v.officer,
                v.started_ms,
                v.ended_ms,
                v.position.map(|p| p.0),
                v.position.map(|p| p.1),
                v.place,
            ])?;
        }
        Ok(())
    }

    fn credential_visits_overlapping(
        &mut self,
        credential_no: &str,
        started_ms: i64,
        ended_ms: i64,
    ) -> StoreResult<Vec<CredentialVisit>> {
        // An on-site check lasts hours, not days: starts more than a day before this one ends
        // cannot overlap, which keeps the index range short for an officer with years of
        // records.
        let mut st = self.conn.prepare_cached(
            "SELECT credential_no, record_id, officer, started_ms, ended_ms, lng, lat, place
             FROM credential_visits
             WHERE credential_no = ?1 AND started_ms <= ?3 AND started_ms >= ?3 - 86400000 AND ended_ms >= ?2",
        )?;
        let rows = st.query_map(params![credential_no, started_ms, ended_ms], credential_visit_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn insert_photo_original(
        &mut self,
        original: &str,
        record: &InspectionId,
        version: u32,
        photo: usize,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO photo_originals (original_sha256, record_id, version, photo)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![original, record.to_string(), version, photo as i64])?;
        Ok(())
    }

    fn photo_originals(&mut self, original: &str) -> StoreResult<Vec<(InspectionId, u32, usize)>> {
        let mut st = self.conn.prepare_cached(
            "SELECT record_id, version, photo FROM photo_originals WHERE original_sha256 = ?1 LIMIT 100",
        )?;
        let rows = st.query_map([original], |r| {
            Ok((InspectionId(uuid_col(r.get(0)?)?), r.get(1)?, r.get::<_, i64>(2)? as usize))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn evidence_since(&mut self, seq: u64, rows: bool) -> StoreResult<EvidenceDelta> {
        const CHANGED: &str = "SELECT id FROM records WHERE change_seq > ?1";
        let seq = seq as i64;
        let mut out = EvidenceDelta::default();
        let mut st = self.conn.prepare_cached(CHANGED)?;
        for r in st.query_map([seq], |r| Ok(InspectionId(uuid_col(r.get(0)?)?)))? {
            out.records.push(r?);
        }
        if out.records.is_empty() || !rows {
            return Ok(out);
        }
        let sql = format!("SELECT {VISIT_COLS} FROM visits WHERE record_id IN ({CHANGED})");
        for v in self.conn.prepare_cached(&sql)?.query_map([seq], visit_row)? {
            out.visits.push(v?);
        }
        let sql = format!(
            "SELECT credential_no, record_id, officer, started_ms, ended_ms, lng, lat, place
             FROM credential_visits WHERE record_id IN ({CHANGED})"
        );
        for v in self.conn.prepare_cached(&sql)?.query_map([seq], credential_visit_row)? {
            out.credential_visits.push(v?);
        }
        let sql = format!(
            "SELECT l.sha256, l.record_id, f.fp FROM blob_links l
             LEFT JOIN photo_fingerprints f ON f.sha256 = l.sha256
             WHERE l.record_id IN ({CHANGED})"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        for l in st.query_map([seq], |r| {
            Ok((r.get(0)?, InspectionId(uuid_col(r.get(1)?)?), r.get::<_, Option<i64>>(2)?.map(|f| f as u64)))
        })? {
            out.links.push(l?);
        }
        let sql = format!(
            "SELECT original_sha256, record_id, version, photo FROM photo_originals
             WHERE record_id IN ({CHANGED})"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        for o in st.query_map([seq], |r| {
            Ok((r.get(0)?, InspectionId(uuid_col(r.get(1)?)?), r.get(2)?, r.get::<_, i64>(3)? as usize))
        })? {
            out.originals.push(o?);
        }
        Ok(out)
    }

    fn device_clock(&mut self, device: &DeviceId) -> StoreResult<Option<DeviceClock>> {
        Ok(self
            .conn
            .prepare_cached("SELECT clock_skew_ms, clock_read_ms FROM devices WHERE id = ?1")?
            .query_row([device.to_string()], |r| {
                let skew: Option<i64> = r.get(0)?;
                let read: Option<i64> = r.get(1)?;
                Ok(skew.zip(read).map(|(skew_ms, read_ms)| DeviceClock { skew_ms, read_ms }))
            })
            .optional()?
            .flatten())
    }

    fn set_device_clock(&mut self, device: &DeviceId, clock: &DeviceClock) -> StoreResult<()> {
        self.conn
            .prepare_cached("UPDATE devices SET clock_skew_ms = ?2, clock_read_ms = ?3 WHERE id = ?1")?
            .execute(params![device.to_string(), clock.skew_ms, clock.read_ms])?;
        Ok(())
    }

    fn insert_flags(&mut self, rows: &[FlagRow]) -> StoreResult<()> {
        for group in rows.chunk_by(|a, b| (a.record_id, a.version) == (b.record_id, b.version)) {
            let flags: Vec<_> = group.iter().map(|r| r.flag.clone()).collect();
            let e = ExportFlags::of(&flags);
            self.conn
                .prepare_cached(
                    "UPDATE version_exports SET flag_kinds = ?3, flags_zh = ?4, flags_json = ?5
                      WHERE record_id = ?1 AND version = ?2",
                )?
                .execute(params![group[0].record_id.to_string(), group[0].version, e.kinds, e.zh, e.json])?;
        }
        let mut st = self.conn.prepare_cached(
            "INSERT INTO version_flags
               (record_id, version, n, kind, flag, village, user_id, received_ms, cites_blob)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for (n, row) in rows.iter().enumerate() {
            let cites = match &row.flag {
                shared::flags::Flag::PhotoReuse { other_sha256, .. } => Some(other_sha256.as_str()),
                _ => None,
            };
            st.execute(params![
                row.record_id.to_string(),
                row.version,
                n as i64,
                row.flag.kind(),
                serde_json::to_string(&row.flag)?,
                row.village.to_string(),
                row.user_id.to_string(),
                unix_ms(row.received_at),
                cites,
            ])?;
        }
        Ok(())
    }

    fn flags_of(
        &mut self,
        record: &InspectionId,
        version: u32,
    ) -> StoreResult<Option<Vec<shared::flags::Flag>>> {
        let checked: Option<bool> = self
            .conn
            .prepare_cached("SELECT flags_checked FROM versions WHERE record_id = ?1 AND version = ?2")?
            .query_row(params![record.to_string(), version], |r| r.get(0))
            .optional()?;
        if checked != Some(true) {
            return Ok(None);
        }
        let mut st = self.conn.prepare_cached(
            "SELECT flag FROM version_flags WHERE record_id = ?1 AND version = ?2 ORDER BY n",
        )?;
        let rows = st.query_map(params![record.to_string(), version], |r| json_col(r.get(0)?))?;
        Ok(Some(rows.collect::<Result<_, _>>()?))
    }

    fn records_citing_blob(&mut self, sha256: &str) -> StoreResult<Vec<RecordRow>> {
        let sql = format!(
            "SELECT {RECORD_COLS} FROM records WHERE id IN
             (SELECT record_id FROM version_flags WHERE cites_blob = ?1)"
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map([sha256], record_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn for_each_flag(
        &mut self,
        lo: &str,
        hi: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
        f: &mut dyn FnMut(FlagRow),
    ) -> StoreResult<()> {
        let mut st = self.conn.prepare_cached(
            "SELECT f.record_id, f.version, f.flag, f.village, f.user_id, f.received_ms
             FROM version_flags f JOIN records r ON r.id = f.record_id AND r.current_version = f.version
             WHERE f.village BETWEEN ?1 AND ?2 AND f.received_ms >= ?3 AND f.received_ms < ?4",
        )?;
        let mut rows = st.query(params![lo, hi, unix_ms(from), unix_ms(to)])?;
        while let Some(r) = rows.next()? {
            f(FlagRow {
                record_id: InspectionId(uuid_col(r.get(0)?)?),
                version: r.get(1)?,
                flag: json_col(r.get(2)?)?,
                village: region_col(r.get(3)?)?,
                user_id: UserId(uuid_col(r.get(4)?)?),
                received_at: from_unix_ms(r.get(5)?),
            });
        }
        Ok(())
    }
}

fn webhook_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WebhookRow> {
    Ok(WebhookRow {
        id: r.get(0)?,
        owner: UserId(uuid_col(r.get(1)?)?),
        url: r.get(2)?,
        secret: r.get(3)?,
        events: r.get(4)?,
        created_at: parse_ts(&r.get::<_, String>(5)?)?,
        cursor: r.get::<_, i64>(6)? as u64,
        delivered: r.get::<_, i64>(7)? as u64,
        given_up: r.get::<_, i64>(8)? as u64,
        attempts: r.get(9)?,
        failing_since: r.get(10)?,
        next_attempt_at: r.get(11)?,
        last_status: r.get(12)?,
        last_error: r.get(13)?,
        last_attempt_at: r.get(14)?,
        lease_until: r.get(15)?,
    })
}

fn service_account_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ServiceAccountRow> {
    Ok(ServiceAccountRow {
        user_id: UserId(uuid_col(r.get(0)?)?),
        purpose: r.get(1)?,
        created_by: UserId(uuid_col(r.get(2)?)?),
        created_at: parse_ts(&r.get::<_, String>(3)?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_newer_schema() {
        let dir = std::env::temp_dir().join(format!("qingliu-schema-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        drop(SqliteStore::open(&path).unwrap());
        {
            let c = Connection::open(&path).unwrap();
            c.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 'x')",
                [SCHEMA_VERSION + 1],
            )
            .unwrap();
        }
        match SqliteStore::open(&path) {
            Err(StoreError::SchemaTooNew { found, supported }) => {
                assert_eq!(found, SCHEMA_VERSION + 1);
                assert_eq!(supported, SCHEMA_VERSION);
            }
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("opened a newer schema"),
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn cached_statements_are_not_planned_again() {
        let dir = std::env::temp_dir().join(format!("qingliu-qpsg-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open(&dir.join("t.db")).unwrap();
        let conn = store.writer.lock().unwrap();
        // Shaped like the evidence look-ups: an equality another index could serve, and a
        // `LIMIT ?`, both of which made SQLite re-plan on every rebinding.
        let sql = format!(
            "SELECT {VISIT_COLS} FROM visits WHERE user_id = ?1 AND at_ms <= ?2 AND record_id <> ?3
             ORDER BY at_ms DESC LIMIT ?4"
        );
        for n in 0..3i64 {
            let mut st = conn.prepare_cached(&sql).unwrap();
            let rows: Vec<Visit> = st
                .query_map(params![format!("u{n}"), n, "r", n + 1], visit_row)
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(rows.is_empty());
            assert_eq!(st.get_status(rusqlite::StatementStatus::RePrepare), 0, "run {n}");
        }
        // A partial index is still chosen for a parameter it implies (cites_blob IS NOT NULL).
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT record_id FROM version_flags WHERE cites_blob = ?1",
                ["x"],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("version_flags_blob"), "{plan}");
        drop(conn);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn rollback_on_drop() {
        let dir = std::env::temp_dir().join(format!("qingliu-rb-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open(&dir.join("t.db")).unwrap();
        {
            let mut tx = store.write().unwrap();
            assert_eq!(tx.next_change_seq().unwrap(), 1);
            // dropped without commit
        }
        let mut tx = store.write().unwrap();
        assert_eq!(tx.next_change_seq().unwrap(), 1);
        tx.commit().unwrap();
        assert_eq!(store.read().unwrap().current_change_seq().unwrap(), 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
