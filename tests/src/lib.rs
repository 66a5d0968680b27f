//! Test harness: a real sync-server on a real port (127.0.0.1:0) over a real SQLite file and
//! blob directory in a temporary directory, a small fixture of regions, sites and users, and a
//! typed HTTP client. Used by the cross-crate tests and the ingest benchmark.

pub mod balancer;
pub mod chaos;
pub mod client;
pub mod cluster;
pub mod database;
pub mod documents;
pub mod faultproxy;
pub mod fixture;
pub mod geoclue;
pub mod invariants;
pub mod pgserver;
pub mod photos;
pub mod process;
pub mod records;
pub mod webdriver;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sync_server::AppState;
use sync_server::config::Config;
use time::OffsetDateTime;

pub use client::{ApiClient, Failure};
pub use fixture::Fixture;

/// A clock the test can move forward without sleeping.
#[derive(Clone, Default)]
pub struct TestClock {
    offset_secs: Arc<AtomicI64>,
}

impl TestClock {
    pub fn advance(&self, d: time::Duration) {
        self.offset_secs.fetch_add(d.whole_seconds(), Ordering::SeqCst);
    }
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + time::Duration::seconds(self.offset_secs.load(Ordering::SeqCst))
    }
}

pub struct TestServer {
    pub base: String,
    pub state: AppState,
    pub clock: TestClock,
    pub dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
    /// The webhook dispatcher, as `sync_server::serve` runs it.
    webhooks: tokio::task::JoinHandle<()>,
    /// The PostgreSQL database this server owns (dropped with it), when on PostgreSQL.
    database: Option<String>,
    /// The prefix of the test bucket this server owns (emptied when it is dropped), when its
    /// photos go to S3.
    owned_prefix: Option<String>,
}

