//! First sync of a new tablet (issue 12): the demo inspector (every village of the demo
//! township) and the township reviewer, whose queue holds 5,000 submitted records, each on a
//! fresh tablet: log in and sync until the app is usable (the inspector: the sync done; the
//! reviewer: the queue pulled, when the background fetch of details starts). Through the test
//! fault proxy, which counts the bytes on the wire, over loopback and capped at 256 kbit/s;
//! with the wire as it was before compression (baseline) and as it is now, in the same run.
//!
//! cargo run --release -p qingliu-tests --bin first-sync-bench

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use qingliu_app::sync::{self, SyncClient};
use qingliu_tests::TestServer;
use qingliu_tests::faultproxy::FaultProxy;
use qingliu_tests::records::water_body;
use shared::DeviceId;

#[derive(Parser)]
struct Args {
    /// Submitted records in the reviewer's township.
    #[arg(long, default_value_t = 5_000)]
    records: usize,
    /// Of those, made by the demo inspector (their new tablet pulls them back).
    #[arg(long, default_value_t = 200)]
    own: usize,
    /// Skip the baseline at 256 kbit/s (the reviewer's takes minutes).
    #[arg(long)]
    skip_slow_baseline: bool,
}

const PASSWORD: &str = "Qingliu-2026!";

const NOTES: [&str; 6] = [
    "水面有少量漂浮物，已要求村委会清理。",
    "水体无明显黑臭，岸边垃圾已清运。",
    "排口有污水直排，已拍照留存并通知镇环保办。",
    "",
    "整改完成，复查合格。",
    "周边养殖场粪污未处理，建议下次重点检查。",
];

fn seed(server: &TestServer, args: &Args) {
    let store = server.state.store.as_ref();
    sync_server::seed::seed_demo(store, 7, time::OffsetDateTime::now_utc()).expect("seed");
    let mut tx = store.read().unwrap();
    let inspector = tx.user_by_username("inspector").unwrap().unwrap().info;
    let other = tx.user_by_username("inspector2").unwrap().unwrap().info;
    // Twenty villages: the demo township's and the nearest of its neighbours'.
    let mut villages = tx.assigned_villages(&inspector.id).unwrap();
    let county = inspector.region.parent().unwrap();
    let (lo, hi) = county.descendant_range();
    for v in tx.regions_in(shared::region::RegionLevel::Village, &lo, &hi).unwrap() {
        if villages.len() < 20 && !villages.contains(&v.code) {
            villages.push(v.code);
        }
    }
    drop(tx);
    {
        let mut tx = store.write().unwrap();
        tx.clear_villages(&inspector.id).unwrap();
        tx.assign_villages(&inspector.id, &villages).unwrap();
        tx.commit().unwrap();
    }
    let mut tx = store.read().unwrap();
    let mut sites = Vec::new();
    tx.for_each_site(&mut |s| {
        if villages.contains(&s.village) {
            sites.push((s.id, s.village));
        }
    })
    .unwrap();
    drop(tx);
    eprintln!("inspector: {} villages, {} sites", villages.len(), sites.len());
    let mut tx = store.write().unwrap();
    let devices: Vec<DeviceId> = [inspector.id, other.id]
        .iter()
        .map(|user| qingliu_tests::records::store_device(tx.as_mut(), *user, time::OffsetDateTime::now_utc()))
        .collect();
    let base = time::OffsetDateTime::now_utc() - Duration::from_secs(args.records as u64 * 60);
    for n in 0..args.records {
        let (site, village) = sites[n % sites.len()];
        let (user, device) = if n < args.own { (inspector.id, devices[0]) } else { (other.id, devices[1]) };
        // Real hashes (random-looking hex), positions and times that differ as field records do.
        let hash = |k: usize| qingliu_tests::client::sha256_hex(format!("{n}/{k}").as_bytes());
        let photo = |k: usize| shared::inspection::PhotoRef {
            sha256: hash(k),
            bytes: 310_000,
            width: 1600,
            height: 1200,
            exif_time: None,
            exif_position: None,
            original_sha256: Some(hash(k + 2)),
            caption: "现场照片".into(),
        };
        let mut i = water_body(site, vec![photo(0), photo(1)], None);
        i.notes = NOTES[n % NOTES.len()].to_string();
        if let Some(p) = &mut i.position {
            let j = |salt: usize| ((n * 7919 + salt * 104_729) % 10_000) as f64 / 1e6;
            p.point = shared::geo::LngLat::new(p.point.lng() + j(1), p.point.lat() + j(2));
            p.accuracy_m = Some(3.0 + (n % 17) as f64 * 0.7);
        }
        let at = base + Duration::from_secs(n as u64 * 60);
        i.device_time = at;
        qingliu_tests::records::store_submitted(tx.as_mut(), &i, village, user, device, at);
    }
    tx.commit().unwrap();
}

