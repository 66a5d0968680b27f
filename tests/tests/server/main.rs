//! The sync-server driven over HTTP on a real port, with a real SQLite file and blob directory.

mod app_sync;
mod auth;
mod blobs;
mod ingest;
mod malformed;
mod openapi;
mod prop_sync;
mod review;
mod scopes;
mod seed;

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

/// Log in as an inspector and register a fresh device.
pub async fn inspector(server: &TestServer, user: &str) -> (ApiClient, DeviceId) {
    let c = login(server, user).await;
    let device = DeviceId::new();
    c.register_device(device, "测试平板")
        .await
        .expect("register device");
    (c, device)
}

/// Everything a rejected request must leave untouched.
pub fn fingerprint(store: &dyn Store) -> serde_json::Value {
    let mut tx = store.read().expect("read");
    serde_json::json!({
        "change_seq": tx.current_change_seq().unwrap(),
        "records": tx.count_records().unwrap().iter().map(|(s, n)| format!("{}={n}", s.as_str())).collect::<Vec<_>>(),
        "versions": tx.count_versions().unwrap(),
        "blobs": tx.count_blobs().unwrap(),
        "audit": tx.count_audit().unwrap(),
        "counters": tx.all_counters().unwrap().iter().map(|(k, v)| format!("{}/{}/{}={v}", k.region, k.metric, k.year)).collect::<Vec<_>>(),
    })
}

/// Counters must always equal a full recount from the sites.
pub fn assert_counters_match_recount(store: &dyn Store) {
    let mut tx = store.read().expect("read");
    let maintained: std::collections::BTreeMap<_, _> =
        tx.all_counters().unwrap().into_iter().collect();
    let recount: std::collections::BTreeMap<_, _> =
        sync_server::domain::rollup::recount(tx.as_mut())
            .unwrap()
            .into_iter()
            .filter(|(_, v)| *v != 0)
            .collect();
    assert_eq!(
        maintained, recount,
        "maintained counters differ from a full recount"
    );
}
