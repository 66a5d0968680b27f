//! The real sync-server as a separate process for process-fault tests (`kill -9` mid-upload,
//! restart on the same data directory): the test fixture on a fresh database, then serve.
//! Prints `listening <addr>` once it accepts connections.
//!
//! `test-server <data-dir> <listen-addr> [<postgres-url>|- [<s3-prefix>]]`: with a database URL
//! the server runs on that PostgreSQL database, with a prefix its photos go to that prefix of
//! the test bucket at `QINGLIU_TEST_S3` (several processes given the same ones form a cluster).

use sync_server::config::Config;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let data_dir = args.next().expect("data dir");
    let listen: std::net::SocketAddr = args.next().expect("listen address").parse().expect("address");
    let database_url = args.next().filter(|u| u != "-");
    let s3_prefix = args.next();
    let config = Config { data_dir: data_dir.into(), listen, database_url, ..Config::default() };
    let mut state = sync_server::AppState::open(config).expect("open state");
    if let Some(prefix) = s3_prefix {
        let endpoint = qingliu_tests::database::s3_endpoint().expect("QINGLIU_TEST_S3 for an S3 prefix");
        state.set_blobs(qingliu_tests::database::s3_blob_store(
            &endpoint,
            &prefix,
            state.config.max_blob_bytes,
        ));
    }
    let fresh = state
        .store
        .read()
        .expect("read")
        .users_by_role(shared::auth::Role::Inspector)
        .expect("users")
        .is_empty();
    if fresh {
        qingliu_tests::fixture::install(state.store.as_ref());
    }
    let listener = qingliu_tests::bind_retrying(listen).await;
    println!("listening {}", listener.local_addr().expect("addr"));
    sync_server::serve(state, listener).await.expect("serve");
}
