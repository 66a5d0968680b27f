//! Qingliu sync-server: the authority for inspection records, review state, site status and
//! rollup counters. See ARCHITECTURE.md for the shape and invariants.

pub mod api;
pub mod audit_chain;
pub mod backup;
pub mod blobs;
pub mod blobs_s3;
pub mod config;
pub mod domain;
pub mod error;
pub mod fingerprint;
pub mod metrics;
pub mod migrate_data;
pub mod seed;
pub mod seed_records;
pub mod signatures;
pub mod store;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::blobs::{BlobStore, FsBlobStore};
use crate::blobs_s3::S3BlobStore;
use crate::config::{Config, Database};
use crate::domain::auth::LoginLimiter;
use crate::error::{AppError, AppResult};
use crate::store::Store;
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;

pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn BlobStore>,
    pub config: Arc<Config>,
    pub limiter: Arc<LoginLimiter>,
    pub metrics: Arc<metrics::Metrics>,
    /// Injected so that tests can move time (token expiry) without sleeping.
    pub clock: Clock,
}

impl AppState {
    /// Open the backends the configuration names: by default the embedded SQLite file and the
    /// blob directory under `config.data_dir`; PostgreSQL and an S3-compatible bucket for a
    /// cluster.
    pub fn open(config: Config) -> AppResult<AppState> {
        std::fs::create_dir_all(&config.data_dir)?;
        let database = config.database().map_err(|e| AppError::Internal(e.to_string()))?;
        let store: Arc<dyn Store> = match database {
            Database::Sqlite(path) => Arc::new(SqliteStore::open(&path)?),
            Database::Postgres(url) => Arc::new(PgStore::open(&url, config.database_pool_size)?),
        };
        // Before serving: an export joins on these columns and would miss what is not there.
        let filled = domain::export::backfill(store.as_ref())?;
        if filled > 0 {
            tracing::info!(versions = filled, "filled in export columns of stored versions");
        }
        let blobs: Arc<dyn BlobStore> = match config.blob_store_url.as_deref() {
            Some(url) => Arc::new(S3BlobStore::open(url, config.max_blob_bytes)?),
            None => Arc::new(FsBlobStore::open(&config.blob_dir(), config.max_blob_bytes)?),
        };
        Ok(AppState::new(config, store, blobs))
    }

    pub fn new(config: Config, store: Arc<dyn Store>, blobs: Arc<dyn BlobStore>) -> AppState {
        let limiter = LoginLimiter::new(
            config.login_max_failures,
            time::Duration::minutes(config.login_window_minutes),
        );
        let metrics = Arc::new(metrics::Metrics::default());
        AppState {
            store,
            blobs: Arc::new(metrics::MeteredBlobs { inner: blobs, metrics: metrics.clone() }),
            config: Arc::new(config),
            limiter: Arc::new(limiter),
            metrics,
            clock: Arc::new(OffsetDateTime::now_utc),
        }
    }

    /// Put photos in `blobs` instead (its failures and upload bytes counted as the first's).
    pub fn set_blobs(&mut self, blobs: Arc<dyn BlobStore>) {
        self.blobs = Arc::new(metrics::MeteredBlobs { inner: blobs, metrics: self.metrics.clone() });
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }
}

/// Run blocking storage work off the async executor.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> AppResult<T> + Send + 'static) -> AppResult<T> {
    // The request's span (and its id) follows the work onto the blocking pool.
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(|e| AppError::Internal(format!("worker task: {e}")))?
}

/// The month of an instant in Asia/Shanghai as YYYYMM.
pub fn shanghai_month(t: OffsetDateTime) -> u32 {
    let t = t.to_offset(time::macros::offset!(+8));
    t.year() as u32 * 100 + u32::from(u8::from(t.month()))
}

/// The calendar year in Asia/Shanghai (UTC+8, no daylight saving) of an instant.
pub fn shanghai_year(t: OffsetDateTime) -> i32 {
    t.to_offset(time::macros::offset!(+8)).year()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    let body = shared::ApiError::new(shared::ErrorCode::Internal, "服务器内部错误");
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    api::wire::layers(api::build(state))
        .layer(CatchPanicLayer::custom(panic_response))
        // The path only: query strings are the caller's business, not the log's.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            tracing::info_span!("request", id = %api::request_id::of(req), method = %req.method(), path = %req.uri().path())
        }))
        .layer(axum::middleware::from_fn(api::request_id::layer))
}

/// Serve until Ctrl-C or SIGTERM.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    tokio::spawn(log_audit_head_daily(state.clone()));
    webhooks::spawn(state.clone());
    if !state.config.flags.cross_record_checks {
        tracing::warn!(
            "cross-record evidence checks are off: new records are not checked for reused photos, travel, credentials or copied positions"
        );
    }
    let st = state.clone();
    // Photos stored before fingerprints existed get one, in the background.
    tokio::task::spawn_blocking(move || {
        match domain::blobs::backfill_fingerprints(st.store.as_ref(), st.blobs.as_ref()) {
            Ok(0) => {}
            Ok(n) => tracing::info!(blobs = n, "fingerprinted stored photos"),
            Err(e) => tracing::warn!(error = %e, "fingerprint backfill stopped"),
        }
    });
    use axum::serve::ListenerExt;
    axum::serve(listener.tap_io(no_delay), router(state)).with_graceful_shutdown(shutdown_signal()).await
}

/// Send each write at once: a compressed answer leaves in several small writes, and with Nagle's
/// algorithm each after the first would wait for the client's delayed ACK (~40 ms a page).
pub fn no_delay(stream: &mut tokio::net::TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY not set");
    }
}

/// The audit log's head in the server log at start and once a day, so that it is written down
/// somewhere the database administrator does not control (log shipping, the operator's notes).
async fn log_audit_head_daily(state: AppState) {
    loop {
        let st = state.clone();
        match tokio::task::spawn_blocking(move || domain::audit::head(st.store.as_ref())).await {
            Ok(Ok(h)) => tracing::info!(seq = h.seq, hash = %h.hash, "audit log head"),
            Ok(Err(e)) => tracing::warn!(error = %e, "audit log head unavailable"),
            Err(e) => tracing::warn!(error = %e, "audit log head task failed"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(24 * 3600)).await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
