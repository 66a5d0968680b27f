//! From the embedded default to the cluster: copy one SQLite database and its photos to
//! PostgreSQL (and an S3-compatible bucket), verify the copy, and make re-running safe.
//!
//! What makes it safe to re-run after an interruption:
//! - Photos go first, each published by its hash (the blob store's own upload path verifies it),
//!   and one already there with its size is skipped; the database rows naming them come after.
//! - Every table is copied in one PostgreSQL transaction, after `TRUNCATE` of the (freshly
//!   migrated, otherwise empty) target, and the copy's fingerprint is compared with the
//!   source's *before* that transaction commits: an interrupted or differing copy leaves nothing.
//! - A target that already holds data is only accepted when its fingerprint equals the
//!   source's (the migration already ran; nothing to do); anything else is refused, so a
//!   cluster that tablets have started writing to is never overwritten.
//!
//! Tablets keep syncing: users, tokens, devices with their last applied sequence and key, the
//! stored mutation results and the change sequence all travel verbatim, so a tablet pointed
//! at the cluster is answered exactly as the old server would have answered it.
//!
//! The fingerprint of a table is its row count and the sum (mod 2^256) of a SHA-256 per row
//! over the values as the target types them, so it does not depend on row order or collation.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::types::Value as SqlValue;
use sha2::{Digest, Sha256};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::blobs::{BlobHash, BlobStore};
use crate::error::{AppError, AppResult};

/// Tables in the order their foreign keys allow (the order the PostgreSQL migration creates
/// them). `schema_migrations` is each backend's own and is not copied.
pub const TABLES: &[&str] = &[
    "seqs",
    "regions",
    "users",
    "user_villages",
    "tokens",
    "service_accounts",
    "devices",
    "mutations",
    "sites",
    "records",
    "versions",
    "blobs",
    "blob_links",
    "counters",
    "audit",
    "targets",
    "photo_fingerprints",
    "visits",
    "credential_visits",
    "photo_originals",
    "version_flags",
    "version_exports",
    "document_serials",
    "document_number_blocks",
    "document_numbers",
    "login_attempts",
    "feed",
    "webhooks",
];

/// One value as the target column types it.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Null,
    Int(i64),
    Int4(i32),
    Bool(bool),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Val {
    fn encode(&self, h: &mut Sha256) {
        match self {
            Val::Null => h.update([0]),
            Val::Int(v) => {
                h.update([1]);
                h.update(v.to_le_bytes());
            }
            Val::Int4(v) => {
                h.update([1]);
                h.update(i64::from(*v).to_le_bytes());
            }
            Val::Bool(v) => h.update([2, u8::from(*v)]),
            Val::Float(v) => {
                h.update([3]);
                h.update(v.to_bits().to_le_bytes());
            }
            Val::Text(s) => {
                h.update([4]);
                h.update((s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }
            Val::Bytes(b) => {
                h.update([5]);
                h.update((b.len() as u64).to_le_bytes());
                h.update(b);
            }
        }
    }

    /// The value to bind for a column of type `ty` (a NULL is typed like its column).
    fn as_sql(&self, ty: &Type) -> &(dyn ToSql + Sync) {
        match self {
            Val::Null if *ty == Type::INT8 => &None::<i64>,
            Val::Null if *ty == Type::INT4 => &None::<i32>,
            Val::Null if *ty == Type::BOOL => &None::<bool>,
            Val::Null if *ty == Type::FLOAT8 => &None::<f64>,
            Val::Null if *ty == Type::BYTEA => &None::<Vec<u8>>,
            Val::Null => &None::<String>,
            Val::Int(v) => v,
            Val::Int4(v) => v,
            Val::Bool(v) => v,
            Val::Float(v) => v,
            Val::Text(s) => s,
            Val::Bytes(b) => b,
        }
    }
}

/// A column of the target and the PostgreSQL type it has.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    ty: Type,
}

/// Row count and order-independent content hash of one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableFingerprint {
    pub rows: u64,
    sum: [u64; 4],
}

