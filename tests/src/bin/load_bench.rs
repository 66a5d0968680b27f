//! A thousand tablets at once (issue 12): each its own inspector, arriving spread over a minute,
//! registers its device, uploads its photos (2 per record, ~300 KB each, distinct pictures),
//! pushes 5 signed records naming them and pulls its scope, against one in-process server on a
//! real port (SQLite by default). Reports latency per kind of request, requests/s, photo MB/s,
//! errors and the process's memory; the photos are made and written to a temporary directory
//! before the clock starts, so making them costs the run nothing.
//!
//! cargo run --release -p qingliu-tests --bin load-bench -- --tablets 1000

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use qingliu_tests::records::{batch, photo_ref, submit, water_body};
use qingliu_tests::{ApiClient, TestServer, fixture};
use shared::DeviceId;
use shared::auth::{Role, UserInfo};
use shared::ids::UserId;
use sync_server::store::{TokenRow, UserRow};

#[derive(Parser, Clone)]
struct Args {
    #[arg(long, default_value_t = 1000)]
    tablets: usize,
    /// Seconds over which the tablets arrive (evenly).
    #[arg(long, default_value_t = 60)]
    arrival_secs: u64,
    #[arg(long, default_value_t = 5)]
    records: usize,
    /// Photos per record.
    #[arg(long, default_value_t = 2)]
    photos: usize,
    /// A PostgreSQL server (`postgres://user@host:port`) to run on instead of SQLite.
    #[arg(long)]
    postgres: Option<String>,
}

