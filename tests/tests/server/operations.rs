//! Operating the server (issue 15): the console built into the binary, readiness, metrics.

use qingliu_app::sync;
use qingliu_tests::TestServer;
use qingliu_tests::records::*;

use crate::{login, tablet};

/// One file to ship (issue 15): with no `console_dir` configured the server serves the console
/// built into its binary, byte for byte what `scripts/build-ui.sh` made, from any working
/// directory (the tests run in `tests/`, where no `ui/dist` is), revalidated by ETag.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_built_into_the_binary_is_served_from_any_folder() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist");
    assert!(dist.join("index.html").exists(), "ui/dist missing: run scripts/build-ui.sh first");
    assert!(!std::path::Path::new("ui/dist").exists(), "the test must run where no ./ui/dist is");
    let server = TestServer::start().await;
    assert_eq!(
        sync_server::api::console::Source::of(&server.state.config),
        sync_server::api::console::Source::Embedded
    );
    let c = server.client();
    let (status, headers, body) = c.get_bytes("/").await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(body, std::fs::read(dist.join("index.html")).unwrap());
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(headers["content-security-policy"].to_str().unwrap().contains("'wasm-unsafe-eval'"));
    assert_eq!(headers["cache-control"], "no-cache");
    let (status, headers, body) = c.get_bytes("/qingliu_ui_bg.wasm").await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(headers["content-type"], "application/wasm");
    assert_eq!(body, std::fs::read(dist.join("qingliu_ui_bg.wasm")).unwrap());
    // Unchanged: a 304 without the body.
    let etag = headers["etag"].clone();
    let again = reqwest::Client::new()
        .get(format!("{}/qingliu_ui_bg.wasm", server.base))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), reqwest::StatusCode::NOT_MODIFIED);
    assert!(again.bytes().await.unwrap().is_empty());
    // Only the built files: nothing from disk, however the path is spelled.
    for path in ["/Cargo.toml", "/../Cargo.toml", "/%2e%2e/Cargo.toml", "/src/lib.rs", "/index.html/x"] {
        let (status, _, body) = c.get_bytes(path).await;
        assert_eq!(status, reqwest::StatusCode::NOT_FOUND, "{path}");
        let e: shared::ApiError = serde_json::from_slice(&body).unwrap();
        assert_eq!(e.code, shared::ErrorCode::NotFound);
    }
    let r = reqwest::Client::new().delete(format!("{}/index.html", server.base)).send().await.unwrap();
    assert!(r.status().is_client_error());
}

/// `/readyz` answers 200 while both stores answer and 503 `unavailable` naming the one that does
/// not, and recovers by itself: here the blob directory disappears and comes back, and a second
/// server's bucket is a port nobody listens on. (The database going away is in the cluster
/// tests, on a PostgreSQL server of their own.)
#[tokio::test(flavor = "multi_thread")]
async fn readiness_names_the_store_that_does_not_answer() {
    let server = TestServer::start().await;
    let c = server.client();
    let ready: serde_json::Value = c.get("/readyz").await.unwrap();
    assert_eq!(ready["status"], "ready");
    if server.blob_prefix().is_none() {
        let blobs = server.state.config.blob_dir().join("blobs");
        let moved = server.state.config.blob_dir().join("blobs-away");
        std::fs::rename(&blobs, &moved).unwrap();
        let e = c.get::<serde_json::Value>("/readyz").await.unwrap_err();
        assert_eq!((e.status.as_u16(), e.error.code), (503, shared::ErrorCode::Unavailable));
        let fields: Vec<_> = e.error.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["blob_store"]);
        std::fs::rename(&moved, &blobs).unwrap();
        let ready: serde_json::Value = c.get("/readyz").await.unwrap();
        assert_eq!(ready["status"], "ready");
    }
    // A bucket behind a closed port: the probe gives up within its bound and says so.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut state = server.state.clone();
    let max = state.config.max_blob_bytes;
    state.set_blobs(qingliu_tests::database::s3_blob_store(&format!("http://{closed}"), "nobody", max));
    let down = TestServer::serving(state).await;
    let e = down.client().get::<serde_json::Value>("/readyz").await.unwrap_err();
    assert_eq!((e.status.as_u16(), e.error.code), (503, shared::ErrorCode::Unavailable));
    let fields: Vec<_> = e.error.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["blob_store"]);
    // Liveness is not readiness: the process still answers /healthz.
    assert_eq!(down.client().get::<serde_json::Value>("/healthz").await.unwrap()["status"], "ok");
}

