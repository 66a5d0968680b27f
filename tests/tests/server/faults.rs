//! The app core's sync client through a fault-injecting proxy: a link cut in the middle of a
//! photo upload resumes with at most one chunk sent again; an answer lost after the server
//! committed is retried without a duplicate.

use qingliu_app::AppCore;
use qingliu_app::sync;
use qingliu_tests::faultproxy::FaultProxy;
use qingliu_tests::fixture::PASSWORD;
use qingliu_tests::records::*;
use shared::app::LocalState;
use shared::review::ReviewDecision;

use crate::{login, setup, tablet};

fn photo(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1]).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_upload_resumes_and_resends_at_most_one_chunk() {
    let (server, fx) = setup().await;
    let proxy = FaultProxy::start(server.addr()).await;
    let dir = tempfile::tempdir().unwrap();
    let core = AppCore::open(dir.path()).unwrap();
    sync::login(&core, &proxy.base(), "inspector_a", PASSWORD).await.unwrap();
    let chunk = 64 * 1024;
    let mut client = sync::client_for(&core).unwrap();
    client.chunk = chunk;
    let mut quiet = |_| {};
    sync::sync_once(&core, &client, &mut quiet).await.unwrap();

    let bytes = photo(1_000_000);
    let r = photo_ref(&bytes);
    core.keep_photo(&bytes, &r, None).unwrap();
    let i = water_body(fx.site("water1").id, vec![r.clone()], None);
    core.save_draft(&i).unwrap();
    core.submit(&i.id).unwrap();

    // The link drops after 40 % of the photo has gone up.
    let start = proxy.upstream_bytes();
    proxy.cut_after_upstream_bytes(400_000);
    let err = sync::sync_once(&core, &client, &mut quiet).await.unwrap_err();
    assert_eq!(err.code(), shared::ErrorCode::Unavailable, "{err}");
    assert_eq!(proxy.cuts(), 1);
    assert_eq!(core.summary(&i.id).unwrap().state, LocalState::Uploading);

    sync::sync_once(&core, &client, &mut quiet).await.unwrap();
    assert_eq!(core.summary(&i.id).unwrap().state, LocalState::Submitted);
    let reviewer = login(&server, "reviewer_1").await;
    assert_eq!(reviewer.download(&r.sha256).await.unwrap(), bytes, "byte-identical after the cut");
    // Everything the client sent for this record: the photo once, at most one chunk again,
    // and the requests' own headers and JSON.
    let sent = proxy.upstream_bytes() - start;
    let overhead = 40 * 1024;
    assert!(
        sent <= bytes.len() as u64 + chunk as u64 + overhead,
        "sent {sent} bytes for a {} byte photo (chunk {chunk})",
        bytes.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_acknowledgement_is_retried_without_a_duplicate() {
    let (server, fx) = setup().await;
    let proxy = FaultProxy::start(server.addr()).await;
    let (_dir, core, client) = tablet(&proxy.base(), "inspector_a").await;
    let mut quiet = |_| {};
    let i = water_body(fx.site("water1").id, vec![], None);
    core.save_draft(&i).unwrap();
    core.submit(&i.id).unwrap();

    proxy.drop_answer_to("POST /api/v1/sync/push");
    let err = sync::sync_once(&core, &client, &mut quiet).await.unwrap_err();
    assert_eq!(err.code(), shared::ErrorCode::Unavailable, "{err}");
    assert_eq!(proxy.dropped_answers(), 1);
    assert_eq!(server.state.store.read().unwrap().count_versions().unwrap(), 1, "the server committed");
    assert_eq!(core.pending_count().unwrap(), 1, "the device does not know yet");

    let report = sync::sync_once(&core, &client, &mut quiet).await.unwrap();
    assert_eq!(report.pushed, 1);
    assert_eq!(core.pending_count().unwrap(), 0);
    assert_eq!(core.summary(&i.id).unwrap().state, LocalState::Submitted);
    assert_eq!(server.state.store.read().unwrap().count_versions().unwrap(), 1, "exactly one copy");
}

/// Seeded randomized runs: several tablets with wrong clocks, every kind of record with photos,
/// edits, reviews and corrections, under cut links, lost answers, abandoned syncs, killed apps
/// and server restarts; after the faults stop everything converges with nothing lost or
/// duplicated. A failure prints its seed; replay it with
/// `cargo run --release -p qingliu-tests --bin soak -- --seed <seed> --runs 1`.
#[tokio::test(flavor = "multi_thread")]
async fn randomized_runs_under_faults_converge_with_nothing_lost_or_duplicated() {
    let seeds: Vec<u64> = match std::env::var("CHAOS_SEED") {
        Ok(s) => vec![s.parse().expect("CHAOS_SEED")],
        Err(_) => vec![1, 2, 3, 0x5eed_2026],
    };
    let (mut decisions, several) = (0, seeds.len() > 1);
    for seed in seeds {
        let mut cfg = qingliu_tests::chaos::RunConfig::new(seed);
        // Smaller photos keep `cargo test` quick; the soak command uses the full 5 MB.
        cfg.max_photo_bytes = 512 * 1024;
        match qingliu_tests::chaos::run(cfg).await {
            Ok(r) => {
                assert!(r.records > 0 && r.cuts + r.lost_answers > 0, "seed {seed} exercised nothing: {r:?}");
                decisions += r.tablet_decisions;
                eprintln!("seed {seed}: {r:?}");
            }
            Err(e) => panic!("seed {seed}: {e}"),
        }
    }
    assert!(decisions > 0 || !several, "no reviewer tablet decided anything");
}

/// The same randomized runs against the scale-out deployment: two server processes on
/// PostgreSQL with photos in S3 behind HAProxy, one at a time killed (SIGKILL) and later started
/// again while tablets and reviewers keep going through the balancer. Same invariants. Runs in
/// the PostgreSQL + S3 pass of scripts/test.sh; the soak takes `--cluster`.
#[tokio::test(flavor = "multi_thread")]
async fn randomized_runs_against_two_servers_behind_the_balancer_survive_kills() {
    use qingliu_tests::database::{on_postgres, s3_endpoint};
    if !(on_postgres() && s3_endpoint().is_some()) {
        return;
    }
    let seeds: Vec<u64> = match std::env::var("CHAOS_SEED") {
        Ok(s) => vec![s.parse().expect("CHAOS_SEED")],
        Err(_) => vec![7, 0xc105_7e12],
    };
    let mut kills = 0;
    for seed in &seeds {
        let mut cfg = qingliu_tests::chaos::RunConfig::new(*seed);
        cfg.max_photo_bytes = 512 * 1024;
        cfg.cluster = Some(env!("CARGO_BIN_EXE_test-server").into());
        match qingliu_tests::chaos::run(cfg).await {
            Ok(r) => {
                assert!(r.records > 0 && r.cuts + r.lost_answers > 0, "seed {seed} exercised nothing: {r:?}");
                kills += r.server_kills;
                eprintln!("cluster seed {seed}: {r:?}");
            }
            Err(e) => panic!("cluster seed {seed}: {e}"),
        }
    }
    assert!(kills > 0 || seeds.len() == 1, "no server was killed in {seeds:?}");
}

/// The server process is killed (SIGKILL, no shutdown) while a photo is going up, and started
/// again on the same data directory: the part already received survived (fsynced chunk by
/// chunk), the upload resumes from there, and the record arrives once with its photo intact.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_mid_upload_resumes_from_what_it_kept() {
    use qingliu_tests::process::{Proc, free_port, wait_until};
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let start = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_test-server"))
            .arg(data.path())
            .arg(addr.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start test-server");
        // Its first line says it is accepting connections.
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(line.starts_with("listening"), "{line}");
        Proc(child)
    };
    let mut server = start();
    let proxy = FaultProxy::start(addr).await;
    let dir = tempfile::tempdir().unwrap();
    let core = AppCore::open(dir.path()).unwrap();
    sync::login(&core, &proxy.base(), "inspector_a", PASSWORD).await.unwrap();
    let mut client = sync::client_for(&core).unwrap();
    let chunk = 256 * 1024;
    client.chunk = chunk;
    sync::sync_once(&core, &client, &mut |_| {}).await.unwrap();
    let site = core.search_sites("", Some(shared::site::SiteKind::WaterBody), None, 10).unwrap()[0].clone();
    let bytes = photo(4_000_000);
    let r = photo_ref(&bytes);
    core.keep_photo(&bytes, &r, None).unwrap();
    let i = water_body(site.id, vec![r.clone()], None);
    core.save_draft(&i).unwrap();
    core.submit(&i.id).unwrap();

    // Slow link (2 MB/s) so the kill lands in the middle of the photo.
    proxy.limit_rate(2_000_000);
    let before = proxy.upstream_bytes();
    let kill_at = before + 1_500_000;
    let mut quiet = |_| {};
    let (synced, ()) = tokio::join!(sync::sync_once(&core, &client, &mut quiet), async {
        wait_until(60, "1.5 MB of the photo sent", || async { proxy.upstream_bytes() >= kill_at }).await;
        server.0.kill().expect("kill -9");
        server.0.wait().expect("reap");
    });
    assert!(synced.is_err(), "the sync cannot finish with the server gone");
    let parts: Vec<_> = std::fs::read_dir(data.path().join("blobs").join("uploads"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .collect();
    assert_eq!(parts.len(), 1, "the received part survived the kill");
    let kept = parts[0].metadata().unwrap().len();
    assert!(kept >= chunk as u64, "at least one chunk was kept ({kept} bytes)");

    server = start();
    proxy.heal();
    let resumed_from = proxy.upstream_bytes();
    sync::sync_once(&core, &client, &mut |_| {}).await.unwrap();
    assert_eq!(core.summary(&i.id).unwrap().state, LocalState::Submitted);
    // The rest of the photo, plus at most the chunk in flight at the kill and the requests.
    let sent_after = proxy.upstream_bytes() - resumed_from;
    assert!(
        sent_after <= bytes.len() as u64 - kept + chunk as u64 + 64 * 1024,
        "re-sent {sent_after} bytes after the restart with {kept} of {} kept",
        bytes.len()
    );
    let mut reviewer = qingliu_tests::ApiClient::new(&format!("http://{addr}"));
    reviewer.login("reviewer_1", PASSWORD).await.unwrap();
    assert_eq!(reviewer.download(&r.sha256).await.unwrap(), bytes, "byte-identical after the kill");
    let d = reviewer.inspection(i.id).await.unwrap();
    assert_eq!(d["record"]["inspection"]["version"], 1);
    let left = std::fs::read_dir(data.path().join("blobs").join("uploads")).unwrap().count();
    assert_eq!(left, 0, "no half upload left behind");
    drop(server);
}

/// Tablets whose clocks are days off in either direction record, sync, get a return and
/// resubmit as usual: the server stamps what it receives with its own clock, keeps the
/// device's time as the record says it, and nothing is refused or reordered for it.
#[tokio::test(flavor = "multi_thread")]
async fn tablets_with_clocks_days_off_sync_as_usual() {
    let (server, fx) = setup().await;
    let reviewer = login(&server, "reviewer_1").await;
    for days in [-5i64, 5] {
        let (_dir, core, client) = tablet(&server.base, "inspector_a").await;
        core.set_clock_skew(time::Duration::days(days));
        let mut i = water_body(fx.site("water1").id, vec![], None);
        i.device_time = core.now();
        core.save_draft(&i).unwrap();
        core.submit(&i.id).unwrap();
        sync::sync_once(&core, &client, &mut |_| {}).await.unwrap();
        let d = reviewer.inspection(i.id).await.unwrap();
        let received = time::OffsetDateTime::parse(
            d["record"]["received_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert!(
            (received - server.state.now()).abs() < time::Duration::minutes(1),
            "server time, not the device's"
        );
        let device_time = time::OffsetDateTime::parse(
            d["record"]["inspection"]["device_time"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert!(((device_time - received) - time::Duration::days(days)).abs() < time::Duration::minutes(1));
        reviewer.review(i.id, 1, ReviewDecision::Return, "补充照片").await.unwrap();
        sync::sync_once(&core, &client, &mut |_| {}).await.unwrap();
        assert_eq!(core.summary(&i.id).unwrap().state, LocalState::Returned);
        let next = core.start_correction(&i.id).unwrap();
        core.save_draft(&next).unwrap();
        core.submit(&i.id).unwrap();
        sync::sync_once(&core, &client, &mut |_| {}).await.unwrap();
        assert_eq!(core.summary(&i.id).unwrap().state, LocalState::Submitted);
        assert_eq!(reviewer.inspection(i.id).await.unwrap()["record"]["inspection"]["version"], 2);
    }
    crate::assert_counters_match_recount(server.state.store.as_ref());
}

/// The app dies in the middle of a sync (the future dropped while a photo is going up) and is
/// started again on its store: the record is still queued, the upload resumes, and the server
/// ends with one copy and the photo intact.
#[tokio::test(flavor = "multi_thread")]
async fn an_app_killed_mid_sync_reopens_and_finishes_without_a_duplicate() {
    let (server, fx) = setup().await;
    let proxy = FaultProxy::start(server.addr()).await;
    let dir = tempfile::tempdir().unwrap();
    let bytes = photo(2_000_000);
    let r = photo_ref(&bytes);
    let i = water_body(fx.site("water1").id, vec![r.clone()], None);
    {
        let core = AppCore::open(dir.path()).unwrap();
        sync::login(&core, &proxy.base(), "inspector_a", PASSWORD).await.unwrap();
        let client = sync::client_for(&core).unwrap();
        sync::sync_once(&core, &client, &mut |_| {}).await.unwrap();
        core.keep_photo(&bytes, &r, None).unwrap();
        core.save_draft(&i).unwrap();
        core.submit(&i.id).unwrap();
        proxy.limit_rate(1_000_000);
        let kill_at = proxy.upstream_bytes() + 700_000;
        let mut quiet = |_| {};
        tokio::select! {
            _ = sync::sync_once(&core, &client, &mut quiet) => panic!("the sync finished before the kill"),
            _ = qingliu_tests::process::wait_until(60, "700 kB sent", || async { proxy.upstream_bytes() >= kill_at }) => {}
        }
        // Everything in memory goes with the app.
    }
    proxy.heal();
    let core = AppCore::open(dir.path()).unwrap();
    assert_eq!(core.pending_count().unwrap(), 1, "the queued record survived");
    let client = sync::client_for(&core).unwrap();
    sync::sync_once(&core, &client, &mut |_| {}).await.unwrap();
    assert_eq!(core.pending_count().unwrap(), 0);
    assert_eq!(core.summary(&i.id).unwrap().state, LocalState::Submitted);
    assert_eq!(server.state.store.read().unwrap().count_versions().unwrap(), 1, "one copy");
    let reviewer = login(&server, "reviewer_1").await;
    assert_eq!(reviewer.download(&r.sha256).await.unwrap(), bytes);
    assert!(server.state.blobs.pending_uploads().unwrap().is_empty(), "no half upload left");
}
