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
use sync_server::store::FlagRow;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 1_000_000)]
    inspections: usize,
    /// Rows to export: the newest this many; all of them (the whole province) by default.
    #[arg(long, default_value_t = usize::MAX)]
    export_rows: usize,
    #[arg(long, default_value_t = 300)]
    requests: usize,
    /// A PostgreSQL server (`postgres://user@host:port`) to run on instead of SQLite.
    #[arg(long)]
    postgres: Option<String>,
    /// Keep a copy of the seeded SQLite database here (for looking at query plans by hand). The
    /// copy is compacted (`VACUUM INTO`): each table's pages lie together, which makes the queue
    /// two to three times faster on it than on the database as it grew, so time on the original.
    #[arg(long)]
    keep_db: Option<std::path::PathBuf>,
    /// Start on a copy of a database kept with `--keep-db` instead of seeding (SQLite only;
    /// `--inspections` must say how many it holds).
    #[arg(long)]
    reuse_db: Option<std::path::PathBuf>,
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map(|pages| pages * 4)
        .unwrap_or(0)
}

/// A generated inspection as the field sends them: two photos, notes, a position; every 50th
/// with a manual position and a comma in its notes (quoted in CSV).
fn bench_inspection(n: usize, site: shared::SiteId) -> shared::inspection::Inspection {
    let photo = |k: usize| shared::inspection::PhotoRef {
        sha256: format!("{:064x}", n * 2 + k),
        bytes: 310_000,
        width: 1600,
        height: 1200,
        exif_time: None,
        exif_position: None,
        original_sha256: None,
        caption: String::new(),
    };
    let mut i = water_body(site, vec![photo(0), photo(1)], None);
    if n.is_multiple_of(50) {
        i.notes = format!("第{n}条，水面有漂浮物, 已通知村委会");
        if let Some(p) = &mut i.position {
            p.source = shared::inspection::PositionSource::Manual;
            p.manual_reason = Some("树下无信号".into());
        }
    }
    i
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Time `requests` GETs of `path` after one warm-up and print a table row of p50/p95/p99 ms;
/// every answer must pass `check`.
async fn time_gets(
    client: &qingliu_tests::ApiClient,
    label: &str,
    path: &str,
    requests: usize,
    check: impl Fn(&serde_json::Value) -> bool,
) {
    let _: serde_json::Value = client.get(path).await.unwrap();
    let mut ms = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t = Instant::now();
        let v: serde_json::Value = client.get(path).await.unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(check(&v), "{label}: {v}");
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    println!("| {label} | {:.2} | {:.2} | {:.2} |", pct(&ms, 0.5), pct(&ms, 0.95), pct(&ms, 0.99));
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .init();
    let database = args.postgres.as_deref().map(qingliu_tests::database::create_database_on);
    let reuse = args.reuse_db.as_ref().map(|from| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::copy(from, dir.path().join("data/qingliu.db")).expect("copy the kept database");
        dir
    });
    let server = TestServer::start_with(|c| {
        c.database_url = database.clone();
        if let Some(dir) = &reuse {
            c.data_dir = dir.path().join("data");
        }
    })
    .await;
    eprintln!("backend: {}", if database.is_some() { "PostgreSQL" } else { "SQLite" });
    let store = server.state.store.clone();
    let t = Instant::now();
    let base = time::OffsetDateTime::now_utc() - Duration::from_secs(args.inspections as u64);
    let export_from = base + Duration::from_secs(args.inspections.saturating_sub(args.export_rows) as u64);
    let seeding = reuse.is_none();
    tokio::task::spawn_blocking(move || {
        if !seeding {
            return;
        }
        sync_server::seed::seed_demo(store.as_ref(), 7, time::OffsetDateTime::now_utc()).expect("seed");
        let mut tx = store.read().unwrap();
        let inspector = tx.user_by_username("inspector").unwrap().unwrap().info;
        let sites: Vec<(shared::SiteId, shared::region::RegionCode)> = {
            let mut v = Vec::new();
            tx.for_each_site(&mut |s| v.push((s.id, s.village))).unwrap();
            v
        };
        drop(tx);
        let mut tx = store.write().unwrap();
        let device =
            qingliu_tests::records::store_device(tx.as_mut(), inspector.id, time::OffsetDateTime::now_utc());
        tx.commit().unwrap();
        for chunk in 0..args.inspections.div_ceil(10_000) {
            let mut tx = store.write().unwrap();
            for k in 0..10_000.min(args.inspections - chunk * 10_000) {
                let n = chunk * 10_000 + k;
                let (site, village) = sites[(n * 7919) % sites.len()];
                let i = bench_inspection(n, site);
                let at = base + Duration::from_secs(n as u64);
                qingliu_tests::records::store_submitted(tx.as_mut(), &i, village, inspector.id, device, at);
                // One record in 25 carries a flag, as the evidence checks would store it; one
                // in 2,000 a rare one (a faked position).
                if n.is_multiple_of(25) {
                    let flag = if n.is_multiple_of(2000) {
                        shared::flags::Flag::MockLocation
                    } else {
                        shared::flags::Flag::WeakAccuracy { accuracy_m: 180.0 }
                    };
                    let row = FlagRow {
                        record_id: i.id,
                        version: 1,
                        flag,
                        village,
                        user_id: inspector.id,
                        received_at: at,
                    };
                    tx.insert_flags(&[row]).unwrap();
                }
            }
            tx.commit().unwrap();
        }
    })
    .await
    .unwrap();
    eprintln!("seeded Hubei and {} inspections in {:.1} s", args.inspections, t.elapsed().as_secs_f64());

    if let Some(to) = &args.keep_db {
        let _ = std::fs::remove_file(to);
        let ok = std::process::Command::new("sqlite3")
            .arg(server.state.config.db_path())
            .arg(format!("VACUUM INTO '{}'", to.display()))
            .status()
            .expect("sqlite3 (apt install sqlite3)");
        assert!(ok.success());
        eprintln!("seeded database kept at {}", to.display());
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
        time_gets(&admin, &format!("GET /api/v1/tracking ({label})"), &path, args.requests, |v| {
            v["children"].as_array().is_some_and(|c| !c.is_empty())
        })
        .await;
    }
    let hour_ago = (time::OffsetDateTime::now_utc() - Duration::from_secs(3600))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
        .replace('+', "%2B");
    // The review queue over the whole province, as the province admin pages and filters it.
    let queues = [
        ("newest 50", "/api/v1/review/queue?limit=50".to_string()),
        ("status=submitted", "/api/v1/review/queue?status=submitted&limit=50".to_string()),
        ("kind=water_body", "/api/v1/review/queue?kind=water_body&limit=50".to_string()),
        ("flag=any", "/api/v1/review/queue?flag=any&limit=50".to_string()),
        ("flag=weak_accuracy", "/api/v1/review/queue?flag=weak_accuracy&limit=50".to_string()),
        ("flag=mock_location (1 in 2,000)", "/api/v1/review/queue?flag=mock_location&limit=50".to_string()),
        ("page 200 (offset 10,000)", "/api/v1/review/queue?limit=50&offset=10000".to_string()),
        ("one township", "/api/v1/review/queue?village=421101101000&limit=50".to_string()),
        ("received in the last hour", format!("/api/v1/review/queue?limit=50&from={}", hour_ago)),
    ];
    for (label, path) in queues {
        time_gets(&admin, &format!("GET /api/v1/review/queue ({label})"), &path, args.requests, |v| {
            v["items"].as_array().is_some_and(|i| !i.is_empty())
        })
        .await;
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
    let whole = args.export_rows >= args.inspections;
    let from = export_from.format(&time::format_description::well_known::Rfc3339).unwrap();
    let query = if whole { String::new() } else { format!("?from={}", from.replace('+', "%2B")) };
    // The floor: the sqlite3 shell printing the same columns of the same rows from the same
    // file, as CSV (SQLite only). Run once first to warm the page cache for everyone.
    let floor = if database.is_none() {
        let (lo, hi) = shared::region::RegionCode::parse("420000000000").unwrap().descendant_range();
        // As the server runs it at this size (`SqliteTx::for_each_export_row`).
        let mut sql = format!(
            "{} WHERE r.village BETWEEN '{lo}' AND '{hi}'",
            sync_server::store::sqlite::EXPORT_SELECT
                .replace("FROM records r", "FROM records r INDEXED BY records_received")
        );
        if !whole {
            let utc = export_from.to_offset(time::UtcOffset::UTC);
            sql.push_str(&format!(
                " AND r.received_at >= '{}'",
                utc.format(&time::format_description::well_known::Rfc3339).unwrap()
            ));
        }
        sql.push_str(" ORDER BY r.received_at DESC, r.id DESC");
        let db = server.state.config.db_path();
        let run = || {
            let t = Instant::now();
            let out = std::process::Command::new("sqlite3")
                .args(["-readonly", "-csv"])
                .arg(&db)
                .arg(&sql)
                .stderr(std::process::Stdio::inherit())
                .output()
                .expect("sqlite3 (apt install sqlite3)");
            assert!(out.status.success());
            (t.elapsed().as_secs_f64(), out.stdout.len())
        };
        let plan = std::process::Command::new("sqlite3")
            .args(["-readonly"])
            .arg(&db)
            .arg(format!("EXPLAIN QUERY PLAN {sql}"))
            .output()
            .expect("sqlite3");
        eprintln!("floor's query plan:\n{}", String::from_utf8_lossy(&plan.stdout));
        run();
        Some(run())
    } else {
        None
    };
    println!(
        "| export of {} inspections | seconds | bytes | anonymous memory growth MiB | RSS growth MiB (with mapped file pages) | ÷ floor |",
        args.export_rows.min(args.inspections)
    );
    println!("|---|---|---|---|---|---|");
    if let Some((secs, bytes)) = floor {
        println!("| floor: `sqlite3 -csv`, same columns, same file | {secs:.2} | {bytes} | | | 1.00 |");
    }
    for (label, ext) in
        [("CSV with BOM (streamed)", "csv"), ("GeoJSON (streamed)", "geojson"), ("XLSX (streamed)", "xlsx")]
    {
        let url = admin.url(&format!("/api/v1/exports/inspections.{ext}{query}"));
        let (before, before_anon) = (rss_kb(), qingliu_tests::process::anon_kb());
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
        let peak_anon = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before_anon));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p2, pa2, s2) = (peak.clone(), peak_anon.clone(), stop.clone());
        let sampler = std::thread::spawn(move || {
            while !s2.load(std::sync::atomic::Ordering::Relaxed) {
                p2.fetch_max(rss_kb(), std::sync::atomic::Ordering::Relaxed);
                pa2.fetch_max(qingliu_tests::process::anon_kb(), std::sync::atomic::Ordering::Relaxed);
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
        let anon =
            peak_anon.load(std::sync::atomic::Ordering::Relaxed).saturating_sub(before_anon) as f64 / 1024.0;
        let ratio = floor.map(|(f, _)| format!("{:.2}", secs / f)).unwrap_or_default();
        println!("| {label} | {secs:.2} | {bytes} | {anon:.1} | {growth:.1} | {ratio} |");
    }
    drop(admin);
    drop(server);
    if let Some(url) = database {
        qingliu_tests::database::drop_database(&url);
    }
}
