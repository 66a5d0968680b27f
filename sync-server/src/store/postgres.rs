//! The scale-out backend: PostgreSQL, shared by any number of servers.
//!
//! Writers are serialised across every server by a transaction-level advisory lock taken when
//! a write transaction begins (`pg_advisory_xact_lock`), the same discipline SQLite's
//! `BEGIN IMMEDIATE` gives the embedded default. So everything the domain relies on holds on
//! both backends unchanged: the change sequence is handed out in commit order (a writer reads
//! the counter only after every earlier writer has committed, and commits before the next one
//! may read it), the audit chain's head is the entry the next one links to, and the check-then-
//! insert of exactly-once push is not a race between servers. ARCHITECTURE.md says why a lock
//! rather than a sequence object. Readers run in REPEATABLE READ READ ONLY snapshots and never
//! wait for the lock.
//!
//! The client is `tokio-postgres`, its connections driven by a small runtime the store owns,
//! and its calls awaited with a plain executor: the `Tx` methods are synchronous and are called
//! from request workers, the seed and tests alike, inside or outside a Tokio runtime.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
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
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row, Statement};

use super::*;

/// Migrations in order; the index + 1 is the schema version.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_init.sql"),
    include_str!("../../migrations/postgres/0002_login_attempts_window.sql"),
    include_str!("../../migrations/postgres/0003_evidence_by_record.sql"),
    include_str!("../../migrations/postgres/0004_version_exports.sql"),
    include_str!("../../migrations/postgres/0005_flags_by_kind.sql"),
    include_str!("../../migrations/postgres/0006_service_accounts.sql"),
    include_str!("../../migrations/postgres/0007_feed.sql"),
    include_str!("../../migrations/postgres/0008_webhooks.sql"),
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The advisory lock every write transaction holds until it ends ("QLWR").
pub const WRITE_LOCK: i64 = 0x514c_5752;
/// The advisory lock migrations run under, so that servers starting together migrate once.
const MIGRATE_LOCK: i64 = 0x514c_4d47;

/// How long a request waits for a pooled connection before it fails (and the client retries).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 256;

type Param<'a> = &'a (dyn ToSql + Sync);

pub struct PgStore {
    config: tokio_postgres::Config,
    runtime: Option<tokio::runtime::Runtime>,
    /// Connections for read transactions, and apart from them the few for write transactions:
    /// writers queue for the write lock while holding a connection, and a burst of pushes must
    /// not take every connection from pulls, queues and the health check.
    readers: Pool,
    writers: Pool,
}

struct Pool {
    state: Mutex<PoolState>,
    freed: Condvar,
    max: usize,
}

impl Pool {
    fn new(max: usize) -> Pool {
        Pool { state: Mutex::new(PoolState::default()), freed: Condvar::new(), max: max.max(1) }
    }
}

#[derive(Default)]
struct PoolState {
    idle: Vec<PgConn>,
    /// Connections open, idle or lent out.
    open: usize,
}

struct PgConn {
    client: tokio_postgres::Client,
    statements: HashMap<String, Statement>,
    /// An error left the connection in an unknown state: close it rather than lend it again.
    broken: bool,
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
            return StoreError::Duplicate;
        }
        // The database error's message names the constraint, never a bound value.
        match e.as_db_error() {
            // Class 08 (connection exception) and 57 (operator intervention: shutdown, restart,
            // "the database system is starting up"): nothing was changed; try again.
            Some(db) if matches!(&db.code().code()[..2], "08" | "57") => {
                StoreError::Unavailable(format!("postgres {}: {}", db.code().code(), db.message()))
            }
            Some(db) => StoreError::Backend(format!("postgres {}: {}", db.code().code(), db.message())),
            // No answer from the server at all: a closed socket, a refused connection.
            None if e.is_closed()
                || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()) =>
            {
                StoreError::Unavailable(format!("postgres: {e}"))
            }
            None => StoreError::Backend(format!("postgres: {e}")),
        }
    }
}

fn wait<F: Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// Run `f` on `rt` and wait for its output from any thread, inside a Tokio runtime or not.
/// The answer comes back on a futures channel rather than through the task's `JoinHandle`:
/// polling a `JoinHandle` spends the cooperative budget of the Tokio task the caller may be
/// running in, and once that is spent the handle answers "pending, poll again" for ever (the
/// caller's task never yields to refill it) — a busy loop.
pub(crate) fn run_on<T: Send + 'static>(
    rt: &tokio::runtime::Runtime,
    f: impl Future<Output = T> + Send + 'static,
) -> Option<T> {
    let (tx, rx) = futures::channel::oneshot::channel();
    rt.spawn(async move {
        let _ = tx.send(f.await);
    });
    wait(rx).ok()
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl PgStore {
    /// Connect to `url` (`postgres://user@host:port/db`), apply pending migrations, and keep
    /// at most `pool_size` connections (a quarter of them for writes, which run one at a time
    /// across the cluster anyway). Refuses a database written by a newer schema.
    pub fn open(url: &str, pool_size: usize) -> StoreResult<Self> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Backend(format!("invalid database url: {e}")))?;
        config.connect_timeout(Duration::from_secs(5));
        config.application_name("qingliu-sync-server");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("qingliu-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(format!("postgres runtime: {e}")))?;
        let store = PgStore {
            config,
            runtime: Some(runtime),
            readers: Pool::new(pool_size.max(2) - (pool_size / 4).max(1)),
            writers: Pool::new((pool_size / 4).max(1)),
        };
        store.migrate()?;
        Ok(store)
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("runtime lives as long as the store")
    }

    fn connect(&self) -> StoreResult<PgConn> {
        let config = self.config.clone();
        let client = run_on(self.runtime(), async move {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "postgres connection ended");
                }
            });
            Ok::<_, tokio_postgres::Error>(client)
        })
        .ok_or_else(|| StoreError::Backend("postgres connect task ended".into()))??;
        Ok(PgConn { client, statements: HashMap::new(), broken: false })
    }

    /// Lend a connection: an idle one, a new one while fewer than `max` are open, or the first
    /// one given back within [`ACQUIRE_TIMEOUT`].
    fn get<'a>(&'a self, from: &'a Pool) -> StoreResult<Pooled<'a>> {
        let deadline = Instant::now() + ACQUIRE_TIMEOUT;
        let mut pool = from.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(conn) = pool.idle.pop() {
                if conn.client.is_closed() {
                    pool.open -= 1;
                    continue;
                }
                return Ok(Pooled { pool: from, conn: Some(conn) });
            }
            if pool.open < from.max {
                pool.open += 1;
                drop(pool);
                return match self.connect() {
                    Ok(conn) => Ok(Pooled { pool: from, conn: Some(conn) }),
                    Err(e) => {
                        let mut pool = from.state.lock().unwrap_or_else(|p| p.into_inner());
                        pool.open -= 1;
                        from.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StoreError::Unavailable("no database connection free".into()));
            }
            pool = from.freed.wait_timeout(pool, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// A connection inside a fresh transaction begun with `begin`. A pooled connection the
    /// database dropped meanwhile (a restart) is noticed here and replaced, so a request after
    /// the database came back does not fail for it.
    fn begin<'a>(&'a self, from: &'a Pool, begin: &str) -> StoreResult<PgTx<'a>> {
        let mut last = None;
        for _ in 0..3 {
            let mut conn = self.get(from)?;
            match wait(conn.client().batch_execute(begin)) {
                Ok(()) => {
                    return Ok(PgTx {
                        conn,
                        done: false,
                        seq: None,
                        seq_dirty: false,
                        pending: Vec::new(),
                        audit_head: None,
                    });
                }
                Err(e) => {
                    conn.mark_broken();
                    if !e.is_closed() && e.as_db_error().is_some() {
                        return Err(e.into());
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.map(StoreError::from).unwrap_or_else(|| StoreError::Unavailable("no connection".into())))
    }

    fn migrate(&self) -> StoreResult<()> {
        let mut conn = self.get(&self.writers)?;
        let c = conn.client();
        let res = wait(async {
            c.batch_execute(&format!(
                "SELECT pg_advisory_lock({MIGRATE_LOCK});
                 CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)"
            ))
            .await?;
            let current: i64 =
                c.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await?.get(0);
            if current > SCHEMA_VERSION {
                return Ok(Err(StoreError::SchemaTooNew { found: current, supported: SCHEMA_VERSION }));
            }
            for (n, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
                let version = n as i64 + 1;
                c.batch_execute("BEGIN").await?;
                let applied = async {
                    c.batch_execute(sql).await?;
                    c.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                        &[&version, &ts(OffsetDateTime::now_utc())],
                    )
                    .await
                }
                .await;
                match applied {
                    Ok(_) => c.batch_execute("COMMIT").await?,
                    Err(e) => {
                        let _ = c.batch_execute("ROLLBACK").await;
                        return Err(e);
                    }
                }
                tracing::info!(version, "applied postgres migration");
            }
            Ok(Ok(()))
        });
        let unlocked = wait(c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATE_LOCK})")));
        let res = res.map_err(StoreError::from).and_then(|r| r);
        if res.is_err() || unlocked.is_err() {
            conn.mark_broken();
        }
        res
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Dropping a runtime blocks; a store may be dropped on an async worker (tests).
        if let Some(rt) = self.runtime.take() {
            for pool in [&self.readers, &self.writers] {
                pool.state.lock().unwrap_or_else(|p| p.into_inner()).idle.clear();
            }
            rt.shutdown_background();
        }
    }
}

impl Store for PgStore {
    fn write(&self) -> StoreResult<Box<dyn Tx + '_>> {
        let tx = self.begin(
            &self.writers,
            &format!("BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({WRITE_LOCK})"),
        )?;
        Ok(Box::new(tx))
    }

    fn read(&self) -> StoreResult<Box<dyn Tx + '_>> {
        Ok(Box::new(self.begin(&self.readers, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?))
    }

    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    fn schema_version(&self) -> i64 {
        SCHEMA_VERSION
    }
}

/// A lent connection, given back to the pool when dropped (or closed if it broke).
struct Pooled<'a> {
    pool: &'a Pool,
    conn: Option<PgConn>,
}

impl Pooled<'_> {
    fn conn(&mut self) -> &mut PgConn {
        self.conn.as_mut().expect("connection present until drop")
    }
    fn client(&mut self) -> &tokio_postgres::Client {
        &self.conn().client
    }
    fn mark_broken(&mut self) {
        self.conn().broken = true;
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let mut pool = self.pool.state.lock().unwrap_or_else(|p| p.into_inner());
        match self.conn.take() {
            Some(c) if !c.broken && !c.client.is_closed() => pool.idle.push(c),
            _ => pool.open -= 1,
        }
        self.pool.freed.notify_one();
    }
}

struct PgTx<'a> {
    conn: Pooled<'a>,
    done: bool,
    /// The change sequence as handed out in this transaction, written back once at commit
    /// (writers hold the write lock, so nobody interleaves).
    seq: Option<u64>,
    seq_dirty: bool,
    /// Writes whose answer nobody reads, parameters already encoded, sent together before the
    /// next read or the commit: pipelined, they cost one round trip for a whole push batch
    /// instead of one per row, and PostgreSQL runs them in the order they were made.
    pending: Vec<(Statement, Vec<Encoded>)>,
    /// The audit chain's head as this transaction last wrote or read it (writers hold the write
    /// lock, so nobody else moves it), so appending an entry does not read it back each time.
    audit_head: Option<(u64, String)>,
}