impl TestServer {
    /// Start a server on an empty database.
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, "127.0.0.1:0".parse().expect("addr"), tweak).await
    }

    /// Stop serving and hand back the data directory (the database and blobs stay on disk, or
    /// the PostgreSQL database stays for a server restarted on the directory).
    pub fn stop(mut self) -> (tempfile::TempDir, std::net::SocketAddr) {
        let addr = self.addr();
        self.task.abort();
        self.webhooks.abort();
        self.database = None;
        self.owned_prefix = None;
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        (dir, addr)
    }

    /// A second server on the same database (and blob directory) as `other`, as a cluster runs
    /// them: what one commits, the other serves. It does not own the database.
    pub async fn start_sharing(other: &TestServer) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config {
            data_dir: other.state.config.data_dir.clone(),
            database_url: other.state.config.database_url.clone(),
            ..Config::default()
        };
        let clock = TestClock::default();
        let c2 = clock.clone();
        let mut state = AppState::open(config).expect("open state").with_clock(Arc::new(move || c2.now()));
        if let Some(prefix) = database::blob_prefix_for(other.dir.path()) {
            state.set_blobs(database::s3_blob_store(
                &database::s3_endpoint().expect("endpoint"),
                &prefix,
                state.config.max_blob_bytes,
            ));
        }
        Self::launch(state, clock, dir, "127.0.0.1:0".parse().expect("addr"), None, None).await
    }

    /// Another server on `state` (a copy of a server's with a store swapped, say); it owns
    /// nothing of what `state` points at.
    pub async fn serving(state: AppState) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::launch(state, TestClock::default(), dir, "127.0.0.1:0".parse().expect("addr"), None, None).await
    }

    /// Serve `dir`'s data on `addr` (e.g. to restart a stopped server where it was).
    pub async fn start_in(
        dir: tempfile::TempDir,
        addr: std::net::SocketAddr,
        tweak: impl FnOnce(&mut Config),
    ) -> TestServer {
        let database = database::database_for(dir.path());
        let prefix = database::blob_prefix_for(dir.path());
        Self::serve(dir, addr, database, prefix, tweak).await
    }

    /// The embedded default (SQLite and the blob directory under `dir`) whichever backend the
    /// harness runs the other servers on: what `sync-server migrate-data` starts from.
    pub async fn start_embedded(dir: tempfile::TempDir, addr: std::net::SocketAddr) -> TestServer {
        Self::serve(dir, addr, None, None, |_| {}).await
    }

    async fn serve(
        dir: tempfile::TempDir,
        addr: std::net::SocketAddr,
        database: Option<String>,
        blob_prefix: Option<String>,
        tweak: impl FnOnce(&mut Config),
    ) -> TestServer {
        let mut config =
            Config { data_dir: dir.path().join("data"), database_url: database.clone(), ..Config::default() };
        tweak(&mut config);
        let clock = TestClock::default();
        let c2 = clock.clone();
        let mut state = AppState::open(config).expect("open state").with_clock(Arc::new(move || c2.now()));
        if let Some(prefix) = &blob_prefix {
            state.set_blobs(database::s3_blob_store(
                &database::s3_endpoint().expect("endpoint"),
                prefix,
                state.config.max_blob_bytes,
            ));
        }
        Self::launch(state, clock, dir, addr, database, blob_prefix).await
    }

    /// Listen on `addr` and serve `state`; the server owns `database` and `owned_prefix` (drops
    /// and empties them when dropped).
    async fn launch(
        state: AppState,
        clock: TestClock,
        dir: tempfile::TempDir,
        addr: std::net::SocketAddr,
        database: Option<String>,
        owned_prefix: Option<String>,
    ) -> TestServer {
        let listener = bind_retrying(addr).await;
        let addr = listener.local_addr().expect("addr");
        let router = sync_server::router(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum_serve(listener, router).await;
        });
        let webhooks = sync_server::webhooks::spawn(state.clone());
        TestServer {
            base: format!("http://{addr}"),
            state,
            clock,
            dir,
            task,
            webhooks,
            database,
            owned_prefix,
        }
    }

    /// Overwrite (`Some`) or delete (`None`) a stored blob behind the server's back, as whoever
    /// administers the blob directory or the bucket could.
    pub fn tamper_blob(&self, hash: &str, bytes: Option<&[u8]>) {
        let rel = format!("blobs/{}/{hash}", &hash[..2]);
        match database::blob_prefix_for(self.dir.path()) {
            None => {
                let path = self.state.config.blob_dir().join(&rel);
                match bytes {
                    Some(b) => {
                        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
                        std::fs::write(&path, b).expect("write blob");
                    }
                    None => std::fs::remove_file(&path).expect("remove blob"),
                }
            }
            Some(prefix) => database::s3_raw(&format!("{prefix}/{rel}"), bytes.map(<[u8]>::to_vec)),
        }
    }

    /// The prefix of the test bucket this server's photos go to, when they go to S3.
    pub fn blob_prefix(&self) -> Option<String> {
        database::blob_prefix_for(self.dir.path())
    }

    /// A direct connection to this server's database, as its administrator has.
    pub fn dba(&self) -> database::Dba {
        database::Dba::open(&self.state.config)
    }

    pub fn client(&self) -> ApiClient {
        ApiClient::new(&self.base)
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.base.trim_start_matches("http://").parse().expect("addr")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
        self.webhooks.abort();
        if let Some(url) = self.database.take() {
            database::drop_database(&url);
        }
        if let Some(prefix) = self.owned_prefix.take() {
            database::s3_delete_prefix(&prefix);
        }
    }
}

/// Bind, retrying briefly while a just-stopped server's socket is released.
pub async fn bind_retrying(addr: std::net::SocketAddr) -> tokio::net::TcpListener {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => return l,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                tokio::task::yield_now().await;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("bind {addr}: {e}"),
        }
    }
}

async fn axum_serve(listener: tokio::net::TcpListener, router: axum::Router) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    axum::serve(listener.tap_io(sync_server::no_delay), router).await
}

/// A tablet: a fresh app core (its data in the returned directory) logged in as `user` through
/// `base`, with its first sync done, and its sync client.
pub async fn tablet(
    base: &str,
    user: &str,
) -> (tempfile::TempDir, qingliu_app::AppCore, qingliu_app::sync::SyncClient) {
    let dir = tempfile::tempdir().expect("dir");
    let core = qingliu_app::AppCore::open(dir.path()).expect("open app core");
    qingliu_app::sync::login(&core, base, user, fixture::PASSWORD).await.expect("login");
    let client = qingliu_app::sync::client_for(&core).expect("client");
    qingliu_app::sync::sync_once(&core, &client, &mut |_| {}).await.expect("first sync");
    (dir, core, client)
}
