//! What an operator watches (`/metrics`, the Prometheus text format, when `metrics = true`):
//! requests by route and status with latency histograms, push outcomes, upload bytes, storage
//! errors, and the review queue's depth. Counts live in this process only: each server of a
//! cluster is scraped on its own and the monitoring system adds them up, so nothing here is
//! state another server needs.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shared::UserId;
use shared::sync::{BlobStatus, MutationOutcome, MutationResult};

use crate::blobs::{BlobHash, BlobReader, BlobStore};
use crate::error::{AppError, AppResult};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Push outcomes, in the order they are printed.
const OUTCOMES: [&str; 6] = ["applied", "duplicate", "rejected", "conflict", "missing_blobs", "gap"];

/// How long a counted review queue depth is reused: counting is a scan of the records.
const QUEUE_DEPTH_TTL: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// One route's requests: by status, and their latencies.
#[derive(Default)]
struct RouteStats {
    by_status: HashMap<u16, u64>,
    latency: Histogram,
}

#[derive(Default)]
pub struct Metrics {
    /// Keyed by (method, route template); a template, never a raw path, so the label set stays
    /// as small as the route table.
    routes: Mutex<HashMap<(String, String), RouteStats>>,
    push: [AtomicU64; OUTCOMES.len()],
    upload_bytes: AtomicU64,
    database_errors: AtomicU64,
    blob_store_errors: AtomicU64,
    queue_depth: Mutex<Option<(Instant, u64)>>,
}