/// A parameter encoded when its write was deferred (the borrowed original is gone by the time
/// the write is sent).
#[derive(Debug)]
struct Encoded(Option<bytes::Bytes>);

impl ToSql for Encoded {
    fn to_sql(
        &self,
        _: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(match &self.0 {
            Some(b) => {
                out.extend_from_slice(b);
                tokio_postgres::types::IsNull::No
            }
            None => tokio_postgres::types::IsNull::Yes,
        })
    }

    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if !self.done && wait(self.conn.client().batch_execute("ROLLBACK")).is_err() {
            self.conn.mark_broken();
        }
    }
}

impl PgTx<'_> {
    fn statement(&mut self, sql: &str) -> StoreResult<Statement> {
        let conn = self.conn.conn();
        if let Some(s) = conn.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = wait(conn.client.prepare(sql))?;
        if conn.statements.len() >= STATEMENT_CACHE {
            conn.statements.clear();
        }
        conn.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// Queues a write (see `pending`); its parameters are type-checked and encoded now.
    fn defer(&mut self, sql: &str, params: &[Param<'_>]) -> StoreResult<()> {
        let st = self.statement(sql)?;
        if st.params().len() != params.len() {
            return Err(StoreError::Backend(format!("{} parameters for {sql}", params.len())));
        }
        let mut encoded = Vec::with_capacity(params.len());
        for (p, ty) in params.iter().zip(st.params()) {
            let mut buf = bytes::BytesMut::new();
            let value =
                match p.to_sql_checked(ty, &mut buf).map_err(|e| StoreError::Backend(e.to_string()))? {
                    tokio_postgres::types::IsNull::Yes => None,
                    tokio_postgres::types::IsNull::No => Some(buf.freeze()),
                };
            encoded.push(Encoded(value));
        }
        self.pending.push((st, encoded));
        Ok(())
    }

    fn lookup(&mut self, q: EvidenceQuestion) -> StoreResult<EvidenceAnswer> {
        let (sql, params) = lookup_query(&q);
        let refs: Vec<Param<'_>> = params.iter().map(|p| p.as_ref() as Param<'_>).collect();
        let rows = self.query(&sql, &refs)?;
        lookup_answer(&q, &rows)
    }

    /// Sends every queued write at once and waits for them all.
    fn flush(&mut self) -> StoreResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let client = self.conn.client();
        let sent = pending.iter().map(|(st, params)| client.execute_raw(st, params.iter()));
        wait(futures::future::try_join_all(sent))?;
        Ok(())
    }

    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> StoreResult<Vec<Row>> {
        self.flush()?;
        let st = self.statement(sql)?;
        Ok(wait(self.conn.client().query(&st, params))?)
    }

    fn query_opt(&mut self, sql: &str, params: &[Param<'_>]) -> StoreResult<Option<Row>> {
        self.flush()?;
        let st = self.statement(sql)?;
        Ok(wait(self.conn.client().query_opt(&st, params))?)
    }

    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> StoreResult<u64> {
        self.flush()?;
        let st = self.statement(sql)?;
        Ok(wait(self.conn.client().execute(&st, params))?)
    }

    fn count(&mut self, sql: &str) -> StoreResult<u64> {
        let row = self.query_opt(sql, &[])?.ok_or_else(|| corrupt("count returned no row"))?;
        Ok(get::<i64>(&row, 0)? as u64)
    }

    /// Stream the rows of a query to `f` (bounded memory) until it answers `false`.
    fn for_each_row(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
        f: &mut dyn FnMut(&Row) -> StoreResult<bool>,
    ) -> StoreResult<()> {
        self.flush()?;
        let st = self.statement(sql)?;
        let client = self.conn.client();
        let mut rows = Box::pin(wait(client.query_raw(&st, params.iter().copied()))?);
        while let Some(row) = wait(rows.next()) {
            if !f(&row?)? {
                break;
            }
        }
        Ok(())
    }

    fn load_record(&mut self, row: RecordRow) -> StoreResult<InspectionRecord> {
        let inspection = self
            .version(&row.id, row.current_version)?
            .ok_or_else(|| StoreError::Corrupt(format!("record {} lacks its current version", row.id)))?;
        Ok(row.to_record(inspection))
    }

    fn records_where(&mut self, sql: &str, params: &[Param<'_>]) -> StoreResult<Vec<RecordRow>> {
        self.query(sql, params)?.iter().map(record_row).collect()
    }
}

/// The export's columns of a record's current version, in [`ExportRow`] order (`WHERE …` follows).
const EXPORT_SELECT: &str = "SELECT r.id, r.current_version, r.status, r.kind, r.site_id, s.name, r.village,
        r.received_at, e.device_time, e.lng, e.lat, e.accuracy_m, e.fix_count, e.position_source,
        e.manual_reason, e.photos, e.notes, (r.review::jsonb) ->> 'comment', e.flag_kinds,
        e.flags_zh, e.flags_json
   FROM records r
   JOIN version_exports e ON e.record_id = r.id AND e.version = r.current_version
   JOIN sites s ON s.id = r.site_id";

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(r: &'a Row, i: usize) -> StoreResult<T> {
    r.try_get(i).map_err(corrupt)
}

fn ts(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(&Rfc3339).unwrap_or_default()
}

fn parse_ts(s: &str) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(corrupt)
}

fn uuid_of(s: &str) -> StoreResult<uuid::Uuid> {
    uuid::Uuid::parse_str(s).map_err(corrupt)
}

fn region_of(s: &str) -> StoreResult<RegionCode> {
    RegionCode::parse(s).map_err(corrupt)
}

/// The answer slot of the `n`th (from 1) key of an `unnest(…) WITH ORDINALITY` query.
fn ordinal_slot<T>(out: &mut [T], n: i64) -> StoreResult<&mut T> {
    usize::try_from(n - 1)
        .ok()
        .and_then(|i| out.get_mut(i))
        .ok_or_else(|| StoreError::Corrupt(format!("no key {n} was asked")))
}

fn json_of<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(corrupt)
}

fn unknown(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {what} {v}"))
}

fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_unix_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

const USER_COLS: &str = "id, username, display_name, role, region, password_hash, disabled";

fn user_row(r: &Row) -> StoreResult<UserRow> {
    let role: &str = get(r, 3)?;
    Ok(UserRow {
        info: UserInfo {
            id: UserId(uuid_of(get(r, 0)?)?),
            username: get(r, 1)?,
            display_name: get(r, 2)?,
            role: Role::parse(role).ok_or_else(|| unknown("role", role))?,
            region: region_of(get(r, 4)?)?,
        },
        password_hash: get(r, 5)?,
        disabled: get(r, 6)?,
    })
}

const REGION_COLS: &str = "code, name, level, parent, generated";

fn region_row(r: &Row) -> StoreResult<Region> {
    let level: &str = get(r, 2)?;
    let parent: Option<&str> = get(r, 3)?;
    Ok(Region {
        code: region_of(get(r, 0)?)?,
        name: get(r, 1)?,
        level: RegionLevel::parse(level).ok_or_else(|| unknown("level", level))?,
        parent: parent.map(region_of).transpose()?,
        generated: get(r, 4)?,
    })
}

const RECORD_COLS: &str = "id, site_id, village, submitted_by, device_id, current_version, status, \
                           review, received_at, change_seq, kind";

fn record_row(r: &Row) -> StoreResult<RecordRow> {
    let status: &str = get(r, 6)?;
    let review: Option<&str> = get(r, 7)?;
    let kind: &str = get(r, 10)?;
    Ok(RecordRow {
        id: InspectionId(uuid_of(get(r, 0)?)?),
        site_id: SiteId(uuid_of(get(r, 1)?)?),
        village: region_of(get(r, 2)?)?,
        submitted_by: UserId(uuid_of(get(r, 3)?)?),
        device_id: DeviceId(uuid_of(get(r, 4)?)?),
        current_version: get::<i64>(r, 5)? as u32,
        status: ReviewStatus::parse(status).ok_or_else(|| unknown("status", status))?,
        review: review.map(json_of).transpose()?,
        received_at: parse_ts(get(r, 8)?)?,
        change_seq: get::<i64>(r, 9)? as u64,
        kind: shared::inspection::InspectionKind::parse(kind).ok_or_else(|| unknown("kind", kind))?,
    })
}

const VISIT_COLS: &str = "record_id, user_id, site_id, at_ms, lng, lat, accuracy_m, position_key";

fn visit_row(r: &Row) -> StoreResult<Visit> {
    let lng: Option<f64> = get(r, 4)?;
    let lat: Option<f64> = get(r, 5)?;
    Ok(Visit {
        record_id: InspectionId(uuid_of(get(r, 0)?)?),
        user_id: UserId(uuid_of(get(r, 1)?)?),
        site_id: SiteId(uuid_of(get(r, 2)?)?),
        at_ms: get(r, 3)?,
        position: lng.zip(lat),
        accuracy_m: get(r, 6)?,
        position_key: get(r, 7)?,
    })
}

fn credential_visit_row(r: &Row) -> StoreResult<CredentialVisit> {
    let lng: Option<f64> = get(r, 5)?;
    let lat: Option<f64> = get(r, 6)?;
    Ok(CredentialVisit {
        credential_no: get(r, 0)?,
        record_id: InspectionId(uuid_of(get(r, 1)?)?),
        officer: get(r, 2)?,
        started_ms: get(r, 3)?,
        ended_ms: get(r, 4)?,
        position: lng.zip(lat),
        place: get(r, 7)?,
    })
}

type Owned = Box<dyn ToSql + Sync + Send>;