/// A distinct ~300 KB camera-like JPEG: a gradient scene with noise, different per `n`.
fn make_photo(n: usize) -> Vec<u8> {
    let (w, h) = (640u32, 480u32);
    let mut state = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let noise = (state & 0x3f) as u32;
        let base = (x * 3 + y * 2 + n as u32 * 37) % 160;
        image::Rgb([(base + noise) as u8, ((base / 2) + noise) as u8, (255 - base - noise / 2) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&img).expect("jpeg");
    out
}

#[derive(Default)]
struct Latencies {
    register: Vec<f64>,
    upload: Vec<f64>,
    push: Vec<f64>,
    pull: Vec<f64>,
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct Tablet {
    client: ApiClient,
    site: shared::SiteId,
    photos: Vec<std::path::PathBuf>,
}

/// One tablet's session; latencies in ms, or the first error.
async fn run_tablet(
    t: Tablet,
    records: usize,
    per_record: usize,
    bytes: &AtomicU64,
) -> Result<Latencies, String> {
    let mut l = Latencies::default();
    let device = DeviceId::new();
    let at = Instant::now();
    t.client.register_device(device, "load").await.map_err(|e| format!("register: {e:?}"))?;
    l.register.push(at.elapsed().as_secs_f64() * 1e3);
    let mut refs = Vec::new();
    for path in &t.photos {
        let data = tokio::fs::read(path).await.map_err(|e| e.to_string())?;
        let at = Instant::now();
        t.client.upload(&data, 256 * 1024).await.map_err(|e| format!("upload: {e:?}"))?;
        l.upload.push(at.elapsed().as_secs_f64() * 1e3);
        bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        refs.push(photo_ref(&data));
    }
    let muts = (0..records)
        .map(|k| {
            let i = water_body(t.site, refs[k * per_record..(k + 1) * per_record].to_vec(), None);
            submit(k as u64 + 1, &i)
        })
        .collect();
    let at = Instant::now();
    let r = t.client.push(&batch(device, muts)).await.map_err(|e| format!("push: {e:?}"))?;
    l.push.push(at.elapsed().as_secs_f64() * 1e3);
    if let Some(bad) =
        r.results.iter().find(|m| !matches!(m.outcome, shared::sync::MutationOutcome::Applied { .. }))
    {
        return Err(format!("push outcome {:?}", bad.outcome));
    }
    let mut cursor: Option<String> = None;
    loop {
        let at = Instant::now();
        let page = t
            .client
            .pull(shared::sync::PullScope::Inspector, cursor.as_deref(), None)
            .await
            .map_err(|e| format!("pull: {e:?}"))?;
        l.pull.push(at.elapsed().as_secs_f64() * 1e3);
        cursor = Some(page.next_cursor);
        if !page.has_more {
            break;
        }
    }
    Ok(l)
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
    let fx = fixture::install(server.state.store.as_ref());
    let site = fx.site("water1").id;
    let village = fx.site("water1").village;
    let township = village.parent().unwrap();

    // One inspector per tablet, assigned the fixture's village, with a token made here (a
    // thousand argon2 logins would measure the password hash, not the sync).
    let hash = sync_server::domain::auth::hash_password(fixture::PASSWORD).unwrap();
    let tokens: Vec<String> = {
        let mut tx = server.state.store.write().unwrap();
        let now = time::OffsetDateTime::now_utc();
        let tokens = (0..args.tablets)
            .map(|n| {
                let id = UserId::new();
                let info = UserInfo {
                    id,
                    username: format!("tablet{n:04}"),
                    display_name: format!("检查员{n}"),
                    role: Role::Inspector,
                    region: township,
                };
                tx.insert_user(&UserRow { info, password_hash: hash.clone(), disabled: false }).unwrap();
                tx.assign_villages(&id, &[village]).unwrap();
                let token = format!("load-bench-token-{n}-{}", uuid::Uuid::now_v7().simple());
                tx.insert_token(&TokenRow {
                    token_hash: sync_server::domain::auth::token_hash(&token),
                    user_id: id,
                    issued_at: now,
                    expires_at: now + time::Duration::days(1),
                    revoked: false,
                })
                .unwrap();
                token
            })
            .collect();
        tx.commit().unwrap();
        tokens
    };

    // The photos, made before the clock starts, on disk (a thousand tablets' worth does not fit
    // in memory).
    let dir = tempfile::tempdir().unwrap();
    let per_tablet = args.records * args.photos;
    let total = args.tablets * per_tablet;
    let t = Instant::now();
    let paths: Vec<std::path::PathBuf> = (0..total).map(|n| dir.path().join(format!("{n}.jpg"))).collect();
    std::thread::scope(|s| {
        for part in 0..2 {
            let paths = &paths;
            s.spawn(move || {
                for n in (part..paths.len()).step_by(2) {
                    std::fs::write(&paths[n], make_photo(n)).unwrap();
                }
            });
        }
    });
    let photo_bytes: u64 = paths.iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    eprintln!(
        "made {total} photos, {:.0} KB on average, in {:.1} s",
        photo_bytes as f64 / total as f64 / 1024.0,
        t.elapsed().as_secs_f64()
    );

    let bytes = Arc::new(AtomicU64::new(0));
    let anon_before = qingliu_tests::process::anon_kb();
    let peak = Arc::new(AtomicU64::new(anon_before));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(qingliu_tests::process::anon_kb(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (n, token) in tokens.into_iter().enumerate() {
        let mut client = server.client();
        client.token = Some(token);
        let tablet = Tablet { client, site, photos: paths[n * per_tablet..(n + 1) * per_tablet].to_vec() };
        let arrive = Duration::from_secs_f64(args.arrival_secs as f64 * n as f64 / args.tablets as f64);
        let (bytes, records, per_record) = (bytes.clone(), args.records, args.photos);
        tasks.push(tokio::spawn(async move {
            // Arrivals, not synchronisation: each tablet comes at its minute's share.
            tokio::time::sleep_until(tokio::time::Instant::from_std(start + arrive)).await;
            run_tablet(tablet, records, per_record, &bytes).await
        }));
    }
    let mut all = Latencies::default();
    let mut errors = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(l) => {
                all.register.extend(l.register);
                all.upload.extend(l.upload);
                all.push.extend(l.push);
                all.pull.extend(l.pull);
            }
            Err(e) => errors.push(e),
        }
    }
    let wall = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let mb = bytes.load(Ordering::Relaxed) as f64 / 1e6;
    let requests = all.register.len() + all.push.len() + all.pull.len();
    let chunks: usize = (photo_bytes as usize / total).div_ceil(256 * 1024) + 1;
    let upload_requests = all.upload.len() * chunks;
    println!(
        "{} tablets over {} s: wall {wall:.1} s, {} errors; {} requests ({:.0}/s, photo requests counted as start + chunks), photos {mb:.0} MB ({:.1} MB/s); memory (anonymous, whole process incl. the load generator) +{:.0} MiB at peak",
        args.tablets,
        args.arrival_secs,
        errors.len(),
        requests + upload_requests,
        (requests + upload_requests) as f64 / wall,
        mb / wall,
        peak.load(Ordering::Relaxed).saturating_sub(anon_before) as f64 / 1024.0
    );
    for e in errors.iter().take(5) {
        println!("error: {e}");
    }
    println!();
    println!("| request | count | p50 ms | p95 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    for (label, v) in [
        ("register device", &mut all.register),
        ("upload one photo (start + chunks)", &mut all.upload),
        ("push 5 records", &mut all.push),
        ("pull (each page)", &mut all.pull),
    ] {
        v.sort_by(|a, b| a.total_cmp(b));
        println!(
            "| {label} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            v.len(),
            pct(v, 0.5),
            pct(v, 0.95),
            pct(v, 0.99),
            v.last().copied().unwrap_or(f64::NAN)
        );
    }
    drop(server);
    if let Some(url) = database {
        qingliu_tests::database::drop_database(&url);
    }
}