impl TableFingerprint {
    fn add(&mut self, table: &str, row: &[Val]) {
        let mut h = Sha256::new();
        h.update(table.as_bytes());
        for v in row {
            v.encode(&mut h);
        }
        let d = h.finalize();
        // 256-bit addition, little-endian limbs.
        let mut carry = 0u128;
        for (k, limb) in self.sum.iter_mut().enumerate() {
            let x = u64::from_le_bytes(d[k * 8..k * 8 + 8].try_into().expect("8 bytes"));
            let s = u128::from(*limb) + u128::from(x) + carry;
            *limb = s as u64;
            carry = s >> 64;
        }
        self.rows += 1;
    }

    pub fn hex(&self) -> String {
        self.sum.iter().rev().map(|l| format!("{l:016x}")).collect()
    }
}

/// What was copied and what both sides hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub tables: BTreeMap<String, TableFingerprint>,
    pub photos: u64,
    pub photo_bytes: u64,
    /// Photos that were already in the target store.
    pub photos_present: u64,
    /// True when the target already held exactly this data and nothing was written.
    pub already_migrated: bool,
}

impl Report {
    /// One hash over every table's fingerprint.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(&self.tables)
    }

    pub fn rows(&self) -> u64 {
        self.tables.values().map(|t| t.rows).sum()
    }
}

fn fingerprint_of(tables: &BTreeMap<String, TableFingerprint>) -> String {
    let mut h = Sha256::new();
    for (name, t) in tables {
        h.update(format!("{name}:{}:{}\n", t.rows, t.hex()).as_bytes());
    }
    hex::encode(h.finalize())
}

/// Where progress goes; returning an error stops the migration (the CLI never does; tests
/// interrupt it this way at a chosen point).
pub type Progress<'a> = dyn FnMut(&str) -> AppResult<()> + Send + 'a;

pub struct Source<'a> {
    pub database: &'a Path,
    /// The filesystem blob store's root (`blobs/` beside the database by default).
    pub blobs: PathBuf,
}

pub struct Target<'a> {
    pub database_url: &'a str,
    /// Where photos go; `None` leaves them where they are (the servers are then given the
    /// same blob directory).
    pub blobs: Option<&'a dyn BlobStore>,
}

fn internal(what: &str) -> impl Fn(String) -> AppError + '_ {
    move |e| AppError::Internal(format!("{what}: {e}"))
}

fn sq(e: rusqlite::Error) -> String {
    e.to_string()
}

fn pg(e: tokio_postgres::Error) -> String {
    // The driver's display omits the server's message; the source carries it.
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// Copy everything from `source` to `target`, verify it, and report. Runs on a thread of its
/// own (it drives its own PostgreSQL connection), so it may be called from async code.
pub fn migrate(source: &Source<'_>, target: &Target<'_>, progress: &mut Progress<'_>) -> AppResult<Report> {
    // Make sure the target's schema is current before anything is copied (the store's own
    // migrations), and free the connections it opened.
    drop(crate::store::postgres::PgStore::open(target.database_url, 2)?);
    std::thread::scope(|s| {
        s.spawn(|| {
            let src = open_source(source.database)?;
            let (photos, photo_bytes, photos_present) = match target.blobs {
                Some(to) => copy_photos(&src, &source.blobs, to, progress)?,
                None => (0, 0, 0),
            };
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let (tables, already_migrated) =
                rt.block_on(copy_database(&src, target.database_url, progress))?;
            Ok(Report { tables, photos, photo_bytes, photos_present, already_migrated })
        })
        .join()
        .unwrap_or_else(|_| Err(AppError::Internal("migration thread panicked".into())))
    })
}

fn open_source(path: &Path) -> AppResult<rusqlite::Connection> {
    if !path.is_file() {
        return Err(AppError::Internal(format!("no SQLite database at {}", path.display())));
    }
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(sq)
        .map_err(internal("open the source database"))?;
    conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(sq).map_err(internal("source"))?;
    let found: i64 = conn
        .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))
        .map_err(sq)
        .map_err(internal("read the source's schema version"))?;
    let want = crate::store::sqlite::SCHEMA_VERSION;
    if found != want {
        return Err(AppError::Internal(format!(
            "the source database is at schema {found}, this server's is {want}: run `sync-server migrate` \
             with this version on the source first"
        )));
    }
    // One snapshot for every table (and the photo list): a consistent copy even if a server
    // is still running on the file, although writes after this point are not copied.
    conn.execute_batch("BEGIN DEFERRED; SELECT COUNT(*) FROM seqs;")
        .map_err(sq)
        .map_err(internal("snapshot the source"))?;
    Ok(conn)
}

