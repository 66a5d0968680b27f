//! The sync-server driven over HTTP on a real port, with a real SQLite file and blob directory.

mod admin;
mod app_sync;
mod audit;
mod auth;
mod blobs;
mod documents;
mod evidence;
mod faults;
mod ingest;
mod malformed;
mod openapi;
mod positions;
mod prop_counters;
mod prop_sync;
mod review;
mod scopes;
mod seed;
mod signatures;
mod tracking;

use qingliu_tests::fixture::{self, Fixture, PASSWORD};
use qingliu_tests::{ApiClient, TestServer};
use shared::DeviceId;
use sync_server::store::Store;

pub async fn setup() -> (TestServer, Fixture) {
    let server = TestServer::start().await;
    let fx = fixture::install(server.state.store.as_ref());
    (server, fx)
}

pub async fn login(server: &TestServer, user: &str) -> ApiClient {
    let mut c = server.client();
    c.login(user, PASSWORD).await.expect("login");
    c
}

pub use qingliu_tests::tablet;

/// Log in as an inspector and register a fresh device.
pub async fn inspector(server: &TestServer, user: &str) -> (ApiClient, DeviceId) {
    let c = login(server, user).await;
    let device = DeviceId::new();
    c.register_device(device, "测试平板").await.expect("register device");
    (c, device)
}

/// Everything a rejected request must leave untouched: every row of every table of the
/// server's database file, per table, read through a separate read-only connection.
pub fn fingerprint(server: &TestServer) -> serde_json::Value {
    use sha2::Digest;
    let path = server.state.config.db_path();
    let conn = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = serde_json::Map::new();
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
    serde_json::Value::Object(out)
}

/// Counters must always equal a full recount from the sites.
pub fn assert_counters_match_recount(store: &dyn Store) {
    if let Err(e) = qingliu_tests::invariants::counters_match_recount(store) {
        panic!("{e}");
    }
}