struct Run {
    secs: f64,
    down: u64,
    up: u64,
}

/// One fresh tablet of `user`: log in, sync until usable.
async fn first_sync(proxy: &FaultProxy, user: &str, compressed: bool) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let core = qingliu_app::AppCore::open(dir.path()).unwrap();
    let (down, up) = (proxy.downstream_bytes(), proxy.upstream_bytes());
    let t = Instant::now();
    sync::login(&core, &proxy.base(), user, PASSWORD).await.expect("login");
    let client: SyncClient = sync::client_for(&core).unwrap();
    let client = if compressed { client } else { client.uncompressed() };
    let usable = Arc::new(tokio::sync::Notify::new());
    let signal = usable.clone();
    let mut started = move |_| signal.notify_one();
    let mut quiet = |_| {};
    tokio::select! {
        r = sync::sync_once_reporting(&core, &client, &mut quiet, &mut started) => { r.expect("sync"); }
        _ = usable.notified() => {}
    }
    let secs = t.elapsed().as_secs_f64();
    Run { secs, down: proxy.downstream_bytes() - down, up: proxy.upstream_bytes() - up }
}

/// A tablet already in use pushes `n` records made offline: bytes up for the push.
async fn push_run(proxy: &FaultProxy, n: usize, compressed: bool) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let core = qingliu_app::AppCore::open(dir.path()).unwrap();
    sync::login(&core, &proxy.base(), "inspector", PASSWORD).await.expect("login");
    let client = sync::client_for(&core).unwrap();
    let client = if compressed { client } else { client.uncompressed() };
    sync::sync_once(&core, &client, &mut |_| {}).await.expect("first sync");
    let sites = core.search_sites("", Some(shared::site::SiteKind::WaterBody), None, 100).unwrap();
    for k in 0..n {
        let mut i = water_body(sites[k % sites.len()].id, vec![], None);
        i.notes = NOTES[k % NOTES.len()].to_string();
        core.save_draft(&i).unwrap();
        core.submit(&i.id).unwrap();
    }
    let (down, up) = (proxy.downstream_bytes(), proxy.upstream_bytes());
    let t = Instant::now();
    let report = sync::sync_once(&core, &client, &mut |_| {}).await.expect("sync");
    assert_eq!(report.pushed as usize, n);
    Run {
        secs: t.elapsed().as_secs_f64(),
        down: proxy.downstream_bytes() - down,
        up: proxy.upstream_bytes() - up,
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .init();
    let server = TestServer::start_with(|_| {}).await;
    seed(&server, &args);
    let proxy = FaultProxy::start(server.addr()).await;
    // What each tablet holds once usable: the inspector's scope, the reviewer's queue.
    let per_record = |user: &str| if user == "reviewer" { args.records } else { args.own };
    println!(
        "| first sync | link | wire | seconds | bytes down | bytes up | bytes down per record | down ÷ baseline |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (link, rate) in [("loopback", 0u64), ("256 kbit/s", 32_000)] {
        for user in ["inspector", "reviewer"] {
            let mut baseline = None;
            for compressed in [false, true] {
                if !compressed && rate > 0 && args.skip_slow_baseline {
                    continue;
                }
                proxy.heal();
                if rate > 0 {
                    proxy.limit_rate(rate);
                }
                let r = first_sync(&proxy, user, compressed).await;
                let per = r.down as f64 / per_record(user) as f64;
                if !compressed {
                    baseline = Some(r.down);
                }
                let ratio = baseline.map(|b| format!("{:.2}", r.down as f64 / b as f64)).unwrap_or_default();
                println!(
                    "| {user} ({} records) | {link} | {} | {:.2} | {} | {} | {per:.0} | {ratio} |",
                    per_record(user),
                    if compressed { "zstd" } else { "baseline: uncompressed" },
                    r.secs,
                    r.down,
                    r.up
                );
            }
        }
    }
    println!();
    println!(
        "| push of 100 records made offline (loopback) | wire | seconds | bytes up | bytes up per record | up ÷ baseline |"
    );
    println!("|---|---|---|---|---|---|");
    proxy.heal();
    let mut baseline = 0;
    for compressed in [false, true] {
        let r = push_run(&proxy, 100, compressed).await;
        if !compressed {
            baseline = r.up;
        }
        println!(
            "| inspector | {} | {:.2} | {} | {} | {:.2} |",
            if compressed { "zstd" } else { "baseline: uncompressed" },
            r.secs,
            r.up,
            r.up / 100,
            r.up as f64 / baseline as f64
        );
    }
}