fn copy_photos(
    src: &rusqlite::Connection,
    dir: &Path,
    to: &dyn BlobStore,
    progress: &mut Progress<'_>,
) -> AppResult<(u64, u64, u64)> {
    let mut st = src
        .prepare("SELECT sha256, size FROM blobs ORDER BY sha256")
        .map_err(sq)
        .map_err(internal("source"))?;
    let blobs: Vec<(String, i64)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect())
        .map_err(sq)
        .map_err(internal("list the source's photos"))?;
    let from = crate::blobs::FsBlobStore::open(dir, u64::MAX)?;
    let uploader = shared::UserId(uuid::Uuid::nil());
    let (mut copied, mut bytes, mut present) = (0u64, 0u64, 0u64);
    for (n, (sha, size)) in blobs.iter().enumerate() {
        let hash = BlobHash::parse(sha)?;
        let size = *size as u64;
        if to.exists(&hash)? == Some(size) {
            present += 1;
            continue;
        }
        let data = read_bounded(&from, &hash, size)?;
        let status = to.start(&hash, &uploader, size)?;
        let mut offset = status.offset;
        const CHUNK: usize = 4 << 20;
        while offset < size {
            let end = (offset as usize + CHUNK).min(data.len());
            let s = to.append(&hash, &uploader, offset, &data[offset as usize..end])?;
            offset = s.offset;
            if s.complete {
                break;
            }
        }
        if to.exists(&hash)? != Some(size) {
            return Err(AppError::Internal(format!("photo {sha} did not arrive in the target store")));
        }
        copied += 1;
        bytes += size;
        if (n + 1) % 1000 == 0 {
            progress(&format!("photos: {}/{}", n + 1, blobs.len()))?;
        }
    }
    progress(&format!("photos: {copied} copied ({bytes} bytes), {present} already there"))?;
    Ok((copied, bytes, present))
}

/// The whole photo, which must be exactly `size` bytes (a shorter or longer file is refused
/// before it reaches the target; the target checks the hash).
fn read_bounded(from: &crate::blobs::FsBlobStore, hash: &BlobHash, size: u64) -> AppResult<Vec<u8>> {
    let missing = || AppError::Internal(format!("photo {} is missing from the source", hash.as_str()));
    let (reader, _) = from.open(hash)?.ok_or_else(missing)?;
    let mut data = Vec::with_capacity(size as usize);
    reader.take(size + 1).read_to_end(&mut data)?;
    if data.len() as u64 != size {
        return Err(AppError::Internal(format!(
            "photo {} in the source has {} bytes, the database says {size}",
            hash.as_str(),
            data.len()
        )));
    }
    Ok(data)
}

async fn columns(client: &tokio_postgres::Transaction<'_>, table: &str) -> AppResult<Vec<Column>> {
    let rows = client
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
              WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )
        .await
        .map_err(pg)
        .map_err(internal("read the target's columns"))?;
    rows.iter()
        .map(|r| {
            let (name, ty): (String, String) = (r.get(0), r.get(1));
            let ty = match ty.as_str() {
                "bigint" => Type::INT8,
                "integer" => Type::INT4,
                "boolean" => Type::BOOL,
                "double precision" => Type::FLOAT8,
                "text" => Type::TEXT,
                "bytea" => Type::BYTEA,
                other => {
                    return Err(AppError::Internal(format!("{table}.{name}: type {other} is not migrated")));
                }
            };
            Ok(Column { name, ty })
        })
        .collect()
}

