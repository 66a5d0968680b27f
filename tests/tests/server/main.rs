//! The sync-server driven over HTTP on a real port, with a real SQLite file and blob directory,
//! or (with `QINGLIU_TEST_POSTGRES` set) on a fresh PostgreSQL database: the conformance suite.

mod admin;
mod app_sync;
mod audit;
mod auth;
mod backup;
mod blobs;
mod cluster;
mod contract;
mod documents;
mod evidence;
mod evidence_reads;
mod exports;
mod faults;
mod ingest;
mod integration;
mod malformed;
mod migrate_data;
mod offline_review;
mod openapi;
mod operations;
mod positions;
mod prop_counters;
mod prop_sync;
mod review;
mod scopes;
mod seed;
mod signatures;
mod tracking;
mod webhooks;
mod wire;

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
/// server's database, per table, read through a separate connection.
pub fn fingerprint(server: &TestServer) -> serde_json::Value {
    server.dba().content_fingerprint()
}

/// Counters must always equal a full recount from the sites.
pub fn assert_counters_match_recount(store: &dyn Store) {
    if let Err(e) = qingliu_tests::invariants::counters_match_recount(store) {
        panic!("{e}");
    }
}