/// The SQL and parameters of an evidence look-up: the one place they are written, for the
/// one-at-a-time methods and for a batch's look-ups sent together.
fn lookup_query(q: &EvidenceQuestion) -> (String, Vec<Owned>) {
    match q {
        EvidenceQuestion::Record(id) => {
            (format!("SELECT {RECORD_COLS} FROM records WHERE id = $1"), vec![Box::new(id.to_string())])
        }
        EvidenceQuestion::BlobSize(sha) => {
            ("SELECT size FROM blobs WHERE sha256 = $1".into(), vec![Box::new(sha.clone())])
        }
        EvidenceQuestion::VisitBefore(user, at_ms, exclude) => (
            format!(
                "SELECT {VISIT_COLS} FROM visits WHERE user_id = $1 AND at_ms <= $2 AND record_id <> $3
                 ORDER BY at_ms DESC LIMIT 1"
            ),
            vec![Box::new(user.to_string()), Box::new(*at_ms), Box::new(exclude.to_string())],
        ),
        EvidenceQuestion::VisitAfter(user, at_ms, exclude) => (
            format!(
                "SELECT {VISIT_COLS} FROM visits WHERE user_id = $1 AND at_ms >= $2 AND record_id <> $3
                 ORDER BY at_ms LIMIT 1"
            ),
            vec![Box::new(user.to_string()), Box::new(*at_ms), Box::new(exclude.to_string())],
        ),
        EvidenceQuestion::VisitsAt(key, limit) => (
            format!("SELECT {VISIT_COLS} FROM visits WHERE position_key = $1 LIMIT $2"),
            vec![Box::new(key.clone()), Box::new(i64::from(*limit))],
        ),
        // As on SQLite: on-site checks last hours, so starts more than a day before cannot overlap.
        EvidenceQuestion::Credentials(credential_no, started_ms, ended_ms) => (
            "SELECT credential_no, record_id, officer, started_ms, ended_ms, lng, lat, place
             FROM credential_visits
             WHERE credential_no = $1 AND started_ms <= $3 AND started_ms >= $3 - 86400000 AND ended_ms >= $2"
                .into(),
            vec![Box::new(credential_no.clone()), Box::new(*started_ms), Box::new(*ended_ms)],
        ),
        EvidenceQuestion::NamingBlob(sha) => {
            (
                "SELECT DISTINCT record_id FROM blob_links WHERE sha256 = $1 ORDER BY record_id".into(),
                vec![Box::new(sha.clone())],
            )
        }
        EvidenceQuestion::Originals(original) => (
            "SELECT record_id, version, photo FROM photo_originals WHERE original_sha256 = $1 LIMIT 100".into(),
            vec![Box::new(original.clone())],
        ),
        EvidenceQuestion::Fingerprint(sha) => {
            ("SELECT fp FROM photo_fingerprints WHERE sha256 = $1".into(), vec![Box::new(sha.clone())])
        }
        // Every server writes fingerprints, so the band probes go to the shared indexes: one
        // query whose four `= ANY` arms each probe one band's 137 neighbours (the pigeonhole
        // argument in `fingerprint`), then the full distance of the few candidates.
        EvidenceQuestion::Near(fp, _) => {
            let mut params: Vec<Owned> = Vec::new();
            for v in crate::fingerprint::bands(*fp) {
                let probes: Vec<i32> = crate::fingerprint::band_neighbours(v).into_iter().map(i32::from).collect();
                params.push(Box::new(probes));
            }
            (
                "SELECT sha256, fp FROM photo_fingerprints
                  WHERE b0 = ANY($1) OR b1 = ANY($2) OR b2 = ANY($3) OR b3 = ANY($4)"
                    .into(),
                params,
            )
        }
    }
}

fn lookup_answer(q: &EvidenceQuestion, rows: &[Row]) -> StoreResult<EvidenceAnswer> {
    Ok(match q {
        EvidenceQuestion::Record(_) => {
            EvidenceAnswer::Record(rows.first().map(record_row).transpose()?.map(Box::new))
        }
        EvidenceQuestion::BlobSize(_) => EvidenceAnswer::BlobSize(
            rows.first().map(|r| Ok::<_, StoreError>(get::<i64>(r, 0)? as u64)).transpose()?,
        ),
        EvidenceQuestion::VisitBefore(..) | EvidenceQuestion::VisitAfter(..) => {
            EvidenceAnswer::Visit(rows.first().map(visit_row).transpose()?)
        }
        EvidenceQuestion::VisitsAt(..) => {
            EvidenceAnswer::Visits(rows.iter().map(visit_row).collect::<StoreResult<_>>()?)
        }
        EvidenceQuestion::Credentials(..) => {
            EvidenceAnswer::Credentials(rows.iter().map(credential_visit_row).collect::<StoreResult<_>>()?)
        }
        EvidenceQuestion::NamingBlob(_) => EvidenceAnswer::Records(
            rows.iter().map(|r| Ok(InspectionId(uuid_of(get(r, 0)?)?))).collect::<StoreResult<_>>()?,
        ),
        EvidenceQuestion::Originals(_) => EvidenceAnswer::Originals(
            rows.iter()
                .map(|r| {
                    Ok((
                        InspectionId(uuid_of(get(r, 0)?)?),
                        get::<i64>(r, 1)? as u32,
                        get::<i64>(r, 2)? as usize,
                    ))
                })
                .collect::<StoreResult<_>>()?,
        ),
        EvidenceQuestion::Fingerprint(_) => EvidenceAnswer::Fingerprint(match rows.first() {
            Some(r) => get::<Option<i64>>(r, 0)?.map(|f| f as u64),
            None => None,
        }),
        EvidenceQuestion::Near(fp, max) => {
            let mut out = Vec::new();
            for r in rows {
                let other = get::<i64>(r, 1)? as u64;
                if crate::fingerprint::distance(*fp, other) <= *max {
                    out.push((get::<String>(r, 0)?, other));
                }
            }
            out.sort_unstable_by_key(|(sha, f)| (*f, sha.clone()));
            EvidenceAnswer::Near(out)
        }
    })
}

const AUDIT_COLS: &str = "at, user_id, device_id, action, entity, entity_id, detail";

/// An audit entry from the columns [`AUDIT_COLS`] starting at `first`.
fn audit_row(r: &Row, first: usize) -> StoreResult<AuditEntry> {
    let user: Option<&str> = get(r, first + 1)?;
    let device: Option<&str> = get(r, first + 2)?;
    Ok(AuditEntry {
        at: parse_ts(get(r, first)?)?,
        user_id: user.map(uuid_of).transpose()?.map(UserId),
        device_id: device.map(uuid_of).transpose()?.map(DeviceId),
        action: get(r, first + 3)?,
        entity: get(r, first + 4)?,
        entity_id: get(r, first + 5)?,
        detail: json_of(get(r, first + 6)?)?,
    })
}

/// The WHERE clause of a record query with this backend's placeholders.
fn record_where(q: &RecordQuery, table: &str) -> (String, Vec<String>) {
    super::record_where(q, table, |n| format!("${n}"), ts)
}

fn params_of(args: &[String]) -> Vec<Param<'_>> {
    args.iter().map(|a| a as Param<'_>).collect()
}