/// A SQLite value as the target column types it.
fn from_sqlite(table: &str, col: &Column, v: SqlValue) -> AppResult<Val> {
    let bad =
        |v: &SqlValue| AppError::Internal(format!("{table}.{}: {v:?} does not fit {}", col.name, col.ty));
    Ok(match (&col.ty, v) {
        (_, SqlValue::Null) => Val::Null,
        (t, SqlValue::Integer(i)) if *t == Type::INT8 => Val::Int(i),
        (t, SqlValue::Integer(i)) if *t == Type::INT4 => {
            Val::Int4(i32::try_from(i).map_err(|_| bad(&SqlValue::Integer(i)))?)
        }
        (t, SqlValue::Integer(i)) if *t == Type::BOOL => Val::Bool(i != 0),
        (t, SqlValue::Integer(i)) if *t == Type::FLOAT8 => Val::Float(i as f64),
        (t, SqlValue::Real(f)) if *t == Type::FLOAT8 => Val::Float(f),
        (t, SqlValue::Text(s)) if *t == Type::TEXT => Val::Text(s),
        (t, SqlValue::Blob(b)) if *t == Type::BYTEA => Val::Bytes(b),
        (_, v) => return Err(bad(&v)),
    })
}

fn from_pg(row: &tokio_postgres::Row, k: usize, col: &Column) -> Result<Val, tokio_postgres::Error> {
    let t = &col.ty;
    Ok(if *t == Type::INT8 {
        row.try_get::<_, Option<i64>>(k)?.map_or(Val::Null, Val::Int)
    } else if *t == Type::INT4 {
        row.try_get::<_, Option<i32>>(k)?.map_or(Val::Null, Val::Int4)
    } else if *t == Type::BOOL {
        row.try_get::<_, Option<bool>>(k)?.map_or(Val::Null, Val::Bool)
    } else if *t == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(k)?.map_or(Val::Null, Val::Float)
    } else if *t == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(k)?.map_or(Val::Null, Val::Bytes)
    } else {
        row.try_get::<_, Option<String>>(k)?.map_or(Val::Null, Val::Text)
    })
}

fn quoted(cols: &[Column]) -> String {
    cols.iter().map(|c| format!("\"{}\"", c.name)).collect::<Vec<_>>().join(", ")
}

async fn target_fingerprint(
    tx: &tokio_postgres::Transaction<'_>,
    table: &str,
    cols: &[Column],
) -> AppResult<TableFingerprint> {
    let mut fp = TableFingerprint::default();
    // A portal, so a large table streams instead of arriving as one result.
    let portal = tx
        .bind(&format!("SELECT {} FROM \"{table}\"", quoted(cols)), &[])
        .await
        .map_err(pg)
        .map_err(internal("read the target"))?;
    loop {
        let rows = tx.query_portal(&portal, 5_000).await.map_err(pg).map_err(internal("read the target"))?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let vals = cols
                .iter()
                .enumerate()
                .map(|(k, c)| from_pg(r, k, c))
                .collect::<Result<Vec<_>, _>>()
                .map_err(pg)
                .map_err(internal("read the target"))?;
            fp.add(table, &vals);
        }
    }
    Ok(fp)
}