/// `/metrics` (when configured): answers by route template and status, latency histograms whose
/// counts match, push outcomes, upload bytes equal to the photo's size, the review queue's
/// depth, and blob store failures; without the setting there is no such route.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_what_the_server_did() {
    let off = TestServer::start().await;
    assert_eq!(off.client().get_bytes("/metrics").await.0, reqwest::StatusCode::NOT_FOUND);

    let server = TestServer::start_with(|c| c.metrics = true).await;
    let fx = qingliu_tests::fixture::install(server.state.store.as_ref());
    let mut wrong = server.client();
    assert_eq!(wrong.login("reviewer_1", "not the password").await.unwrap_err().status, 401);
    let (_dir, core, client) = tablet(&server.base, "inspector_a").await;
    let photo = qingliu_tests::photos::photo("coolpix-gps-small.jpg");
    let r = photo_ref(&photo);
    core.keep_photo(&photo, &r, None).unwrap();
    let i = water_body(fx.site("water1").id, vec![r], None);
    core.save_draft(&i).unwrap();
    core.submit(&i.id).unwrap();
    let report = sync::sync_once(&core, &client, &mut |_| {}).await.unwrap();
    assert_eq!((report.pushed, report.photos_uploaded), (1, 1));
    let reviewer = login(&server, "reviewer_1").await;
    let _ = reviewer.inspection(i.id).await.unwrap();

    // A copy of the server whose bucket is a closed port: its failures count here too.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut state = server.state.clone();
    let max = state.config.max_blob_bytes;
    state.set_blobs(qingliu_tests::database::s3_blob_store(&format!("http://{closed}"), "nobody", max));
    let down = TestServer::serving(state).await;
    assert_eq!(down.client().get::<serde_json::Value>("/readyz").await.unwrap_err().status, 503);

    let doc: serde_json::Value = server.client().get("/api/openapi.json").await.unwrap();
    assert!(doc["paths"]["/metrics"]["get"].is_object(), "documented when served");
    let (status, headers, body) = server.client().get_bytes("/metrics").await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(body).unwrap();
    let metrics = parse(&text);
    let get = |k: &str| *metrics.get(k).unwrap_or_else(|| panic!("{k} missing from\n{text}"));
    let login_route = "method=\"POST\",route=\"/api/v1/auth/login\"";
    assert_eq!(get(&format!("qingliu_http_requests_total{{{login_route},status=\"401\"}}")), 1.0);
    assert_eq!(get(&format!("qingliu_http_requests_total{{{login_route},status=\"200\"}}")), 2.0);
    assert_eq!(get(&format!("qingliu_http_request_duration_seconds_count{{{login_route}}}")), 3.0);
    assert_eq!(
        get(&format!("qingliu_http_request_duration_seconds_bucket{{{login_route},le=\"+Inf\"}}")),
        3.0
    );
    // Buckets never decrease.
    let buckets: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with(&format!("qingliu_http_request_duration_seconds_bucket{{{login_route}")))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(buckets.len() > 5 && buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    // Templates, not paths: the record's id is not a label.
    assert!(text.contains("route=\"/api/v1/inspections/{id}\""), "{text}");
    assert!(!text.contains(&i.id.to_string()));
    assert_eq!(get("qingliu_push_mutations_total{outcome=\"applied\"}"), 1.0);
    assert_eq!(get("qingliu_upload_bytes_total"), photo.len() as f64);
    assert_eq!(get("qingliu_reviews_pending"), 1.0);
    assert!(get("qingliu_storage_errors_total{store=\"blob_store\"}") >= 1.0);
    assert_eq!(get("qingliu_storage_errors_total{store=\"database\"}"), 0.0);
    // Every line is a comment or `name{labels} number`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (_, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
}

/// The sample lines of a Prometheus text page, by series.
fn parse(text: &str) -> std::collections::HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').map(|(k, v)| (k.to_string(), v.parse().unwrap())))
        .collect()
}

/// systemd itself accepts the shipped unit without a warning (an unknown or misspelt key is a
/// warning that silently drops the setting). The binary is swapped for one that exists here:
/// `verify` also checks that the command is executable.
#[test]
fn systemd_accepts_the_shipped_unit() {
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sync-server/deploy/qingliu-sync.service"),
    )
    .unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/sync-server "));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qingliu-sync.service");
    std::fs::write(&path, unit.replace("ExecStart=/usr/local/bin/sync-server ", "ExecStart=/bin/true "))
        .unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (apt: systemd)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "systemd warns about the unit:\n{stderr}");
}