impl Metrics {
    pub fn request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let stats = routes.entry((method.to_string(), route.to_string())).or_default();
        *stats.by_status.entry(status).or_default() += 1;
        stats.latency.observe(elapsed.as_secs_f64());
    }

    pub fn push_results(&self, results: &[MutationResult]) {
        for r in results {
            let i = match (&r.outcome, r.duplicate) {
                (MutationOutcome::Applied { .. }, false) => 0,
                (_, true) => 1,
                (MutationOutcome::Rejected { .. }, _) => 2,
                (MutationOutcome::Conflict { .. }, _) => 3,
                (MutationOutcome::MissingBlobs { .. }, _) => 4,
                (MutationOutcome::Gap { .. }, _) => 5,
            };
            self.push[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn upload_bytes(&self, n: u64) {
        self.upload_bytes.fetch_add(n, Ordering::Relaxed);
    }

    pub fn database_error(&self) {
        self.database_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn blob_store_error(&self) {
        self.blob_store_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The review queue's depth, counted by `count` at most once per [`QUEUE_DEPTH_TTL`].
    pub fn queue_depth(&self, now: Instant, count: impl FnOnce() -> Option<u64>) -> Option<u64> {
        let mut cached = self.queue_depth.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, n)) = *cached
            && now.duration_since(at) < QUEUE_DEPTH_TTL
        {
            return Some(n);
        }
        let n = count()?;
        *cached = Some((now, n));
        Some(n)
    }

    /// Everything in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self, queue_depth: Option<u64>) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let mut keys: Vec<_> = routes.keys().collect();
        keys.sort();

        header(
            &mut out,
            "qingliu_http_requests_total",
            "counter",
            "Requests answered, by route template, method and status.",
        );
        for key in &keys {
            let stats = &routes[*key];
            let mut statuses: Vec<_> = stats.by_status.iter().collect();
            statuses.sort();
            for (status, n) in statuses {
                let labels =
                    format!("method=\"{}\",route=\"{}\",status=\"{status}\"", escape(&key.0), escape(&key.1));
                let _ = writeln!(out, "qingliu_http_requests_total{{{labels}}} {n}");
            }
        }

        let name = "qingliu_http_request_duration_seconds";
        header(
            &mut out,
            name,
            "histogram",
            "Time from request to answer head, by route template and method.",
        );
        for key in &keys {
            let h = &routes[*key].latency;
            let labels = format!("method=\"{}\",route=\"{}\"", escape(&key.0), escape(&key.1));
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
            }
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
        }
        drop(routes);

        header(
            &mut out,
            "qingliu_push_mutations_total",
            "counter",
            "Pushed mutations by outcome (duplicate: a repeat answered with its first result).",
        );
        for (outcome, n) in OUTCOMES.iter().zip(&self.push) {
            let _ = writeln!(
                out,
                "qingliu_push_mutations_total{{outcome=\"{outcome}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        header(
            &mut out,
            "qingliu_upload_bytes_total",
            "counter",
            "Photo and scan bytes received in upload chunks.",
        );
        let _ = writeln!(out, "qingliu_upload_bytes_total {}", self.upload_bytes.load(Ordering::Relaxed));
        header(
            &mut out,
            "qingliu_storage_errors_total",
            "counter",
            "Failures of the database or the blob store (not refusals of bad input).",
        );
        let _ = writeln!(
            out,
            "qingliu_storage_errors_total{{store=\"database\"}} {}",
            self.database_errors.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "qingliu_storage_errors_total{{store=\"blob_store\"}} {}",
            self.blob_store_errors.load(Ordering::Relaxed)
        );
        if let Some(n) = queue_depth {
            header(
                &mut out,
                "qingliu_reviews_pending",
                "gauge",
                "Records waiting for review, province-wide (counted at most every 10 s).",
            );
            let _ = writeln!(out, "qingliu_reviews_pending {n}");
        }
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value as the text format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// A blob store that counts its failures (not its refusals of bad input) and the bytes
/// appended to uploads.
pub struct MeteredBlobs {
    pub inner: Arc<dyn BlobStore>,
    pub metrics: Arc<Metrics>,
}

impl MeteredBlobs {
    fn note<T>(&self, r: AppResult<T>) -> AppResult<T> {
        if let Err(e) = &r
            && !matches!(e, AppError::Api(_))
        {
            self.metrics.blob_store_error();
        }
        r
    }
}

impl BlobStore for MeteredBlobs {
    fn start(&self, h: &BlobHash, u: &UserId, size: u64) -> AppResult<BlobStatus> {
        self.note(self.inner.start(h, u, size))
    }
    fn append(&self, h: &BlobHash, u: &UserId, offset: u64, bytes: &[u8]) -> AppResult<BlobStatus> {
        let r = self.note(self.inner.append(h, u, offset, bytes));
        if r.is_ok() {
            self.metrics.upload_bytes(bytes.len() as u64);
        }
        r
    }
    fn exists(&self, h: &BlobHash) -> AppResult<Option<u64>> {
        self.note(self.inner.exists(h))
    }
    fn open(&self, h: &BlobHash) -> AppResult<Option<(BlobReader, u64)>> {
        self.note(self.inner.open(h))
    }
    fn pending_uploads(&self) -> AppResult<Vec<String>> {
        self.note(self.inner.pending_uploads())
    }
    fn collect_stale(&self, age: Duration) -> AppResult<usize> {
        self.note(self.inner.collect_stale(age))
    }
    fn stored_hashes(&self) -> AppResult<Vec<BlobHash>> {
        self.note(self.inner.stored_hashes())
    }
    fn check(&self) -> AppResult<()> {
        self.note(self.inner.check())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_counts_add_up() {
        let m = Metrics::default();
        for ms in [1, 3, 3, 40, 20_000] {
            m.request("GET", "/api/v1/me", 200, Duration::from_millis(ms));
        }
        m.request("GET", "/api/v1/me", 401, Duration::from_millis(1));
        let text = m.render(Some(7));
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("{prefix} in\n{text}"))
                .to_string()
        };
        assert!(
            line("qingliu_http_requests_total{method=\"GET\",route=\"/api/v1/me\",status=\"200\"}")
                .ends_with(" 5")
        );
        assert!(
            line("qingliu_http_requests_total{method=\"GET\",route=\"/api/v1/me\",status=\"401\"}")
                .ends_with(" 1")
        );
        let b = "qingliu_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/me\",";
        assert!(line(&format!("{b}le=\"0.002\"}}")).ends_with(" 2"));
        assert!(line(&format!("{b}le=\"0.005\"}}")).ends_with(" 4"));
        assert!(line(&format!("{b}le=\"0.05\"}}")).ends_with(" 5"));
        assert!(line(&format!("{b}le=\"10\"}}")).ends_with(" 5"), "20 s is beyond the last bound");
        assert!(line(&format!("{b}le=\"+Inf\"}}")).ends_with(" 6"));
        assert!(line("qingliu_reviews_pending ").ends_with(" 7"));
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn the_queue_depth_is_counted_again_only_after_its_lifetime() {
        let m = Metrics::default();
        let t0 = Instant::now();
        assert_eq!(m.queue_depth(t0, || Some(3)), Some(3));
        assert_eq!(m.queue_depth(t0 + Duration::from_secs(1), || Some(4)), Some(3));
        assert_eq!(m.queue_depth(t0 + QUEUE_DEPTH_TTL, || Some(5)), Some(5));
        assert_eq!(m.queue_depth(t0 + QUEUE_DEPTH_TTL * 3, || None), None, "a failed count is not cached");
    }
}
