//! The backend switch of the test harness. With `QINGLIU_TEST_POSTGRES` set to a server URL
//! (`postgres://postgres@127.0.0.1:5432`), every test server runs on a fresh PostgreSQL
//! database of its own, created here and dropped when the server is; without it, on SQLite in
//! the server's temporary directory. The same tests run on both (scripts/test.sh runs them
//! twice). [`Dba`] is what a database administrator can do around the server, on either.
//!
//! With `QINGLIU_TEST_S3` set to the endpoint of an S3-compatible server (scripts/test.sh
//! starts `s3s-fs` and creates the bucket `qingliu-test`), photos go to that bucket instead of
//! the blob directory, each test server under a prefix of its own.

use std::path::Path;

use sha2::Digest;

/// The PostgreSQL server the tests use, if they are to run on PostgreSQL.
pub fn postgres_server() -> Option<String> {
    let url = std::env::var("QINGLIU_TEST_POSTGRES").ok()?;
    let url = url.trim().trim_end_matches('/');
    if url.is_empty() {
        return None;
    }
    // Keep scheme, credentials, host and port; the database is ours to choose.
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next().unwrap_or(rest);
    Some(format!("{scheme}://{host}"))
}

pub fn on_postgres() -> bool {
    postgres_server().is_some()
}

/// Run `f` with a short-lived runtime on its own thread: usable from sync code and from inside
/// an async test alike.
fn on_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().expect("database helper thread")
}

async fn admin_client(server: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&format!("{server}/postgres"), tokio_postgres::NoTls)
        .await
        .expect("connect to postgres");
    tokio::spawn(conn);
    client
}

/// A fresh database on the test PostgreSQL server; its URL.
pub fn create_database() -> String {
    create_database_on(&postgres_server().expect("QINGLIU_TEST_POSTGRES"))
}

/// A fresh database on `server` (`postgres://user@host:port`); its URL.
pub fn create_database_on(server: &str) -> String {
    let server = server.trim_end_matches('/').to_string();
    let name = format!("qingliu_t_{}", uuid::Uuid::now_v7().simple());
    let (s, n) = (server.clone(), name.clone());
    on_thread(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            admin_client(&s)
                .await
                .batch_execute(&format!("CREATE DATABASE {n}"))
                .await
                .expect("create database");
        });
    });
    format!("{server}/{name}")
}

/// Drop a database made by [`create_database`], disconnecting whoever is still on it.
pub fn drop_database(url: &str) {
    let Some((server, name)) = url.rsplit_once('/') else { return };
    if !name.starts_with("qingliu_t_") {
        return;
    }
    let (s, n) = (server.to_string(), name.to_string());
    on_thread(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let _ = admin_client(&s)
                .await
                .batch_execute(&format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)"))
                .await;
        });
    });
}

/// The database a test server's data directory is bound to: on PostgreSQL, created with the
/// directory and noted in it, so that a server restarted on the directory finds it again.
pub fn database_for(dir: &Path) -> Option<String> {
    postgres_server()?;
    let note = dir.join("postgres-database");
    if let Ok(url) = std::fs::read_to_string(&note) {
        return Some(url);
    }
    let url = create_database();
    std::fs::write(&note, &url).expect("note database");
    Some(url)
}

/// A value bound to a [`Dba`] statement.
#[derive(Debug, Clone)]
pub enum Val {
    Text(String),
    Int(i64),
}

impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Val::Text(s.to_string())
    }
}
impl From<String> for Val {
    fn from(s: String) -> Self {
        Val::Text(s)
    }
}
impl From<i64> for Val {
    fn from(n: i64) -> Self {
        Val::Int(n)
    }
}

/// A direct connection to a server's database, as its administrator has: SQL with `?1`-style
/// placeholders on both backends.
pub enum Dba {
    Sqlite(rusqlite::Connection),
    Postgres { runtime: Option<tokio::runtime::Runtime>, client: tokio_postgres::Client },
}

