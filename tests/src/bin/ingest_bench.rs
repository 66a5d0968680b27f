//! Ingest benchmark: inspections per second through the HTTP push endpoint (real server on a
//! real port, SQLite default, synchronous=FULL), beside a bare rusqlite batched insert of the
//! same rows (record, version, mutation result, audit entry per inspection) into the same schema,
//! measured in the same run. Every inspection is signed by its device and carries one photo whose
//! blob and fingerprint are stored before the clock starts (the upload and its fingerprint are
//! measured by `evidence-bench`), so the push runs the photo look-up for real. The push is
//! measured twice: with the server's cross-record evidence checks on (the product) and off
//! (`[flags] cross_record_checks = false`), both verifying signatures; the time to verify the
//! signatures alone is measured too.
//!
//! With `--postgres postgres://postgres@127.0.0.1:5432` the servers run on a fresh PostgreSQL
//! database per run (dropped after it) and the baseline is bare inserts of the same rows into
//! PostgreSQL; `--servers 2` pushes through two servers sharing that database, the devices
//! split between them. `--only on|off` runs one push path and nothing else, to profile it
//! (`perf record --call-graph dwarf …/ingest-bench --only on`); each run prints its CPU time
//! and, on PostgreSQL, that of the run's database backends (a lower bound on what the database
//! spent: the WAL writer and checkpointer are shared with the machine and left out).
//!
//! cargo run --release -p qingliu-tests --bin ingest-bench -- --inspections 20000
//! cargo run --release -p qingliu-tests --bin ingest-bench -- --postgres postgres://postgres@127.0.0.1:5432 --servers 2

use std::time::{Duration, Instant};

use clap::Parser;
use qingliu_tests::TestServer;
use qingliu_tests::fixture;
use qingliu_tests::records::{batch, submit, water_body};
use rusqlite::params;
use shared::DeviceId;
use shared::inspection::Inspection;
use shared::sync::MutationOutcome;

#[derive(Parser)]
struct Args {
    /// Inspections to ingest per run.
    #[arg(long, default_value_t = 20_000)]
    inspections: usize,
    /// Mutations per push request (and rows per bare transaction).
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Devices pushing concurrently.
    #[arg(long, default_value_t = 4)]
    devices: usize,
    /// Repetitions; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Run on PostgreSQL at this server URL instead of SQLite.
    #[arg(long)]
    postgres: Option<String>,
    /// Servers sharing the database (PostgreSQL), devices split between them.
    #[arg(long, default_value_t = 1)]
    servers: usize,
    /// Only the push with cross-record checks (`on`) or without (`off`), nothing else in the
    /// process: for profiling one path.
    #[arg(long)]
    only: Option<Checks>,
}

#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
enum Checks {
    On,
    Off,
}

/// User + system CPU seconds of the process whose `/proc` directory this is (0 if it is gone).
fn cpu_seconds_of(proc_dir: &std::path::Path) -> f64 {
    let stat = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime: fields 14 and 15 of stat(5), counted from the state field (3).
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds this process has used.
fn cpu_seconds() -> f64 {
    cpu_seconds_of(std::path::Path::new("/proc/self"))
}

/// CPU seconds of the PostgreSQL backends serving the database of `url` (their process titles
/// name it): what the database itself spent on this run's queries, a lower bound (the WAL writer
/// and checkpointer, shared with anything else on the machine, are left out).
fn postgres_cpu_seconds(url: &str) -> f64 {
    let Some((_, name)) = url.rsplit_once('/') else { return 0.0 };
    let mut total = 0.0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let title = String::from_utf8_lossy(&cmdline);
        if title.starts_with("postgres: ") && title.contains(name) {
            total += cpu_seconds_of(&entry.path());
        }
    }
    total
}

fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A stored blob per inspection, with a random fingerprint as a distinct photo would have.
fn store_photos(server: &TestServer, n: usize) -> Vec<shared::inspection::PhotoRef> {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let mut tx = server.state.store.write().expect("write");
    let now = time::OffsetDateTime::now_utc();
    let refs: Vec<_> = (0..n)
        .map(|k| {
            let bytes = format!("bench photo {k} {}", rng.r#gen::<u64>()).into_bytes();
            let r = qingliu_tests::records::photo_ref(&bytes);
            tx.insert_blob(&r.sha256, r.bytes, now).expect("blob");
            tx.insert_fingerprint(&r.sha256, Some(rng.r#gen::<u64>() >> 1)).expect("fingerprint");
            r
        })
        .collect();
    tx.commit().expect("commit");
    refs
}

async fn http_run(args: &Args, checks: bool) -> f64 {
    let database = args.postgres.as_deref().map(qingliu_tests::database::create_database_on);
    let server = TestServer::start_with(|c| {
        c.flags.cross_record_checks = checks;
        c.database_url = database.clone();
    })
    .await;
    let mut others = Vec::new();
    for _ in 1..args.servers {
        others.push(TestServer::start_sharing(&server).await);
    }
    let fx = fixture::install(server.state.store.as_ref());
    let mut photos = store_photos(&server, args.inspections).into_iter();
    let mut client = server.client();
    client.login("inspector_a", fixture::PASSWORD).await.expect("login");
    let site = fx.site("water1").id;
    let per_device = args.inspections / args.devices;
    // Serialise every request up front: the figure is the server's ingest, not the client's JSON.
    let mut bodies: Vec<Vec<Vec<u8>>> = Vec::new();
    for _ in 0..args.devices {
        let device = DeviceId::new();
        client.register_device(device, "bench").await.expect("device");
        let mut reqs = Vec::new();
        let mut seq = 1u64;
        while (seq as usize) <= per_device {
            let n = args.batch.min(per_device + 1 - seq as usize);
            let muts = (0..n)
                .map(|k| {
                    let photo = photos.next().expect("a photo per inspection");
                    submit(seq + k as u64, &water_body(site, vec![photo], None))
                })
                .collect();
            reqs.push(serde_json::to_vec(&batch(device, muts)).expect("json"));
            seq += n as u64;
        }
        bodies.push(reqs);
    }
    let token = client.token.clone().expect("token");
    let urls: Vec<String> =
        std::iter::once(&server).chain(&others).map(|s| format!("{}/api/v1/sync/push", s.base)).collect();
    let start = Instant::now();
    let cpu = cpu_seconds();
    let pg_cpu = database.as_deref().map_or(0.0, postgres_cpu_seconds);
    let mut tasks = Vec::new();
    for (d, reqs) in bodies.into_iter().enumerate() {
        let http = reqwest::Client::new();
        let (url, token) = (urls[d % urls.len()].clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            for body in reqs {
                let resp = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("push");
                assert!(resp.status().is_success(), "push failed: {}", resp.status());
                let r: shared::sync::PushResponse = resp.json().await.expect("decode");
                assert!(r.results.iter().all(|x| matches!(x.outcome, MutationOutcome::Applied { .. })));
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let elapsed = start.elapsed();
    let theirs = database.as_deref().map_or(0.0, postgres_cpu_seconds) - pg_cpu;
    let ours = cpu_seconds() - cpu;
    let n = (per_device * args.devices) as f64;
    eprintln!(
        "  checks {checks}: {:.2} s, {:.2} CPU s in this process ({:.0} µs per inspection), \
         {:.2} CPU s in PostgreSQL ({:.0} µs per inspection); {:.0} % of {} cores",
        elapsed.as_secs_f64(),
        ours,
        ours / n * 1e6,
        theirs,
        theirs / n * 1e6,
        (ours + theirs) / elapsed.as_secs_f64() / cores() * 100.0,
        cores()
    );
    let stored = server.state.store.read().expect("read").count_versions().expect("count");
    assert_eq!(stored as usize, per_device * args.devices, "every inspection stored once");
    drop(others);
    drop(server);
    if let Some(url) = database {
        qingliu_tests::database::drop_database(&url);
    }
    (per_device * args.devices) as f64 / elapsed.as_secs_f64()
}

/// The same rows as `bare_run`, inserted into a fresh PostgreSQL database with prepared
/// statements, one transaction per batch: what PostgreSQL itself does on this machine. With
/// `pipelined`, a batch's statements are all sent before any answer is awaited (the way the
/// server's PostgreSQL backend sends a push's writes); otherwise one at a time.
fn bare_pg_run(args: &Args, pg: &str, rt: &tokio::runtime::Runtime, pipelined: bool) -> f64 {
    let url = qingliu_tests::database::create_database_on(pg);
    let store = sync_server::store::postgres::PgStore::open(&url, 2).expect("schema");
    let fx = fixture::install(&store);
    drop(store);
    let user = fx.user("inspector_a").id.to_string();
    let site = fx.site("water1").id;
    let village = fx.site("water1").village.to_string();
    let device = DeviceId::new().to_string();
    let rows: Vec<Inspection> = (0..args.inspections).map(|_| water_body(site, vec![], None)).collect();
    let rate = rt.block_on(async {
        let (mut client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        client
            .execute(
                "INSERT INTO devices (id, user_id, name, platform, last_seq, registered_at) VALUES ($1, $2, 'bare', 'bench', 0, '2026-01-01T00:00:00Z')",
                &[&device, &user],
            )
            .await
            .expect("device");
        let now = "2026-11-29T00:00:00Z";
        let start = Instant::now();
        let pg_cpu = postgres_cpu_seconds(&url);
        for (b, chunk) in rows.chunks(args.batch).enumerate() {
            let tx = client.transaction().await.expect("tx");
            let rec = tx.prepare("INSERT INTO records (id, site_id, village, submitted_by, device_id, current_version, status, review, received_at, change_seq) VALUES ($1, $2, $3, $4, $5, 1, 'submitted', NULL, $6, $7)").await.expect("p");
            let ver = tx.prepare("INSERT INTO versions (record_id, version, data, received_at, device_id) VALUES ($1, 1, $2, $3, $4)").await.expect("p");
            let mu = tx.prepare("INSERT INTO mutations (device_id, seq, mutation_id, outcome, at) VALUES ($1, $2, $3, $4, $5)").await.expect("p");
            let au = tx.prepare("INSERT INTO audit (id, at, user_id, device_id, action, entity, entity_id, detail) VALUES ($1, $2, $3, $4, 'submit', 'inspection', $5, $6)").await.expect("p");
            if pipelined {
                use tokio_postgres::types::ToSql;
                let owned: Vec<(String, String, i64, String, String, i64)> = chunk
                    .iter()
                    .enumerate()
                    .map(|(k, i)| {
                        let seq = (b * args.batch + k + 1) as i64;
                        let outcome = format!("{{\"status\":\"applied\",\"server_seq\":{seq}}}");
                        let json = serde_json::to_string(i).expect("json");
                        (i.id.to_string(), json, seq, outcome, uuid::Uuid::now_v7().to_string(), seq + 1_000_000)
                    })
                    .collect();
                let (site_s, audit_detail) = (site.to_string(), "{\"version\":1}");
                let mut sent = Vec::new();
                for (id, data, seq, outcome, mid, audit_id) in &owned {
                    let p: Vec<&(dyn ToSql + Sync)> = vec![id, &site_s, &village, &user, &device, &now, seq];
                    sent.push(tx.execute_raw(&rec, p));
                    let p: Vec<&(dyn ToSql + Sync)> = vec![id, data, &now, &device];
                    sent.push(tx.execute_raw(&ver, p));
                    let p: Vec<&(dyn ToSql + Sync)> = vec![&device, seq, mid, outcome, &now];
                    sent.push(tx.execute_raw(&mu, p));
                    let p: Vec<&(dyn ToSql + Sync)> = vec![audit_id, &now, &user, &device, id, &audit_detail];
                    sent.push(tx.execute_raw(&au, p));
                }
                futures::future::try_join_all(sent).await.expect("pipelined");
                tx.commit().await.expect("commit");
                continue;
            }
            for (k, i) in chunk.iter().enumerate() {
                let seq = (b * args.batch + k + 1) as i64;
                let id = i.id.to_string();
                let data = serde_json::to_string(i).expect("json");
                tx.execute(&rec, &[&id, &site.to_string(), &village, &user, &device, &now, &seq]).await.expect("rec");
                tx.execute(&ver, &[&id, &data, &now, &device]).await.expect("ver");
                let outcome = format!("{{\"status\":\"applied\",\"server_seq\":{seq}}}");
                tx.execute(&mu, &[&device, &seq, &uuid::Uuid::now_v7().to_string(), &outcome, &now]).await.expect("mu");
                tx.execute(&au, &[&(seq + 1_000_000), &now, &user, &device, &id, &"{\"version\":1}"]).await.expect("au");
            }
            tx.commit().await.expect("commit");
        }
        let elapsed = start.elapsed().as_secs_f64();
        let theirs = postgres_cpu_seconds(&url) - pg_cpu;
        eprintln!(
            "  bare{}: {elapsed:.2} s, {theirs:.2} CPU s in PostgreSQL ({:.0} µs per inspection)",
            if pipelined { " pipelined" } else { "" },
            theirs / args.inspections as f64 * 1e6
        );
        args.inspections as f64 / elapsed
    });
    qingliu_tests::database::drop_database(&url);
    rate
}

fn bare_run(args: &Args) -> f64 {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bare.db");
    let store = sync_server::store::sqlite::SqliteStore::open(&path).expect("schema");
    let fx = fixture::install(&store);
    drop(store);
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.pragma_update(None, "journal_mode", "WAL").expect("wal");
    conn.pragma_update(None, "synchronous", "FULL").expect("sync");
    let user = fx.user("inspector_a").id.to_string();
    let site = fx.site("water1").id;
    let village = fx.site("water1").village.to_string();
    let device = DeviceId::new().to_string();
    conn.execute(
        "INSERT INTO devices (id, user_id, name, platform, last_seq, registered_at) VALUES (?1, ?2, 'bare', 'bench', 0, '2026-01-01T00:00:00Z')",
        params![device, user],
    )
    .expect("device");
    let rows: Vec<Inspection> = (0..args.inspections).map(|_| water_body(site, vec![], None)).collect();
    let now = "2026-11-29T00:00:00Z";
    let start = Instant::now();
    for (b, chunk) in rows.chunks(args.batch).enumerate() {
        let tx = conn.unchecked_transaction().expect("tx");
        {
            let mut rec = tx.prepare_cached("INSERT INTO records (id, site_id, village, submitted_by, device_id, current_version, status, review, received_at, change_seq) VALUES (?1, ?2, ?3, ?4, ?5, 1, 'submitted', NULL, ?6, ?7)").expect("p");
            let mut ver = tx.prepare_cached("INSERT INTO versions (record_id, version, data, received_at, device_id) VALUES (?1, 1, ?2, ?3, ?4)").expect("p");
            let mut mu = tx.prepare_cached("INSERT INTO mutations (device_id, seq, mutation_id, outcome, at) VALUES (?1, ?2, ?3, ?4, ?5)").expect("p");
            let mut au = tx.prepare_cached("INSERT INTO audit (at, user_id, device_id, action, entity, entity_id, detail) VALUES (?1, ?2, ?3, 'submit', 'inspection', ?4, ?5)").expect("p");
            for (k, i) in chunk.iter().enumerate() {
                let seq = (b * args.batch + k + 1) as i64;
                let id = i.id.to_string();
                rec.execute(params![id, site.to_string(), village, user, device, now, seq]).expect("rec");
                ver.execute(params![id, serde_json::to_string(i).expect("json"), now, device]).expect("ver");
                mu.execute(params![
                    device,
                    seq,
                    uuid::Uuid::now_v7().to_string(),
                    format!("{{\"status\":\"applied\",\"server_seq\":{seq}}}"),
                    now
                ])
                .expect("mu");
                au.execute(params![now, user, device, id, "{\"version\":1}"]).expect("au");
            }
        }
        tx.commit().expect("commit");
    }
    let elapsed = start.elapsed();
    args.inspections as f64 / elapsed.as_secs_f64()
}

/// Signatures verified per second on one core, the check every push makes before its write.
fn verify_rate(n: usize) -> f64 {
    use ed25519_dalek::Verifier;
    let device = DeviceId::new();
    let key = qingliu_tests::records::test_key(device);
    let site = shared::SiteId::new();
    let signed: Vec<(Vec<u8>, ed25519_dalek::Signature)> = (0..n)
        .map(|_| {
            let i = water_body(site, vec![], None);
            let bytes = shared::signing::inspection_bytes(&i);
            let sig = ed25519_dalek::Signer::sign(&key, &bytes);
            (bytes, sig)
        })
        .collect();
    let public = key.verifying_key();
    let start = Instant::now();
    for (bytes, sig) in &signed {
        public.verify(bytes, sig).expect("verifies");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let (mut on, mut off, mut bare, mut piped) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let backend = match &args.postgres {
        Some(_) => format!("PostgreSQL, {} server(s)", args.servers),
        None => "SQLite".to_string(),
    };
    if let Some(only) = args.only {
        let rates: Vec<f64> =
            (0..args.runs).map(|_| rt.block_on(http_run(&args, only == Checks::On))).collect();
        let what = if only == Checks::On { "signatures + cross-record checks" } else { "signatures only" };
        println!("| HTTP push ({backend}), {what}, median of {} | {:.0}/s |", args.runs, median(rates));
        return;
    }
    for run in 0..args.runs {
        let b = match &args.postgres {
            Some(pg) => {
                piped.push(bare_pg_run(&args, pg, &rt, true));
                bare_pg_run(&args, pg, &rt, false)
            }
            None => bare_run(&args),
        };
        // Alternate the order, so neither path always runs on a warmer disk.
        let (h_on, h_off) = if run % 2 == 0 {
            let x = rt.block_on(http_run(&args, true));
            (x, rt.block_on(http_run(&args, false)))
        } else {
            let y = rt.block_on(http_run(&args, false));
            (rt.block_on(http_run(&args, true)), y)
        };
        eprintln!(
            "run {} ({backend}): push with checks {h_on:.0}/s, push without {h_off:.0}/s, bare inserts {b:.0}/s",
            run + 1
        );
        on.push(h_on);
        off.push(h_off);
        bare.push(b);
        std::thread::sleep(Duration::from_millis(200));
    }
    let verify = verify_rate(args.inspections.min(20_000));
    let (h_on, h_off, b) = (median(on), median(off), median(bare));
    println!("| path ({backend}) | inspections/s (median of {}) |", args.runs);
    println!("|---|---|");
    println!(
        "| HTTP push, {} devices × batches of {}, signatures + cross-record checks | {h_on:.0} |",
        args.devices, args.batch
    );
    println!("| HTTP push, same, signatures only (`cross_record_checks = false`) | {h_off:.0} |");
    let bare_name = if args.postgres.is_some() { "bare tokio-postgres" } else { "bare rusqlite" };
    println!("| {bare_name}, same rows, transactions of {}, one statement at a time | {b:.0} |", args.batch);
    let piped = (!piped.is_empty()).then(|| median(piped));
    if let Some(p) = piped {
        println!("| {bare_name}, same rows, transactions of {}, pipelined | {p:.0} |", args.batch);
    }
    println!("| Ed25519 verification alone, one core | {verify:.0} |");
    println!("| ratio push with checks / without | {:.2} |", h_on / h_off);
    println!("| ratio push with checks / bare | {:.2} |", h_on / b);
    println!("| ratio push without checks / bare | {:.2} |", h_off / b);
    if let Some(p) = piped {
        println!("| ratio push with checks / bare pipelined | {:.2} |", h_on / p);
        println!("| ratio push without checks / bare pipelined | {:.2} |", h_off / p);
    }
}