async fn copy_database(
    src: &rusqlite::Connection,
    url: &str,
    progress: &mut Progress<'_>,
) -> AppResult<(BTreeMap<String, TableFingerprint>, bool)> {
    let (mut client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(pg)
        .map_err(internal("connect to the target"))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let tx = client.transaction().await.map_err(pg).map_err(internal("target"))?;
    // No server may write while the copy runs (they take the same lock for every write).
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&crate::store::postgres::WRITE_LOCK])
        .await
        .map_err(pg)
        .map_err(internal("target"))?;

    let mut schema = Vec::with_capacity(TABLES.len());
    for t in TABLES {
        schema.push((*t, columns(&tx, t).await?));
    }
    // The source's fingerprint first: it decides whether there is anything to do.
    let mut source = BTreeMap::new();
    for (t, cols) in &schema {
        source.insert(t.to_string(), source_fingerprint(src, t, cols)?);
    }
    // Anything beyond the migration's own first row of `seqs` means the target is in use.
    let mut in_use = false;
    for t in TABLES.iter().filter(|t| **t != "seqs") {
        let row = tx
            .query_one(&format!("SELECT EXISTS (SELECT 1 FROM \"{t}\")"), &[])
            .await
            .map_err(pg)
            .map_err(internal("target"))?;
        in_use |= row.get::<_, bool>(0);
    }
    if in_use {
        let mut there = BTreeMap::new();
        for (t, cols) in &schema {
            there.insert(t.to_string(), target_fingerprint(&tx, t, cols).await?);
        }
        drop(tx);
        driver.abort();
        if there == source {
            progress(&format!(
                "the target already holds this data (fingerprint {})",
                fingerprint_of(&source)
            ))?;
            return Ok((source, true));
        }
        let differ: Vec<&String> = source.keys().filter(|k| source.get(*k) != there.get(*k)).collect();
        return Err(AppError::Internal(format!(
            "the target database already holds other data (tables that differ: {differ:?}); \
             migrate into a new, empty database"
        )));
    }

    let all = TABLES.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ");
    tx.batch_execute(&format!("TRUNCATE {all}")).await.map_err(pg).map_err(internal("empty the target"))?;
    for (t, cols) in &schema {
        let n = copy_table(src, &tx, t, cols).await?;
        progress(&format!("{t}: {n} rows"))?;
    }
    let mut copied = BTreeMap::new();
    for (t, cols) in &schema {
        copied.insert(t.to_string(), target_fingerprint(&tx, t, cols).await?);
    }
    if copied != source {
        let differ: Vec<&String> = source.keys().filter(|k| source.get(*k) != copied.get(*k)).collect();
        return Err(AppError::Internal(format!(
            "the copy does not match the source (tables {differ:?}); nothing was committed"
        )));
    }
    tx.commit().await.map_err(pg).map_err(internal("commit the copy"))?;
    driver.abort();
    progress(&format!(
        "verified: {} rows, fingerprint {}",
        copied.values().map(|t| t.rows).sum::<u64>(),
        fingerprint_of(&copied)
    ))?;
    Ok((copied, false))
}

/// One source row as the target's columns type it.
fn source_row(table: &str, cols: &[Column], r: &rusqlite::Row<'_>) -> AppResult<Vec<Val>> {
    cols.iter()
        .enumerate()
        .map(|(k, c)| from_sqlite(table, c, r.get(k).map_err(sq).map_err(internal("read the source"))?))
        .collect()
}

fn select_source(table: &str, cols: &[Column]) -> String {
    format!("SELECT {} FROM \"{table}\"", quoted(cols))
}

fn source_fingerprint(
    src: &rusqlite::Connection,
    table: &str,
    cols: &[Column],
) -> AppResult<TableFingerprint> {
    let mut fp = TableFingerprint::default();
    let mut st = src.prepare(&select_source(table, cols)).map_err(sq).map_err(internal("read the source"))?;
    let mut rows = st.query([]).map_err(sq).map_err(internal("read the source"))?;
    while let Some(r) = rows.next().map_err(sq).map_err(internal("read the source"))? {
        fp.add(table, &source_row(table, cols, r)?);
    }
    Ok(fp)
}

async fn copy_table(
    src: &rusqlite::Connection,
    tx: &tokio_postgres::Transaction<'_>,
    table: &str,
    cols: &[Column],
) -> AppResult<u64> {
    let sink = tx
        .copy_in(&format!("COPY \"{table}\" ({}) FROM STDIN BINARY", quoted(cols)))
        .await
        .map_err(pg)
        .map_err(internal("copy into the target"))?;
    let types: Vec<Type> = cols.iter().map(|c| c.ty.clone()).collect();
    let writer = BinaryCopyInWriter::new(sink, &types);
    futures::pin_mut!(writer);
    let mut st = src.prepare(&select_source(table, cols)).map_err(sq).map_err(internal("read the source"))?;
    let mut rows = st.query([]).map_err(sq).map_err(internal("read the source"))?;
    let mut n = 0u64;
    while let Some(r) = rows.next().map_err(sq).map_err(internal("read the source"))? {
        let vals = source_row(table, cols, r)?;
        let refs: Vec<&(dyn ToSql + Sync)> = vals.iter().zip(&types).map(|(v, t)| v.as_sql(t)).collect();
        writer
            .as_mut()
            .write(&refs)
            .await
            .map_err(|e| AppError::Internal(format!("copy into the target's {table}: {}", pg(e))))?;
        n += 1;
    }
    writer.finish().await.map_err(pg).map_err(internal("copy into the target"))?;
    Ok(n)
}