impl Tx for PgTx<'_> {
    fn commit(mut self: Box<Self>) -> StoreResult<()> {
        if let (true, Some(v)) = (self.seq_dirty, self.seq) {
            self.defer("UPDATE seqs SET value = $1 WHERE name = 'change'", &[&(v as i64)])?;
        }
        self.flush()?;
        let res = wait(self.conn.client().batch_execute("COMMIT"));
        self.done = true;
        if let Err(e) = res {
            // The outcome of a COMMIT whose answer was lost is unknown; the connection goes.
            self.conn.mark_broken();
            return Err(e.into());
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
        let row = self
            .query_opt("SELECT value FROM seqs WHERE name = 'change'", &[])?
            .ok_or_else(|| corrupt("change sequence row missing"))?;
        let v = get::<i64>(&row, 0)? as u64;
        self.seq = Some(v);
        Ok(v)
    }

    fn insert_region(&mut self, r: &Region) -> StoreResult<()> {
        self.execute(
            "INSERT INTO regions (code, name, level, parent, generated) VALUES ($1, $2, $3, $4, $5)",
            &[&r.code.as_str(), &r.name, &r.level.as_str(), &r.parent.map(|p| p.to_string()), &r.generated],
        )?;
        Ok(())
    }

    fn region(&mut self, code: &RegionCode) -> StoreResult<Option<Region>> {
        let sql = format!("SELECT {REGION_COLS} FROM regions WHERE code = $1");
        self.query_opt(&sql, &[&code.as_str()])?.as_ref().map(region_row).transpose()
    }

    fn region_children(&mut self, code: &RegionCode) -> StoreResult<Vec<Region>> {
        let sql = format!("SELECT {REGION_COLS} FROM regions WHERE parent = $1 ORDER BY code");
        self.query(&sql, &[&code.as_str()])?.iter().map(region_row).collect()
    }

    fn count_regions(&mut self, level: RegionLevel) -> StoreResult<u64> {
        let row = self
            .query_opt("SELECT COUNT(*) FROM regions WHERE level = $1", &[&level.as_str()])?
            .ok_or_else(|| corrupt("count returned no row"))?;
        Ok(get::<i64>(&row, 0)? as u64)
    }

    fn regions_in(&mut self, level: RegionLevel, lo: &str, hi: &str) -> StoreResult<Vec<Region>> {
        let sql = format!(
            "SELECT {REGION_COLS} FROM regions WHERE level = $1 AND code BETWEEN $2 AND $3 ORDER BY code"
        );
        self.query(&sql, &[&level.as_str(), &lo, &hi])?.iter().map(region_row).collect()
    }

    fn insert_user(&mut self, u: &UserRow) -> StoreResult<()> {
        self.execute(
            "INSERT INTO users (id, username, display_name, role, region, password_hash, disabled)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &u.info.id.to_string(),
                &u.info.username,
                &u.info.display_name,
                &u.info.role.as_str(),
                &u.info.region.as_str(),
                &u.password_hash,
                &u.disabled,
            ],
        )?;
        Ok(())
    }

    fn user_by_username(&mut self, username: &str) -> StoreResult<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE username = $1");
        self.query_opt(&sql, &[&username])?.as_ref().map(user_row).transpose()
    }

    fn user_by_id(&mut self, id: &UserId) -> StoreResult<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE id = $1");
        self.query_opt(&sql, &[&id.to_string()])?.as_ref().map(user_row).transpose()
    }

    fn users_by_role(&mut self, role: Role) -> StoreResult<Vec<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE role = $1 ORDER BY username");
        self.query(&sql, &[&role.as_str()])?.iter().map(user_row).collect()
    }

    fn users_in(&mut self, lo: &str, hi: &str) -> StoreResult<Vec<UserRow>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE region BETWEEN $1 AND $2 ORDER BY username");
        self.query(&sql, &[&lo, &hi])?.iter().map(user_row).collect()
    }

    fn update_user(&mut self, u: &UserRow) -> StoreResult<()> {
        self.execute(
            "UPDATE users SET display_name = $2, role = $3, region = $4, password_hash = $5, disabled = $6
             WHERE id = $1",
            &[
                &u.info.id.to_string(),
                &u.info.display_name,
                &u.info.role.as_str(),
                &u.info.region.as_str(),
                &u.password_hash,
                &u.disabled,
            ],
        )?;
        Ok(())
    }

    fn clear_villages(&mut self, user: &UserId) -> StoreResult<()> {
        self.execute("DELETE FROM user_villages WHERE user_id = $1", &[&user.to_string()])?;
        Ok(())
    }

    fn assign_villages(&mut self, user: &UserId, villages: &[RegionCode]) -> StoreResult<()> {
        let codes: Vec<&str> = villages.iter().map(|v| v.as_str()).collect();
        self.execute(
            "INSERT INTO user_villages (user_id, village) SELECT $1, v FROM unnest($2::text[]) AS v
             ON CONFLICT DO NOTHING",
            &[&user.to_string(), &codes],
        )?;
        Ok(())
    }

    fn assigned_villages(&mut self, user: &UserId) -> StoreResult<Vec<RegionCode>> {
        self.query(
            "SELECT village FROM user_villages WHERE user_id = $1 ORDER BY village",
            &[&user.to_string()],
        )?
        .iter()
        .map(|r| region_of(get(r, 0)?))
        .collect()
    }

    fn is_assigned(&mut self, user: &UserId, village: &RegionCode) -> StoreResult<bool> {
        Ok(self
            .query_opt(
                "SELECT 1 FROM user_villages WHERE user_id = $1 AND village = $2",
                &[&user.to_string(), &village.as_str()],
            )?
            .is_some())
    }

    fn insert_token(&mut self, t: &TokenRow) -> StoreResult<()> {
        self.execute(
            "INSERT INTO tokens (token_hash, user_id, issued_at, expires_at, revoked) VALUES ($1, $2, $3, $4, $5)",
            &[&t.token_hash, &t.user_id.to_string(), &ts(t.issued_at), &ts(t.expires_at), &t.revoked],
        )?;
        Ok(())
    }

    fn token(&mut self, hash: &[u8]) -> StoreResult<Option<TokenRow>> {
        let Some(r) = self.query_opt(
            "SELECT token_hash, user_id, issued_at, expires_at, revoked FROM tokens WHERE token_hash = $1",
            &[&hash],
        )?
        else {
            return Ok(None);
        };
        Ok(Some(TokenRow {
            token_hash: get(&r, 0)?,
            user_id: UserId(uuid_of(get(&r, 1)?)?),
            issued_at: parse_ts(get(&r, 2)?)?,
            expires_at: parse_ts(get(&r, 3)?)?,
            revoked: get(&r, 4)?,
        }))
    }

    fn revoke_token(&mut self, hash: &[u8]) -> StoreResult<bool> {
        Ok(self
            .execute("UPDATE tokens SET revoked = TRUE WHERE token_hash = $1 AND NOT revoked", &[&hash])?
            > 0)
    }

    fn revoke_user_tokens(&mut self, user: &UserId) -> StoreResult<u64> {
        self.execute(
            "UPDATE tokens SET revoked = TRUE WHERE user_id = $1 AND NOT revoked",
            &[&user.to_string()],
        )
    }

    fn append_feed(&mut self, f: &FeedRow) -> StoreResult<()> {
        self.execute(
            "INSERT INTO feed (seq, village, kind, entity_id, version, at, data) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &(f.seq as i64),
                &f.village.as_str(),
                &f.kind.as_str(),
                &f.entity_id,
                &f.version.map(i64::from),
                &ts(f.at),
                &f.data,
            ],
        )?;
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
        let rows = self.query(
            "SELECT f.seq, f.village, f.kind, f.entity_id, f.version, f.at, COALESCE(f.data, v.data) \
             FROM (SELECT * FROM feed WHERE seq > $1 ORDER BY seq LIMIT $2) f \
             LEFT JOIN versions v ON f.kind = 'version' AND v.record_id = f.entity_id AND v.version = f.version \
             WHERE f.village BETWEEN $3 AND $4 ORDER BY f.seq LIMIT $5",
            &[&(after as i64), &i64::from(scan), &lo, &hi, &i64::from(limit)],
        )?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(FeedItem {
                    seq: get::<i64>(r, 0)? as u64,
                    village: get(r, 1)?,
                    kind: get(r, 2)?,
                    entity_id: get(r, 3)?,
                    version: get::<Option<i64>>(r, 4)?.map(|v| v as u32),
                    at: get(r, 5)?,
                    data: get(r, 6)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let row = self
            .query_opt(
                "SELECT (SELECT MAX(seq) FROM (SELECT seq FROM feed WHERE seq > $1 ORDER BY seq LIMIT $2) s), \
                 (SELECT MAX(seq) FROM feed)",
                &[&(after as i64), &i64::from(scan)],
            )?
            .ok_or_else(|| StoreError::Corrupt("no row from MAX".into()))?;
        let (scanned, last): (Option<i64>, Option<i64>) = (get(&row, 0)?, get(&row, 1)?);
        let scanned = scanned.map_or(after, |s| s as u64);
        Ok((items, scanned, last.is_some_and(|l| l as u64 > scanned)))
    }

    fn feed_last(&mut self) -> StoreResult<u64> {
        let row = self
            .query_opt("SELECT MAX(seq) FROM feed", &[])?
            .ok_or_else(|| StoreError::Corrupt("no row from MAX".into()))?;
        Ok(get::<Option<i64>>(&row, 0)?.unwrap_or(0) as u64)
    }

    fn insert_webhook(&mut self, w: &WebhookRow) -> StoreResult<()> {
        self.execute(
            "INSERT INTO webhooks (id, owner, url, secret, events, created_at, cursor, delivered, given_up, attempts, failing_since, next_attempt_at, last_status, last_error, last_attempt_at, lease_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            &[
                &w.id,
                &w.owner.to_string(),
                &w.url,
                &w.secret,
                &w.events,
                &ts(w.created_at),
                &(w.cursor as i64),
                &(w.delivered as i64),
                &(w.given_up as i64),
                &i64::from(w.attempts),
                &w.failing_since,
                &w.next_attempt_at,
                &w.last_status.map(i64::from),
                &w.last_error,
                &w.last_attempt_at,
                &w.lease_until,
            ],
        )?;
        Ok(())
    }

    fn webhook(&mut self, id: &str) -> StoreResult<Option<WebhookRow>> {
        self.query_opt("SELECT id, owner, url, secret, events, created_at, cursor, delivered, given_up, attempts, failing_since, next_attempt_at, last_status, last_error, last_attempt_at, lease_until FROM webhooks WHERE id = $1", &[&id])?.map(|r| pg_webhook(&r)).transpose()
    }

    fn webhooks(&mut self, owner: Option<&UserId>) -> StoreResult<Vec<WebhookRow>> {
        let owner = owner.map(|o| o.to_string());
        self.query(
            "SELECT id, owner, url, secret, events, created_at, cursor, delivered, given_up, attempts, failing_since, next_attempt_at, last_status, last_error, last_attempt_at, lease_until FROM webhooks WHERE $1::text IS NULL OR owner = $1 ORDER BY created_at, id",
            &[&owner],
        )?
        .iter()
        .map(pg_webhook)
        .collect()
    }

    fn delete_webhook(&mut self, id: &str) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM webhooks WHERE id = $1", &[&id])? > 0)
    }

    fn claim_webhooks(&mut self, now: i64, lease_until: i64, limit: u32) -> StoreResult<Vec<WebhookRow>> {
        self.query(
            "UPDATE webhooks SET lease_until = $2 WHERE id IN (SELECT id FROM webhooks \
             WHERE (next_attempt_at IS NULL OR next_attempt_at <= $1) AND (lease_until IS NULL OR lease_until <= $1) \
             ORDER BY next_attempt_at, id LIMIT $3) RETURNING id, owner, url, secret, events, created_at, cursor, delivered, given_up, attempts, failing_since, next_attempt_at, last_status, last_error, last_attempt_at, lease_until",
            &[&now, &lease_until, &i64::from(limit)],
        )?
        .iter()
        .map(pg_webhook)
        .collect()
    }

    fn save_webhook_state(&mut self, w: &WebhookRow) -> StoreResult<()> {
        self.execute(
            "UPDATE webhooks SET cursor = $2, delivered = $3, given_up = $4, attempts = $5, failing_since = $6, \
             next_attempt_at = $7, last_status = $8, last_error = $9, last_attempt_at = $10, lease_until = NULL WHERE id = $1",
            &[
                &w.id,
                &(w.cursor as i64),
                &(w.delivered as i64),
                &(w.given_up as i64),
                &i64::from(w.attempts),
                &w.failing_since,
                &w.next_attempt_at,
                &w.last_status.map(i64::from),
                &w.last_error,
                &w.last_attempt_at,
            ],
        )?;
        Ok(())
    }

    fn insert_service_account(&mut self, a: &ServiceAccountRow) -> StoreResult<()> {
        self.execute(
            "INSERT INTO service_accounts (user_id, purpose, created_by, created_at) VALUES ($1, $2, $3, $4)",
            &[&a.user_id.to_string(), &a.purpose, &a.created_by.to_string(), &ts(a.created_at)],
        )?;
        Ok(())
    }

    fn service_account(&mut self, user: &UserId) -> StoreResult<Option<ServiceAccountRow>> {
        self.query_opt(
            "SELECT user_id, purpose, created_by, created_at FROM service_accounts WHERE user_id = $1",
            &[&user.to_string()],
        )?
        .map(|r| pg_service_account(&r))
        .transpose()
    }

    fn service_accounts(&mut self) -> StoreResult<Vec<ServiceAccountRow>> {
        self.query(
            "SELECT user_id, purpose, created_by, created_at FROM service_accounts ORDER BY created_at, user_id",
            &[],
        )?
        .iter()
        .map(pg_service_account)
        .collect()
    }

    fn insert_api_key(&mut self, k: &ApiKeyRow) -> StoreResult<()> {
        self.execute(
            "INSERT INTO tokens (token_hash, user_id, issued_at, expires_at, revoked, key_id) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&k.token_hash, &k.user_id.to_string(), &ts(k.issued_at), &ts(k.expires_at), &k.revoked, &k.key_id],
        )?;
        Ok(())
    }

    fn api_keys(&mut self, user: &UserId) -> StoreResult<Vec<ApiKeyRow>> {
        self.query(
            "SELECT key_id, user_id, token_hash, issued_at, expires_at, revoked FROM tokens \
             WHERE user_id = $1 AND key_id IS NOT NULL ORDER BY issued_at, key_id",
            &[&user.to_string()],
        )?
        .iter()
        .map(|r| {
            Ok(ApiKeyRow {
                key_id: get(r, 0)?,
                user_id: UserId(uuid_of(get(r, 1)?)?),
                token_hash: get(r, 2)?,
                issued_at: parse_ts(get(r, 3)?)?,
                expires_at: parse_ts(get(r, 4)?)?,
                revoked: get(r, 5)?,
            })
        })
        .collect()
    }

    fn revoke_api_key(&mut self, user: &UserId, key_id: &str) -> StoreResult<bool> {
        Ok(self.execute(
            "UPDATE tokens SET revoked = TRUE WHERE user_id = $1 AND key_id = $2 AND NOT revoked",
            &[&user.to_string(), &key_id],
        )? > 0)
    }

    fn device(&mut self, id: &DeviceId) -> StoreResult<Option<DeviceRow>> {
        let Some(r) = self.query_opt(
            "SELECT id, user_id, name, platform, last_seq, registered_at, public_key FROM devices WHERE id = $1",
            &[&id.to_string()],
        )?
        else {
            return Ok(None);
        };
        Ok(Some(DeviceRow {
            id: DeviceId(uuid_of(get(&r, 0)?)?),
            user_id: UserId(uuid_of(get(&r, 1)?)?),
            name: get(&r, 2)?,
            platform: get(&r, 3)?,
            last_seq: get::<i64>(&r, 4)? as u64,
            registered_at: parse_ts(get(&r, 5)?)?,
            public_key: get(&r, 6)?,
        }))
    }

    fn insert_device(&mut self, d: &DeviceRow) -> StoreResult<()> {
        self.execute(
            "INSERT INTO devices (id, user_id, name, platform, last_seq, registered_at, public_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &d.id.to_string(),
                &d.user_id.to_string(),
                &d.name,
                &d.platform,
                &(d.last_seq as i64),
                &ts(d.registered_at),
                &d.public_key,
            ],
        )?;
        Ok(())
    }

    fn set_device_key(&mut self, id: &DeviceId, public_key: &str) -> StoreResult<()> {
        self.execute(
            "UPDATE devices SET public_key = $2 WHERE id = $1 AND public_key IS NULL",
            &[&id.to_string(), &public_key],
        )?;
        Ok(())
    }

    fn set_device_seq(&mut self, id: &DeviceId, seq: u64) -> StoreResult<()> {
        self.defer("UPDATE devices SET last_seq = $2 WHERE id = $1", &[&id.to_string(), &(seq as i64)])?;
        Ok(())
    }

    fn mutation_result(
        &mut self,
        device: &DeviceId,
        seq: u64,
    ) -> StoreResult<Option<(MutationId, MutationOutcome)>> {
        let Some(r) = self.query_opt(
            "SELECT mutation_id, outcome FROM mutations WHERE device_id = $1 AND seq = $2",
            &[&device.to_string(), &(seq as i64)],
        )?
        else {
            return Ok(None);
        };
        Ok(Some((MutationId(uuid_of(get(&r, 0)?)?), json_of(get(&r, 1)?)?)))
    }

    fn insert_mutation_result(
        &mut self,
        device: &DeviceId,
        seq: u64,
        mutation_id: &MutationId,
        outcome: &MutationOutcome,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        self.defer(
            "INSERT INTO mutations (device_id, seq, mutation_id, outcome, at) VALUES ($1, $2, $3, $4, $5)",
            &[
                &device.to_string(),
                &(seq as i64),
                &mutation_id.to_string(),
                &serde_json::to_string(outcome).map_err(corrupt)?,
                &ts(at),
            ],
        )?;
        Ok(())
    }

    fn insert_site(&mut self, s: &Site, change_seq: u64) -> StoreResult<()> {
        self.execute(
            "INSERT INTO sites (id, village, kind, status, name, data, change_seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &s.id.to_string(),
                &s.village.as_str(),
                &s.kind().as_str(),
                &s.status.map(|x| x.as_str()),
                &s.name,
                &serde_json::to_string(s).map_err(corrupt)?,
                &(change_seq as i64),
            ],
        )?;
        Ok(())
    }

    fn update_site(&mut self, s: &Site, change_seq: u64) -> StoreResult<()> {
        self.execute(
            "UPDATE sites SET village = $2, status = $3, name = $4, data = $5, change_seq = $6 WHERE id = $1",
            &[
                &s.id.to_string(),
                &s.village.as_str(),
                &s.status.map(|x| x.as_str()),
                &s.name,
                &serde_json::to_string(s).map_err(corrupt)?,
                &(change_seq as i64),
            ],
        )?;
        Ok(())
    }

    fn site(&mut self, id: &SiteId) -> StoreResult<Option<Site>> {
        self.query_opt("SELECT data FROM sites WHERE id = $1", &[&id.to_string()])?
            .map(|r| json_of(get(&r, 0)?))
            .transpose()
    }

    fn sites_changed(
        &mut self,
        filter: &SiteFilter,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<(u64, Site)>> {
        let rows = match filter {
            SiteFilter::AssignedTo(user) => self.query(
                "SELECT s.change_seq, s.data FROM sites s
                 JOIN user_villages uv ON uv.village = s.village AND uv.user_id = $1
                 WHERE s.change_seq > $2 ORDER BY s.change_seq LIMIT $3",
                &[&user.to_string(), &(after as i64), &i64::from(limit)],
            )?,
            SiteFilter::VillageRange(lo, hi) => self.query(
                "SELECT change_seq, data FROM sites
                 WHERE village BETWEEN $1 AND $2 AND change_seq > $3 ORDER BY change_seq LIMIT $4",
                &[lo, hi, &(after as i64), &i64::from(limit)],
            )?,
        };
        rows.iter().map(|r| Ok((get::<i64>(r, 0)? as u64, json_of(get(r, 1)?)?))).collect()
    }

    fn for_each_site(&mut self, f: &mut dyn FnMut(&Site)) -> StoreResult<()> {
        self.for_each_row("SELECT data FROM sites", &[], &mut |r| {
            let site: Site = json_of(get(r, 0)?)?;
            f(&site);
            Ok(true)
        })
    }

    fn count_sites(&mut self) -> StoreResult<Vec<(String, u64)>> {
        self.query("SELECT kind, COUNT(*) FROM sites GROUP BY kind ORDER BY kind", &[])?
            .iter()
            .map(|r| Ok((get(r, 0)?, get::<i64>(r, 1)? as u64)))
            .collect()
    }

    fn record(&mut self, id: &InspectionId) -> StoreResult<Option<RecordRow>> {
        match self.lookup(EvidenceQuestion::Record(*id))? {
            EvidenceAnswer::Record(v) => Ok(v.map(|r| *r)),
            other => Err(corrupt(format!("record look-up answered {other:?}"))),
        }
    }

    fn insert_record(&mut self, r: &RecordRow) -> StoreResult<()> {
        self.defer(
            "INSERT INTO records (id, site_id, village, submitted_by, device_id, current_version,
                                  status, review, received_at, change_seq, kind)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                &r.id.to_string(),
                &r.site_id.to_string(),
                &r.village.as_str(),
                &r.submitted_by.to_string(),
                &r.device_id.to_string(),
                &i64::from(r.current_version),
                &r.status.as_str(),
                &r.review.as_ref().map(serde_json::to_string).transpose().map_err(corrupt)?,
                &ts(r.received_at),
                &(r.change_seq as i64),
                &r.kind.as_str(),
            ],
        )?;
        Ok(())
    }

    fn update_record(&mut self, r: &RecordRow) -> StoreResult<()> {
        self.defer(
            "UPDATE records SET current_version = $2, status = $3, review = $4, received_at = $5,
                    change_seq = $6, device_id = $7 WHERE id = $1",
            &[
                &r.id.to_string(),
                &i64::from(r.current_version),
                &r.status.as_str(),
                &r.review.as_ref().map(serde_json::to_string).transpose().map_err(corrupt)?,
                &ts(r.received_at),
                &(r.change_seq as i64),
                &r.device_id.to_string(),
            ],
        )?;
        Ok(())
    }

    fn insert_version(
        &mut self,
        i: &Inspection,
        received_at: OffsetDateTime,
        device: &DeviceId,
        signature: Option<&str>,
    ) -> StoreResult<()> {
        self.defer(
            "INSERT INTO versions (record_id, version, data, received_at, device_id, signature, flags_checked)
             VALUES ($1, $2, $3, $4, $5, $6, TRUE)",
            &[
                &i.id.to_string(),
                &i64::from(i.version),
                &serde_json::to_string(i).map_err(corrupt)?,
                &ts(received_at),
                &device.to_string(),
                &signature,
            ],
        )?;
        self.put_version_export(&VersionExport::of(i), &ExportFlags::of(&[]))
    }

    fn signed_versions_page(&mut self, after: (String, u32), limit: u32) -> StoreResult<Vec<SignedVersion>> {
        self.query(
            "SELECT v.record_id, v.version, v.data, v.signature, d.public_key, v.device_id
               FROM versions v LEFT JOIN devices d ON d.id = v.device_id
              WHERE (v.record_id, v.version) > ($1, $2)
              ORDER BY v.record_id, v.version LIMIT $3",
            &[&after.0, &i64::from(after.1), &i64::from(limit)],
        )?
        .iter()
        .map(|r| {
            Ok(SignedVersion {
                record_id: get(r, 0)?,
                version: get::<i64>(r, 1)? as u32,
                inspection: json_of(get(r, 2)?)?,
                signature: get(r, 3)?,
                public_key: get(r, 4)?,
                device_id: get(r, 5)?,
            })
        })
        .collect()
    }

    fn version(&mut self, id: &InspectionId, version: u32) -> StoreResult<Option<Inspection>> {
        self.query_opt(
            "SELECT data FROM versions WHERE record_id = $1 AND version = $2",
            &[&id.to_string(), &i64::from(version)],
        )?
        .map(|r| json_of(get(&r, 0)?))
        .transpose()
    }

    fn versions(&mut self, id: &InspectionId) -> StoreResult<Vec<Inspection>> {
        self.query("SELECT data FROM versions WHERE record_id = $1 ORDER BY version", &[&id.to_string()])?
            .iter()
            .map(|r| json_of(get(r, 0)?))
            .collect()
    }

    fn records_changed(
        &mut self,
        filter: &RecordFilter,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<InspectionRecord>> {
        let rows = match filter {
            RecordFilter::SubmittedBy(user) => self.records_where(
                &format!(
                    "SELECT {RECORD_COLS} FROM records WHERE submitted_by = $1 AND change_seq > $2
                     ORDER BY change_seq LIMIT $3"
                ),
                &[&user.to_string(), &(after as i64), &i64::from(limit)],
            )?,
            RecordFilter::VillageRange(lo, hi) => self.records_where(
                &format!(
                    "SELECT {RECORD_COLS} FROM records WHERE village BETWEEN $1 AND $2 AND change_seq > $3
                     ORDER BY change_seq LIMIT $4"
                ),
                &[lo, hi, &(after as i64), &i64::from(limit)],
            )?,
        };
        rows.into_iter().map(|r| self.load_record(r)).collect()
    }

    fn count_records(&mut self) -> StoreResult<Vec<(ReviewStatus, u64)>> {
        self.query("SELECT status, COUNT(*) FROM records GROUP BY status", &[])?
            .iter()
            .map(|r| {
                let s: &str = get(r, 0)?;
                Ok((ReviewStatus::parse(s).ok_or_else(|| unknown("status", s))?, get::<i64>(r, 1)? as u64))
            })
            .collect()
    }

    fn list_records(&mut self, q: &RecordQuery) -> StoreResult<(Vec<InspectionRecord>, u64)> {
        let (where_sql, args) = record_where(q, "");
        let params = params_of(&args);
        let total = {
            let flagged = super::flagged_count(q, |n| format!("${n}"), ts, "JOIN", super::count_cap(q));
            let row = match &flagged {
                Some((sql, args)) => self.query_opt(&format!("{sql} capped"), &params_of(args))?,
                None => self.query_opt(
                    &format!(
                        "SELECT COUNT(*) FROM (SELECT 1 FROM records WHERE {where_sql} LIMIT {}) capped",
                        LIST_COUNT_CAP + 1
                    ),
                    &params,
                )?,
            }
            .ok_or_else(|| corrupt("count returned no row"))?;
            get::<i64>(&row, 0)? as u64
        };
        let (limit, offset) = (i64::from(q.limit), i64::from(q.offset));
        let n = args.len();
        let sql = format!(
            "SELECT {RECORD_COLS} FROM records WHERE {where_sql}
             ORDER BY received_at DESC, id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut page_params = params.clone();
        page_params.push(&limit);
        page_params.push(&offset);
        let rows = self.records_where(&sql, &page_params)?;
        drop(page_params);
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
        let params = params_of(&args);
        self.for_each_row(&sql, &params, &mut |r| {
            let row = record_row(r)?;
            let inspection: Inspection = json_of(get(r, 11)?)?;
            Ok(f(&row.to_record(inspection)))
        })
    }

    fn count_versions(&mut self) -> StoreResult<u64> {
        self.count("SELECT COUNT(*) FROM versions")
    }

    fn for_each_export_row(
        &mut self,
        q: &RecordQuery,
        f: &mut dyn FnMut(&ExportRow<'_>) -> bool,
    ) -> StoreResult<()> {
        let (where_sql, args) = record_where(q, "r.");
        let sql = format!("{EXPORT_SELECT} WHERE {where_sql} ORDER BY r.received_at DESC, r.id DESC");
        let params = params_of(&args);
        self.for_each_row(&sql, &params, &mut |r| {
            let text = |n: usize| -> StoreResult<&str> { Ok(get::<Option<&str>>(r, n)?.unwrap_or("")) };
            let row = ExportRow {
                id: text(0)?,
                version: get(r, 1)?,
                status: text(2)?,
                kind: text(3)?,
                site_id: text(4)?,
                site_name: text(5)?,
                village: text(6)?,
                received_at: text(7)?,
                device_time: text(8)?,
                lng: get(r, 9)?,
                lat: get(r, 10)?,
                accuracy_m: get(r, 11)?,
                fix_count: get(r, 12)?,
                position_source: text(13)?,
                manual_reason: text(14)?,
                photos: text(15)?,
                notes: text(16)?,
                comment: get(r, 17)?,
                flag_kinds: text(18)?,
                flags_zh: text(19)?,
                flags_json: text(20)?,
            };
            Ok(f(&row))
        })
    }

    fn put_version_export(&mut self, e: &VersionExport, flags: &ExportFlags) -> StoreResult<()> {
        self.defer(
            "INSERT INTO version_exports (record_id, version, device_time, lng, lat, accuracy_m,
                fix_count, position_source, manual_reason, photos, notes, flag_kinds, flags_zh, flags_json)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (record_id, version) DO UPDATE SET device_time = EXCLUDED.device_time,
                lng = EXCLUDED.lng, lat = EXCLUDED.lat, accuracy_m = EXCLUDED.accuracy_m,
                fix_count = EXCLUDED.fix_count, position_source = EXCLUDED.position_source,
                manual_reason = EXCLUDED.manual_reason, photos = EXCLUDED.photos, notes = EXCLUDED.notes,
                flag_kinds = EXCLUDED.flag_kinds, flags_zh = EXCLUDED.flags_zh, flags_json = EXCLUDED.flags_json",
            &[
                &e.record_id.to_string(),
                &i64::from(e.version),
                &e.device_time,
                &e.lng,
                &e.lat,
                &e.accuracy_m,
                &e.fix_count.map(i64::from),
                &e.position_source,
                &e.manual_reason,
                &e.photos,
                &e.notes,
                &flags.kinds,
                &flags.zh,
                &flags.json,
            ],
        )
    }

    fn version_export(&mut self, record: &InspectionId, version: u32) -> StoreResult<Option<StoredExport>> {
        let Some(r) = self.query_opt(
            "SELECT device_time, lng, lat, accuracy_m, fix_count, position_source, manual_reason, photos,
                    notes, flag_kinds, flags_zh, flags_json
               FROM version_exports WHERE record_id = $1 AND version = $2",
            &[&record.to_string(), &i64::from(version)],
        )?
        else {
            return Ok(None);
        };
        Ok(Some(StoredExport {
            device_time: get(&r, 0)?,
            lng: get(&r, 1)?,
            lat: get(&r, 2)?,
            accuracy_m: get(&r, 3)?,
            fix_count: get(&r, 4)?,
            position_source: get(&r, 5)?,
            manual_reason: get(&r, 6)?,
            photos: get(&r, 7)?,
            notes: get(&r, 8)?,
            flag_kinds: get(&r, 9)?,
            flags_zh: get(&r, 10)?,
            flags_json: get(&r, 11)?,
        }))
    }

    fn versions_without_export(&mut self, limit: u32) -> StoreResult<Vec<Inspection>> {
        self.query(
            "SELECT v.data FROM versions v WHERE NOT EXISTS
               (SELECT 1 FROM version_exports e WHERE e.record_id = v.record_id AND e.version = v.version)
             LIMIT $1",
            &[&i64::from(limit)],
        )?
        .iter()
        .map(|r| json_of(get(r, 0)?))
        .collect()
    }

    fn blob_size(&mut self, sha256: &str) -> StoreResult<Option<u64>> {
        match self.lookup(EvidenceQuestion::BlobSize(sha256.to_string()))? {
            EvidenceAnswer::BlobSize(v) => Ok(v),
            other => Err(corrupt(format!("blob look-up answered {other:?}"))),
        }
    }

    fn insert_blob(&mut self, sha256: &str, size: u64, at: OffsetDateTime) -> StoreResult<()> {
        self.execute(
            "INSERT INTO blobs (sha256, size, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&sha256, &(size as i64), &ts(at)],
        )?;
        Ok(())
    }

    fn link_blob(&mut self, sha256: &str, record: &InspectionId, version: u32) -> StoreResult<()> {
        self.defer(
            "INSERT INTO blob_links (sha256, record_id, version) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&sha256, &record.to_string(), &i64::from(version)],
        )?;
        Ok(())
    }

    fn records_naming_blob(&mut self, sha256: &str) -> StoreResult<Vec<RecordRow>> {
        let sql = format!(
            "SELECT {RECORD_COLS} FROM records WHERE id IN
             (SELECT record_id FROM blob_links WHERE sha256 = $1)"
        );
        self.records_where(&sql, &[&sha256])
    }

    fn count_blobs(&mut self) -> StoreResult<u64> {
        self.count("SELECT COUNT(*) FROM blobs")
    }

    fn blobs_page(&mut self, after: &str, limit: u32) -> StoreResult<Vec<(String, u64)>> {
        self.query(
            "SELECT sha256, size FROM blobs WHERE sha256 > $1 ORDER BY sha256 LIMIT $2",
            &[&after, &i64::from(limit)],
        )?
        .iter()
        .map(|r| Ok((get(r, 0)?, get::<i64>(r, 1)? as u64)))
        .collect()
    }

    fn insert_fingerprint(&mut self, sha256: &str, fp: Option<u64>) -> StoreResult<()> {
        let bands = fp.map(crate::fingerprint::bands);
        let band = |i: usize| bands.map(|b| i32::from(b[i]));
        self.execute(
            "INSERT INTO photo_fingerprints (sha256, fp, b0, b1, b2, b3) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (sha256) DO UPDATE SET fp = excluded.fp, b0 = excluded.b0, b1 = excluded.b1,
                    b2 = excluded.b2, b3 = excluded.b3",
            &[&sha256, &fp.map(|f| f as i64), &band(0), &band(1), &band(2), &band(3)],
        )?;
        Ok(())
    }

    fn fingerprint(&mut self, sha256: &str) -> StoreResult<Option<u64>> {
        match self.lookup(EvidenceQuestion::Fingerprint(sha256.to_string()))? {
            EvidenceAnswer::Fingerprint(v) => Ok(v),
            other => Err(corrupt(format!("fingerprint look-up answered {other:?}"))),
        }
    }

    fn near_fingerprints(&mut self, fp: u64, max: u32) -> StoreResult<Vec<(String, u64)>> {
        match self.lookup(EvidenceQuestion::Near(fp, max))? {
            EvidenceAnswer::Near(v) => Ok(v),
            other => Err(corrupt(format!("near look-up answered {other:?}"))),
        }
    }

    fn evidence_lookups(&mut self, questions: &[EvidenceQuestion]) -> StoreResult<Vec<EvidenceAnswer>> {
        self.flush()?;
        let mut sent = Vec::with_capacity(questions.len());
        for q in questions {
            let (sql, params) = lookup_query(q);
            sent.push((self.statement(&sql)?, params));
        }
        let client = self.conn.client();
        // All sent before any answer is awaited: one round trip for the lot.
        let rows = wait(futures::future::try_join_all(sent.iter().map(|(st, params)| async move {
            let refs: Vec<Param<'_>> = params.iter().map(|p| p.as_ref() as Param<'_>).collect();
            client.query(st, &refs).await
        })))?;
        questions.iter().zip(&rows).map(|(q, rows)| lookup_answer(q, rows)).collect()
    }

    fn batches_lookups(&self) -> bool {
        true
    }

    fn blobs_without_fingerprint(&mut self, after: &str, limit: u32) -> StoreResult<Vec<String>> {
        self.query(
            "SELECT b.sha256 FROM blobs b WHERE b.sha256 > $1
               AND NOT EXISTS (SELECT 1 FROM photo_fingerprints f WHERE f.sha256 = b.sha256)
             ORDER BY b.sha256 LIMIT $2",
            &[&after, &i64::from(limit)],
        )?
        .iter()
        .map(|r| get(r, 0))
        .collect()
    }

    fn upsert_visit(&mut self, v: &Visit) -> StoreResult<()> {
        self.defer(
            "INSERT INTO visits (record_id, user_id, site_id, at_ms, lng, lat, accuracy_m, position_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (record_id) DO UPDATE SET user_id = excluded.user_id, site_id = excluded.site_id,
                    at_ms = excluded.at_ms, lng = excluded.lng, lat = excluded.lat,
                    accuracy_m = excluded.accuracy_m, position_key = excluded.position_key",
            &[
                &v.record_id.to_string(),
                &v.user_id.to_string(),
                &v.site_id.to_string(),
                &v.at_ms,
                &v.position.map(|p| p.0),
                &v.position.map(|p| p.1),
                &v.accuracy_m,
                &v.position_key,
            ],
        )?;
        Ok(())
    }

    fn visit_before(
        &mut self,
        user: &UserId,
        at_ms: i64,
        exclude: &InspectionId,
    ) -> StoreResult<Option<Visit>> {
        match self.lookup(EvidenceQuestion::VisitBefore(*user, at_ms, *exclude))? {
            EvidenceAnswer::Visit(v) => Ok(v),
            other => Err(corrupt(format!("visit look-up answered {other:?}"))),
        }
    }

    fn visit_after(
        &mut self,
        user: &UserId,
        at_ms: i64,
        exclude: &InspectionId,
    ) -> StoreResult<Option<Visit>> {
        match self.lookup(EvidenceQuestion::VisitAfter(*user, at_ms, *exclude))? {
            EvidenceAnswer::Visit(v) => Ok(v),
            other => Err(corrupt(format!("visit look-up answered {other:?}"))),
        }
    }

    fn visits_at(&mut self, position_key: &str, limit: u32) -> StoreResult<Vec<Visit>> {
        match self.lookup(EvidenceQuestion::VisitsAt(position_key.to_string(), limit))? {
            EvidenceAnswer::Visits(v) => Ok(v),
            other => Err(corrupt(format!("visits look-up answered {other:?}"))),
        }
    }

    fn replace_credential_visits(
        &mut self,
        record: &InspectionId,
        visits: &[CredentialVisit],
    ) -> StoreResult<()> {
        self.defer("DELETE FROM credential_visits WHERE record_id = $1", &[&record.to_string()])?;
        for v in visits {
            self.defer(
                "INSERT INTO credential_visits
                   (credential_no, record_id, officer, started_ms, ended_ms, lng, lat, place)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (credential_no, record_id) DO UPDATE SET officer = excluded.officer,
                        started_ms = excluded.started_ms, ended_ms = excluded.ended_ms,
                        lng = excluded.lng, lat = excluded.lat, place = excluded.place",
                &[
                    &v.credential_no,
                    &v.record_id.to_string(),
                    &v.officer,
                    &v.started_ms,
                    &v.ended_ms,
                    &v.position.map(|p| p.0),
                    &v.position.map(|p| p.1),
                    &v.place,
                ],
            )?;
        }
        Ok(())
    }

    fn credential_visits_overlapping(
        &mut self,
        credential_no: &str,
        started_ms: i64,
        ended_ms: i64,
    ) -> StoreResult<Vec<CredentialVisit>> {
        match self.lookup(EvidenceQuestion::Credentials(credential_no.to_string(), started_ms, ended_ms))? {
            EvidenceAnswer::Credentials(v) => Ok(v),
            other => Err(corrupt(format!("credential look-up answered {other:?}"))),
        }
    }

    fn insert_photo_original(
        &mut self,
        original: &str,
        record: &InspectionId,
        version: u32,
        photo: usize,
    ) -> StoreResult<()> {
        self.defer(
            "INSERT INTO photo_originals (original_sha256, record_id, version, photo) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[&original, &record.to_string(), &i64::from(version), &(photo as i64)],
        )?;
        Ok(())
    }

    fn photo_originals(&mut self, original: &str) -> StoreResult<Vec<(InspectionId, u32, usize)>> {
        match self.lookup(EvidenceQuestion::Originals(original.to_string()))? {
            EvidenceAnswer::Originals(v) => Ok(v),
            other => Err(corrupt(format!("originals look-up answered {other:?}"))),
        }
    }

    fn evidence_since(&mut self, seq: u64, rows: bool) -> StoreResult<EvidenceDelta> {
        const CHANGED: &str = "SELECT id FROM records WHERE change_seq > $1";
        let seq = seq as i64;
        let mut out = EvidenceDelta {
            records: self
                .query(CHANGED, &[&seq])?
                .iter()
                .map(|r| Ok(InspectionId(uuid_of(get(r, 0)?)?)))
                .collect::<StoreResult<_>>()?,
            ..EvidenceDelta::default()
        };
        if out.records.is_empty() || !rows {
            return Ok(out);
        }
        let sql = format!("SELECT {VISIT_COLS} FROM visits WHERE record_id IN ({CHANGED})");
        out.visits = self.query(&sql, &[&seq])?.iter().map(visit_row).collect::<StoreResult<_>>()?;
        let sql = format!(
            "SELECT credential_no, record_id, officer, started_ms, ended_ms, lng, lat, place
             FROM credential_visits WHERE record_id IN ({CHANGED})"
        );
        out.credential_visits =
            self.query(&sql, &[&seq])?.iter().map(credential_visit_row).collect::<StoreResult<_>>()?;
        let sql = format!(
            "SELECT l.sha256, l.record_id, f.fp FROM blob_links l
             LEFT JOIN photo_fingerprints f ON f.sha256 = l.sha256
             WHERE l.record_id IN ({CHANGED})"
        );
        out.links = self
            .query(&sql, &[&seq])?
            .iter()
            .map(|r| {
                let fp: Option<i64> = get(r, 2)?;
                Ok((get(r, 0)?, InspectionId(uuid_of(get(r, 1)?)?), fp.map(|f| f as u64)))
            })
            .collect::<StoreResult<_>>()?;
        let sql = format!(
            "SELECT original_sha256, record_id, version, photo FROM photo_originals
             WHERE record_id IN ({CHANGED})"
        );
        out.originals = self
            .query(&sql, &[&seq])?
            .iter()
            .map(|r| {
                Ok((
                    get(r, 0)?,
                    InspectionId(uuid_of(get(r, 1)?)?),
                    get::<i64>(r, 2)? as u32,
                    get::<i64>(r, 3)? as usize,
                ))
            })
            .collect::<StoreResult<_>>()?;
        Ok(out)
    }

    fn device_clock(&mut self, device: &DeviceId) -> StoreResult<Option<DeviceClock>> {
        let Some(r) = self.query_opt(
            "SELECT clock_skew_ms, clock_read_ms FROM devices WHERE id = $1",
            &[&device.to_string()],
        )?
        else {
            return Ok(None);
        };
        let skew: Option<i64> = get(&r, 0)?;
        let read: Option<i64> = get(&r, 1)?;
        Ok(skew.zip(read).map(|(skew_ms, read_ms)| DeviceClock { skew_ms, read_ms }))
    }

    fn set_device_clock(&mut self, device: &DeviceId, clock: &DeviceClock) -> StoreResult<()> {
        self.defer(
            "UPDATE devices SET clock_skew_ms = $2, clock_read_ms = $3 WHERE id = $1",
            &[&device.to_string(), &clock.skew_ms, &clock.read_ms],
        )?;
        Ok(())
    }

    fn insert_flags(&mut self, rows: &[FlagRow]) -> StoreResult<()> {
        for group in rows.chunk_by(|a, b| (a.record_id, a.version) == (b.record_id, b.version)) {
            let flags: Vec<_> = group.iter().map(|r| r.flag.clone()).collect();
            let e = ExportFlags::of(&flags);
            self.defer(
                "UPDATE version_exports SET flag_kinds = $3, flags_zh = $4, flags_json = $5
                  WHERE record_id = $1 AND version = $2",
                &[&group[0].record_id.to_string(), &i64::from(group[0].version), &e.kinds, &e.zh, &e.json],
            )?;
        }
        for (n, row) in rows.iter().enumerate() {
            let cites = match &row.flag {
                shared::flags::Flag::PhotoReuse { other_sha256, .. } => Some(other_sha256.as_str()),
                _ => None,
            };
            self.defer(
                "INSERT INTO version_flags
                   (record_id, version, n, kind, flag, village, user_id, received_ms, cites_blob)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &row.record_id.to_string(),
                    &i64::from(row.version),
                    &(n as i64),
                    &row.flag.kind(),
                    &serde_json::to_string(&row.flag).map_err(corrupt)?,
                    &row.village.to_string(),
                    &row.user_id.to_string(),
                    &unix_ms(row.received_at),
                    &cites,
                ],
            )?;
        }
        Ok(())
    }

    fn flags_of_many(
        &mut self,
        versions: &[(InspectionId, u32)],
    ) -> StoreResult<Vec<Option<Vec<shared::flags::Flag>>>> {
        let ids: Vec<String> = versions.iter().map(|(r, _)| r.to_string()).collect();
        let nums: Vec<i64> = versions.iter().map(|(_, v)| i64::from(*v)).collect();
        let mut out: Vec<Option<Vec<shared::flags::Flag>>> = vec![None; versions.len()];
        for r in self.query(
            "SELECT k.n, f.flag
             FROM unnest($1::text[], $2::int8[]) WITH ORDINALITY AS k(record_id, version, n)
             JOIN versions v ON v.record_id = k.record_id AND v.version = k.version AND v.flags_checked
             LEFT JOIN version_flags f ON f.record_id = k.record_id AND f.version = k.version
             ORDER BY k.n, f.n",
            &[&ids, &nums],
        )? {
            let flags = ordinal_slot(&mut out, get(&r, 0)?)?.get_or_insert_default();
            if let Some(flag) = get::<Option<&str>>(&r, 1)? {
                flags.push(json_of(flag)?);
            }
        }
        Ok(out)
    }

    fn flags_of(
        &mut self,
        record: &InspectionId,
        version: u32,
    ) -> StoreResult<Option<Vec<shared::flags::Flag>>> {
        Ok(self.flags_of_many(&[(*record, version)])?.pop().flatten())
    }

    fn records_citing_blob(&mut self, sha256: &str) -> StoreResult<Vec<RecordRow>> {
        let sql = format!(
            "SELECT {RECORD_COLS} FROM records WHERE id IN
             (SELECT record_id FROM version_flags WHERE cites_blob = $1)"
        );
        self.records_where(&sql, &[&sha256])
    }

    fn for_each_flag(
        &mut self,
        lo: &str,
        hi: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
        f: &mut dyn FnMut(FlagRow),
    ) -> StoreResult<()> {
        let (from_ms, to_ms) = (unix_ms(from), unix_ms(to));
        self.for_each_row(
            "SELECT f.record_id, f.version, f.flag, f.village, f.user_id, f.received_ms
             FROM version_flags f JOIN records r ON r.id = f.record_id AND r.current_version = f.version
             WHERE f.village BETWEEN $1 AND $2 AND f.received_ms >= $3 AND f.received_ms < $4",
            &[&lo, &hi, &from_ms, &to_ms],
            &mut |r| {
                f(FlagRow {
                    record_id: InspectionId(uuid_of(get(r, 0)?)?),
                    version: get::<i64>(r, 1)? as u32,
                    flag: json_of(get(r, 2)?)?,
                    village: region_of(get(r, 3)?)?,
                    user_id: UserId(uuid_of(get(r, 4)?)?),
                    received_at: from_unix_ms(get(r, 5)?),
                });
                Ok(true)
            },
        )
    }

    fn add_counter(&mut self, key: &CounterKey, delta: i64) -> StoreResult<()> {
        self.execute(
            "INSERT INTO counters (region, metric, year, value) VALUES ($1, $2, $3, $4)
             ON CONFLICT (region, metric, year) DO UPDATE SET value = counters.value + excluded.value",
            &[&key.region.as_str(), &key.metric, &i64::from(key.year), &delta],
        )?;
        Ok(())
    }

    fn counter(&mut self, key: &CounterKey) -> StoreResult<i64> {
        Ok(self
            .query_opt(
                "SELECT value FROM counters WHERE region = $1 AND metric = $2 AND year = $3",
                &[&key.region.as_str(), &key.metric, &i64::from(key.year)],
            )?
            .map(|r| get::<i64>(&r, 0))
            .transpose()?
            .unwrap_or(0))
    }

    fn counters(&mut self, keys: &[CounterKey]) -> StoreResult<Vec<i64>> {
        let regions: Vec<&str> = keys.iter().map(|k| k.region.as_str()).collect();
        let metrics: Vec<&str> = keys.iter().map(|k| k.metric.as_str()).collect();
        let years: Vec<i64> = keys.iter().map(|k| i64::from(k.year)).collect();
        let mut out = vec![0; keys.len()];
        for r in self.query(
            "SELECT k.n, c.value
             FROM unnest($1::text[], $2::text[], $3::int8[]) WITH ORDINALITY AS k(region, metric, year, n)
             JOIN counters c ON c.region = k.region AND c.metric = k.metric AND c.year = k.year",
            &[&regions, &metrics, &years],
        )? {
            *ordinal_slot(&mut out, get(&r, 0)?)? = get(&r, 1)?;
        }
        Ok(out)
    }

    fn all_counters(&mut self) -> StoreResult<Vec<(CounterKey, i64)>> {
        self.query("SELECT region, metric, year, value FROM counters WHERE value <> 0 ORDER BY 1, 2, 3", &[])?
            .iter()
            .map(|r| {
                Ok((
                    CounterKey {
                        region: region_of(get(r, 0)?)?,
                        metric: get(r, 1)?,
                        year: get::<i64>(r, 2)? as i32,
                    },
                    get(r, 3)?,
                ))
            })
            .collect()
    }

    fn upsert_target(&mut self, t: &shared::target::Target) -> StoreResult<()> {
        self.execute(
            "INSERT INTO targets (year, region, metric, value, monthly_plan) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (year, region, metric) DO UPDATE SET value = excluded.value,
                    monthly_plan = excluded.monthly_plan",
            &[
                &i64::from(t.year),
                &t.region.as_str(),
                &t.metric.as_str(),
                &t.value,
                &serde_json::to_string(&t.monthly_plan).map_err(corrupt)?,
            ],
        )?;
        Ok(())
    }

    fn targets_of(&mut self, year: i32, regions: &[RegionCode]) -> StoreResult<Vec<shared::target::Target>> {
        let codes: Vec<&str> = regions.iter().map(|r| r.as_str()).collect();
        self.query(
            "SELECT region, metric, value, monthly_plan FROM targets WHERE year = $1 AND region = ANY($2)
             ORDER BY region, metric",
            &[&i64::from(year), &codes],
        )?
        .iter()
        .map(|r| {
            let (code, m): (&str, &str) = (get(r, 0)?, get(r, 1)?);
            Ok(shared::target::Target {
                year,
                region: code.parse().map_err(|_| unknown("region", code))?,
                metric: shared::target::TargetMetric::parse(m).ok_or_else(|| unknown("metric", m))?,
                value: get(r, 2)?,
                monthly_plan: json_of(get(r, 3)?)?,
            })
        })
        .collect()
    }

    fn targets(&mut self, year: i32, region: &RegionCode) -> StoreResult<Vec<shared::target::Target>> {
        self.targets_of(year, std::slice::from_ref(region))
    }

    fn issue_number_block(
        &mut self,
        kind: DocumentKind,
        year: i32,
        size: u32,
        device: &DeviceId,
        now: OffsetDateTime,
    ) -> StoreResult<NumberBlock> {
        // Writers hold the write lock, so read-then-update hands out each serial once.
        let next: i64 = self
            .query_opt(
                "SELECT next FROM document_serials WHERE kind = $1 AND year = $2",
                &[&kind.as_str(), &i64::from(year)],
            )?
            .map(|r| get::<i64>(&r, 0))
            .transpose()?
            .unwrap_or(1);
        let last = next + i64::from(size) - 1;
        if last > i64::from(u32::MAX) {
            return Err(StoreError::Backend("document serials exhausted".into()));
        }
        self.execute(
            "INSERT INTO document_serials (kind, year, next) VALUES ($1, $2, $3)
             ON CONFLICT (kind, year) DO UPDATE SET next = excluded.next",
            &[&kind.as_str(), &i64::from(year), &(last + 1)],
        )?;
        self.execute(
            "INSERT INTO document_number_blocks (kind, year, first, last, device_id, issued_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&kind.as_str(), &i64::from(year), &next, &last, &device.to_string(), &ts(now)],
        )?;
        Ok(NumberBlock { kind, year, first: next as u32, last: last as u32 })
    }

    fn number_blocks(&mut self, device: &DeviceId) -> StoreResult<Vec<NumberBlock>> {
        self.query(
            "SELECT kind, year, first, last FROM document_number_blocks WHERE device_id = $1
             ORDER BY kind, year, first",
            &[&device.to_string()],
        )?
        .iter()
        .map(|r| {
            let kind: &str = get(r, 0)?;
            Ok(NumberBlock {
                kind: DocumentKind::parse(kind).ok_or_else(|| unknown("document kind", kind))?,
                year: get::<i64>(r, 1)? as i32,
                first: get::<i64>(r, 2)? as u32,
                last: get::<i64>(r, 3)? as u32,
            })
        })
        .collect()
    }

    fn number_block_device(&mut self, n: &DocumentNumber) -> StoreResult<Option<DeviceId>> {
        // Blocks never overlap: the one starting nearest below the serial is the only candidate.
        let serial = i64::from(n.serial);
        let row = self.query_opt(
            "SELECT device_id, last FROM document_number_blocks
             WHERE kind = $1 AND year = $2 AND first <= $3 ORDER BY first DESC LIMIT 1",
            &[&n.kind.as_str(), &i64::from(n.year), &serial],
        )?;
        match row {
            Some(r) if get::<i64>(&r, 1)? >= serial => {
                let dev: &str = get(&r, 0)?;
                Ok(Some(dev.parse().map_err(|_| StoreError::Corrupt(format!("device id {dev}")))?))
            }
            _ => Ok(None),
        }
    }

    fn document_number_record(&mut self, n: &DocumentNumber) -> StoreResult<Option<InspectionId>> {
        let Some(r) = self.query_opt(
            "SELECT record_id FROM document_numbers WHERE kind = $1 AND year = $2 AND serial = $3",
            &[&n.kind.as_str(), &i64::from(n.year), &i64::from(n.serial)],
        )?
        else {
            return Ok(None);
        };
        let id: &str = get(&r, 0)?;
        Ok(Some(id.parse().map_err(|_| StoreError::Corrupt(format!("record id {id}")))?))
    }

    fn use_document_number(
        &mut self,
        n: &DocumentNumber,
        record: &InspectionId,
        version: u32,
        device: &DeviceId,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let changed = self.execute(
            "INSERT INTO document_numbers (kind, year, serial, record_id, version, device_id, used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            &[
                &n.kind.as_str(),
                &i64::from(n.year),
                &i64::from(n.serial),
                &record.to_string(),
                &i64::from(version),
                &device.to_string(),
                &ts(now),
            ],
        )?;
        Ok(changed == 1)
    }

    fn audit_head(&mut self) -> StoreResult<Option<(u64, String)>> {
        if let Some(head) = &self.audit_head {
            return Ok(Some(head.clone()));
        }
        let head = self
            .query_opt("SELECT id, hash FROM audit WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1", &[])?
            .map(|r| Ok::<_, StoreError>((get::<i64>(&r, 0)? as u64, get(&r, 1)?)))
            .transpose()?;
        self.audit_head = head.clone();
        Ok(head)
    }

    fn insert_audit(&mut self, seq: u64, a: &AuditEntry, hash: &str) -> StoreResult<()> {
        self.audit_head = Some((seq, hash.to_string()));
        self.defer(
            "INSERT INTO audit (id, at, user_id, device_id, action, entity, entity_id, detail, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &(seq as i64),
                &ts(a.at),
                &a.user_id.map(|u| u.to_string()),
                &a.device_id.map(|d| d.to_string()),
                &a.action,
                &a.entity,
                &a.entity_id,
                &serde_json::to_string(&a.detail).map_err(corrupt)?,
                &hash,
            ],
        )?;
        Ok(())
    }

    fn audit_page(&mut self, after: u64, limit: u32) -> StoreResult<Vec<(u64, AuditEntry, Option<String>)>> {
        let sql = format!("SELECT id, {AUDIT_COLS}, hash FROM audit WHERE id > $1 ORDER BY id LIMIT $2");
        self.query(&sql, &[&(after as i64), &i64::from(limit)])?
            .iter()
            .map(|r| Ok((get::<i64>(r, 0)? as u64, audit_row(r, 1)?, get(r, 8)?)))
            .collect()
    }

    fn set_audit_hash(&mut self, seq: u64, hash: &str) -> StoreResult<()> {
        self.audit_head = None;
        self.execute("UPDATE audit SET hash = $2 WHERE id = $1 AND hash IS NULL", &[&(seq as i64), &hash])?;
        Ok(())
    }

    fn audit_for(&mut self, entity_id: &str) -> StoreResult<Vec<AuditEntry>> {
        let sql = format!("SELECT {AUDIT_COLS} FROM audit WHERE entity_id = $1 ORDER BY id");
        self.query(&sql, &[&entity_id])?.iter().map(|r| audit_row(r, 0)).collect()
    }

    fn login_attempts(&mut self, username: &str) -> StoreResult<Option<(i64, u32)>> {
        self.query_opt("SELECT window_start, attempts FROM login_attempts WHERE username = $1", &[&username])?
            .map(|r| Ok((get::<i64>(&r, 0)?, get::<i64>(&r, 1)? as u32)))
            .transpose()
    }

    fn set_login_attempts(&mut self, username: &str, window_start_ms: i64, attempts: u32) -> StoreResult<()> {
        self.execute(
            "INSERT INTO login_attempts (username, window_start, attempts) VALUES ($1, $2, $3)
             ON CONFLICT (username) DO UPDATE SET window_start = excluded.window_start,
                    attempts = excluded.attempts",
            &[&username, &window_start_ms, &i64::from(attempts)],
        )?;
        Ok(())
    }

    fn clear_login_attempts(&mut self, username: &str) -> StoreResult<()> {
        self.execute("DELETE FROM login_attempts WHERE username = $1", &[&username])?;
        Ok(())
    }

    fn prune_login_attempts(&mut self, started_before_ms: i64) -> StoreResult<u64> {
        self.execute("DELETE FROM login_attempts WHERE window_start < $1", &[&started_before_ms])
    }

    fn count_audit(&mut self) -> StoreResult<u64> {
        self.count("SELECT COUNT(*) FROM audit")
    }
}
fn pg_webhook(r: &Row) -> StoreResult<WebhookRow> {
    Ok(WebhookRow {
        id: get(r, 0)?,
        owner: UserId(uuid_of(get(r, 1)?)?),
        url: get(r, 2)?,
        secret: get(r, 3)?,
        events: get(r, 4)?,
        created_at: parse_ts(get(r, 5)?)?,
        cursor: get::<i64>(r, 6)? as u64,
        delivered: get::<i64>(r, 7)? as u64,
        given_up: get::<i64>(r, 8)? as u64,
        attempts: get::<i64>(r, 9)? as u32,
        failing_since: get(r, 10)?,
        next_attempt_at: get(r, 11)?,
        last_status: get::<Option<i64>>(r, 12)?.map(|s| s as u16),
        last_error: get(r, 13)?,
        last_attempt_at: get(r, 14)?,
        lease_until: get(r, 15)?,
    })
}

fn pg_service_account(r: &Row) -> StoreResult<ServiceAccountRow> {
    Ok(ServiceAccountRow {
        user_id: UserId(uuid_of(get(r, 0)?)?),
        purpose: get(r, 1)?,
        created_by: UserId(uuid_of(get(r, 2)?)?),
        created_at: parse_ts(get(r, 3)?)?,
    })
}