impl Dba {
    pub fn open(config: &sync_server::config::Config) -> Dba {
        match config.database().expect("database") {
            sync_server::config::Database::Sqlite(path) => {
                Dba::Sqlite(rusqlite::Connection::open(path).expect("open sqlite"))
            }
            sync_server::config::Database::Postgres(url) => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .expect("runtime");
                let (tx, rx) = futures::channel::oneshot::channel();
                runtime.spawn(async move {
                    let (client, conn) =
                        tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connect");
                    tokio::spawn(conn);
                    let _ = tx.send(client);
                });
                // A channel, not the JoinHandle: see sync_server::store::postgres::run_on.
                let client = futures::executor::block_on(rx).expect("connect task");
                Dba::Postgres { runtime: Some(runtime), client }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Dba::Postgres { .. })
    }

    /// Run a statement; the rows it changed.
    pub fn execute(&self, sql: &str, params: &[Val]) -> u64 {
        match self {
            Dba::Sqlite(c) => {
                let p = sqlite_params(params);
                c.execute(sql, rusqlite::params_from_iter(p.iter())).expect(sql) as u64
            }
            Dba::Postgres { client, .. } => {
                let sql = dollar_placeholders(sql);
                let p = pg_params(params);
                let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                    p.iter().map(|b| b.as_ref()).collect();
                futures::executor::block_on(client.execute(sql.as_str(), &refs)).expect(&sql)
            }
        }
    }

    /// The first column of the first row, as text.
    pub fn query_text(&self, sql: &str, params: &[Val]) -> Option<String> {
        match self {
            Dba::Sqlite(c) => {
                let p = sqlite_params(params);
                use rusqlite::OptionalExtension;
                c.query_row(sql, rusqlite::params_from_iter(p.iter()), |r| r.get::<_, Option<String>>(0))
                    .optional()
                    .expect(sql)
                    .flatten()
            }
            Dba::Postgres { client, .. } => {
                let sql = dollar_placeholders(sql);
                let p = pg_params(params);
                let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                    p.iter().map(|b| b.as_ref()).collect();
                let row = futures::executor::block_on(client.query_opt(sql.as_str(), &refs)).expect(&sql);
                row.and_then(|r| r.get::<_, Option<String>>(0))
            }
        }
    }

    /// Every row of every table, hashed per table: what a rejected request must leave as it was.
    pub fn content_fingerprint(&self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        match self {
            Dba::Sqlite(conn) => {
                let tables: Vec<String> = conn
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                    .unwrap()
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                for t in tables {
                    let mut st = conn.prepare(&format!("SELECT * FROM \"{t}\" ORDER BY 1, 2")).unwrap();
                    let cols = st.column_count();
                    let mut h = sha2::Sha256::new();
                    let mut rows = st.query([]).unwrap();
                    let mut n = 0u64;
                    while let Some(r) = rows.next().unwrap() {
                        n += 1;
                        for c in 0..cols {
                            let v: rusqlite::types::Value = r.get(c).unwrap();
                            h.update(format!("{v:?}|").as_bytes());
                        }
                        h.update(b"\n");
                    }
                    out.insert(t, serde_json::json!(format!("{n}:{}", hex::encode(h.finalize()))));
                }
            }
            Dba::Postgres { client, .. } => {
                let tables = futures::executor::block_on(client.query(
                    "SELECT table_name::text FROM information_schema.tables
                      WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
                    &[],
                ))
                .unwrap();
                for t in tables {
                    let t: String = t.get(0);
                    let rows = futures::executor::block_on(
                        client.query(&format!("SELECT x::text FROM \"{t}\" x ORDER BY 1"), &[]),
                    )
                    .unwrap();
                    let mut h = sha2::Sha256::new();
                    for r in &rows {
                        h.update(r.get::<_, String>(0).as_bytes());
                        h.update(b"\n");
                    }
                    out.insert(t, serde_json::json!(format!("{}:{}", rows.len(), hex::encode(h.finalize()))));
                }
            }
        }
        serde_json::Value::Object(out)
    }
}

impl Drop for Dba {
    fn drop(&mut self) {
        if let Dba::Postgres { runtime, .. } = self
            && let Some(rt) = runtime.take()
        {
            rt.shutdown_background();
        }
    }
}

