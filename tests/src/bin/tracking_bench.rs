//! Province-scale tracking benchmark: all of Hubei seeded (about 25,000 villages), a million
//! generated inspections, then
//! - latency of the tracking endpoint at each level (province → prefectures, prefecture →
//!   counties, county → townships, township → villages) over HTTP, beside a full recount of the
//!   counters from the sites measured in the same run (what reading totals would cost without
//!   maintained counters);
//! - XLSX and CSV export of 100,000 inspections: wall time and the process's resident-memory
//!   growth while exporting.
//!
//! cargo run --release -p qingliu-tests --bin tracking-bench -- --inspections 1000000
//!
//! With `--postgres postgres://postgres@127.0.0.1:5432` the server runs on a fresh PostgreSQL
//! database (dropped at the end) instead of SQLite; the same requests, the same figures.

use std::time::{Duration, Instant};

use clap::Parser;
use qingliu_tests::TestServer;
use qingliu_tests::records::water_body;
use shared::DeviceId;
use shared::review::ReviewStatus;
use sync_server::store::{DeviceRow, RecordRow};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 1_000_000)]
    inspections: usize,
    #[arg(long, default_value_t = 100_000)]
    export_rows: usize,
    #[arg(long, default_value_t = 300)]
    requests: usize,
    /// A PostgreSQL server (`postgres://user@host:port`) to run on instead of SQLite.
    #[arg(long)]
    postgres: Option<String>,
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map(|pages| pages * 4)
        .unwrap_or(0)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .init();
    let database = args.postgres.as_deref().map(qingliu_tests::database::create_database_on);
    let server = TestServer::start_with(|c| c.database_url = database.clone()).await;
    eprintln!("backend: {}", if database.is_some() { "PostgreSQL" } else { "SQLite" });
    let store = server.state.store.clone();
    let t = Instant::now();
    let base = time::OffsetDateTime::now_utc() - Duration::from_secs(args.inspections as u64);
    let export_from = base + Duration::from_secs((args.inspections - args.export_rows) as u64);
    tokio::task::spawn_blocking(move || {
        sync_server::seed::seed_demo(store.as_ref(), 7, time::OffsetDateTime::now_utc()).expect("seed");
        let mut tx = store.read().unwrap();
        let inspector = tx.user_by_username("inspector").unwrap().unwrap().info;
        let sites: Vec<(shared::SiteId, shared::region::RegionCode)> = {
            let mut v = Vec::new();
            tx.for_each_site(&mut |s| v.push((s.id, s.village))).unwrap();
            v
        };
        drop(tx);
        let device = DeviceId::new();
        let mut tx = store.write().unwrap();
        tx.insert_device(&DeviceRow {
            id: device,
            user_id: inspector.id,
            name: "bench".into(),
            platform: "bench".into(),
            last_seq: 0,
            registered_at: time::OffsetDateTime::now_utc(),
            public_key: None,
        })
        .unwrap();
        tx.commit().unwrap();
        for chunk in 0..args.inspections.div_ceil(10_000) {
            let mut tx = store.write().unwrap();
            for k in 0..10_000.min(args.inspections - chunk * 10_000) {
                let n = chunk * 10_000 + k;
                let (site, village) = sites[(n * 7919) % sites.len()];
                let i = water_body(site, vec![], None);
                let at = base + Duration::from_secs(n as u64);
                let seq = tx.next_change_seq().unwrap();
                tx.insert_record(&RecordRow {
                    id: i.id,
                    site_id: site,
                    village,
                    submitted_by: inspector.id,
                    device_id: device,
                    current_version: 1,
                    status: ReviewStatus::Submitted,
                    review: None,
                    received_at: at,
                    change_seq: seq,
                    kind: i.kind(),
                })
                .unwrap();
                tx.insert_version(&i, at, &device, None).unwrap();
            }
            tx.commit().unwrap();
        }
    })
    .await
    .unwrap();
    eprintln!("seeded Hubei and {} inspections in {:.1} s", args.inspections, t.elapsed().as_secs_f64());

    if std::env::var_os("DEBUG_EXPORT").is_some() {
        let store = server.state.store.clone();
        let r = tokio::task::spawn_blocking(move || {
            let admin = store.read().unwrap().user_by_username("admin").unwrap().unwrap().info;
            let actor = sync_server::domain::Actor { user: admin, token_hash: vec![] };
            let mut n = 0usize;
            let res = sync_server::domain::export::inspections_xlsx(
                store.as_ref(),
                &actor,
                &Default::default(),
                &mut |c: Vec<u8>| {
                    n += c.len();
                    true
                },
            );
            (res.map_err(|e| e.to_string()), n)
        })
        .await
        .unwrap();
        eprintln!("direct xlsx export: {r:?}");
    }
    let mut admin = server.client();
    admin.login("admin", "Qingliu-2026!").await.unwrap();
    // One region per level, the demo township's lineage.
    let levels = [
        ("province → 17 prefectures", "420000000000"),
        ("prefecture → counties", "421100000000"),
        ("county → townships", "421101000000"),
        ("township → villages", "421101101000"),
    ];
    println!("| request | p50 ms | p95 ms | p99 ms |");
    println!("|---|---|---|---|");
    for (label, code) in levels {
        let path = format!("/api/v1/tracking/{code}");
        let _: serde_json::Value = admin.get(&path).await.unwrap();
        let mut ms = Vec::with_capacity(args.requests);
        for _ in 0..args.requests {
            let t = Instant::now();
            let v: serde_json::Value = admin.get(&path).await.unwrap();
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(v["children"].as_array().is_some_and(|c| !c.is_empty()));
        }
        ms.sort_by(|a, b| a.total_cmp(b));
        println!(
            "| GET /api/v1/tracking ({label}) | {:.2} | {:.2} | {:.2} |",
            pct(&ms, 0.5),
            pct(&ms, 0.95),
            pct(&ms, 0.99)
        );
    }
    let store = server.state.store.clone();
    let t = Instant::now();
    let counters = tokio::task::spawn_blocking(move || {
        sync_server::domain::rollup::recount(store.read().unwrap().as_mut()).unwrap().len()
    })
    .await
    .unwrap();
    println!(
        "| baseline: full recount of {counters} counters from all sites | {:.1} | | |",
        t.elapsed().as_secs_f64() * 1000.0
    );

    println!();
    println!("| export of {} inspections | seconds | bytes | RSS growth MiB |", args.export_rows);
    println!("|---|---|---|---|");
    let from = export_from.format(&time::format_description::well_known::Rfc3339).unwrap();
    for (label, ext) in [("XLSX", "xlsx"), ("CSV", "csv")] {
        let url = admin.url(&format!("/api/v1/exports/inspections.{ext}?from={}", from.replace('+', "%2B")));
        let before = rss_kb();
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p2, s2) = (peak.clone(), stop.clone());
        let sampler = std::thread::spawn(move || {
            while !s2.load(std::sync::atomic::Ordering::Relaxed) {
                p2.fetch_max(rss_kb(), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let t = Instant::now();
        let mut resp = admin.http.get(&url).bearer_auth(admin.token.clone().unwrap()).send().await.unwrap();
        assert!(resp.status().is_success(), "{}", resp.status());
        let mut bytes = 0usize;
        while let Some(chunk) = resp.chunk().await.unwrap() {
            bytes += chunk.len();
        }
        let secs = t.elapsed().as_secs_f64();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        sampler.join().unwrap();
        let growth = peak.load(std::sync::atomic::Ordering::Relaxed).saturating_sub(before) as f64 / 1024.0;
        println!("| {label} | {secs:.2} | {bytes} | {growth:.1} |");
    }
    drop(admin);
    drop(server);
    if let Some(url) = database {
        qingliu_tests::database::drop_database(&url);
    }
}