fn sqlite_params(params: &[Val]) -> Vec<Box<dyn rusqlite::ToSql>> {
    params
        .iter()
        .map(|v| -> Box<dyn rusqlite::ToSql> {
            match v {
                Val::Text(s) => Box::new(s.clone()),
                Val::Int(n) => Box::new(*n),
            }
        })
        .collect()
}

fn pg_params(params: &[Val]) -> Vec<Box<dyn tokio_postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|v| -> Box<dyn tokio_postgres::types::ToSql + Sync> {
            match v {
                Val::Text(s) => Box::new(s.clone()),
                Val::Int(n) => Box::new(*n),
            }
        })
        .collect()
}

/// `?1` → `$1` (the tests' SQL has no `?` inside literals).
fn dollar_placeholders(sql: &str) -> String {
    sql.replace('?', "$")
}

/// The S3-compatible endpoint the tests use, if they are to store photos there.
pub fn s3_endpoint() -> Option<String> {
    std::env::var("QINGLIU_TEST_S3")
        .ok()
        .map(|s| s.trim().trim_end_matches('/').to_string())
        .filter(|s| !s.is_empty())
}

/// The test bucket and the credentials scripts/test.sh starts the server with.
pub const S3_BUCKET: &str = "qingliu-test";
pub const S3_ACCESS_KEY: &str = "qingliu";
pub const S3_SECRET_KEY: &str = "qingliu-test-secret";

/// A client of the test bucket at `endpoint`, as the servers build theirs.
pub fn s3_client(endpoint: &str) -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_bucket_name(S3_BUCKET)
        .with_region("us-east-1")
        .with_access_key_id(S3_ACCESS_KEY)
        .with_secret_access_key(S3_SECRET_KEY)
        .with_allow_http(true)
        .build()
        .expect("s3 client")
}

/// Put (`Some`) or delete (`None`) an object of the test bucket directly.
pub fn s3_raw(key: &str, bytes: Option<Vec<u8>>) {
    use object_store::ObjectStore;
    let endpoint = s3_endpoint().expect("QINGLIU_TEST_S3");
    let key = object_store::path::Path::from(key);
    on_thread(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let c = s3_client(&endpoint);
            match bytes {
                Some(b) => {
                    c.put(&key, b.into()).await.expect("put");
                }
                None => c.delete(&key).await.expect("delete"),
            }
        });
    });
}

/// Delete every object under `prefix` of the test bucket (a test server's photos, when the
/// server that owned them is dropped: the bucket stays as small as the tests running now).
pub fn s3_delete_prefix(prefix: &str) {
    use futures::StreamExt;
    use object_store::ObjectStore;
    let Some(endpoint) = s3_endpoint() else { return };
    let prefix = object_store::path::Path::from(prefix);
    on_thread(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let c = s3_client(&endpoint);
            let keys: Vec<_> = c.list(Some(&prefix)).filter_map(|m| async move { m.ok() }).collect().await;
            for m in keys {
                let _ = c.delete(&m.location).await;
            }
        });
    });
}

/// A client of the test bucket, under `prefix`.
pub fn s3_blob_store(
    endpoint: &str,
    prefix: &str,
    max_size: u64,
) -> std::sync::Arc<dyn sync_server::blobs::BlobStore> {
    let store = s3_client(endpoint);
    std::sync::Arc::new(
        sync_server::blobs_s3::S3BlobStore::with_store(std::sync::Arc::new(store), prefix, max_size)
            .expect("s3 store"),
    )
}

/// The bucket prefix a test server's data directory is bound to (noted in it, as the
/// database is), when photos go to S3.
pub fn blob_prefix_for(dir: &Path) -> Option<String> {
    s3_endpoint()?;
    let note = dir.join("s3-prefix");
    if let Ok(p) = std::fs::read_to_string(&note) {
        return Some(p);
    }
    // Short: s3s-fs keeps each object's metadata in a file named after the whole key.
    let prefix = format!("t{:016x}", rand::random::<u64>());
    std::fs::write(&note, &prefix).expect("note prefix");
    Some(prefix)
}
