//! Change feed benchmark (issue 15): changes per second a system reads through `GET /api/v1/feed`
//! with an API key (real server on a real port, pages of `--limit`, each page decoded into the
//! shared `FeedPage` as a client would), beside the same rows read straight from the database
//! with one query per page, measured in the same run.
//!
//! The feed is filled first through the real push path (4 devices, batches of 500, cross-record
//! checks off: their cost is `ingest-bench`'s), then a share of the records is reviewed, so the
//! feed holds versions and decisions. Read twice: as a province-wide system and as one county's
//! (a tenth of the changes, found among the province's).
//!
//! cargo run --release -p qingliu-tests --bin feed-bench -- --changes 200000
//! cargo run --release -p qingliu-tests --bin feed-bench -- --postgres postgres://postgres@127.0.0.1:5432

use std::time::Instant;

use clap::Parser;
use qingliu_tests::TestServer;
use qingliu_tests::fixture;
use qingliu_tests::records::{batch, submit, water_body};
use shared::DeviceId;
use shared::integration::FeedPage;
use shared::sync::MutationOutcome;

#[derive(Parser)]
struct Args {
    /// Record versions pushed before reading (decisions come on top).
    #[arg(long, default_value_t = 200_000)]
    changes: usize,
    /// Changes per feed page.
    #[arg(long, default_value_t = 5_000)]
    limit: u32,
    /// Repetitions of each read; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Run on PostgreSQL at this server URL instead of SQLite.
    #[arg(long)]
    postgres: Option<String>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let database = args.postgres.as_deref().map(qingliu_tests::database::create_database_on);
    let server = TestServer::start_with(|c| {
        c.flags.cross_record_checks = false;
        c.database_url = database.clone();
    })
    .await;
    let fx = fixture::install(server.state.store.as_ref());

    // Fill: versions through the push path, in two townships of one county (t1, t2).
    let fill = Instant::now();
    let sites = [fx.site("water1").id, fx.site("water2").id];
    let users = ["inspector_a", "inspector_b"];
    let devices = 4;
    let per_device = args.changes / devices;
    let mut tasks = Vec::new();
    for d in 0..devices {
        let mut client = server.client();
        client.login(users[d % 2], fixture::PASSWORD).await.expect("login");
        let device = DeviceId::new();
        client.register_device(device, "bench").await.expect("device");
        let site = sites[d % 2];
        tasks.push(tokio::spawn(async move {
            let mut seq = 1u64;
            while (seq as usize) <= per_device {
                let n = 500.min(per_device + 1 - seq as usize);
                let muts = (0..n).map(|k| submit(seq + k as u64, &water_body(site, vec![], None))).collect();
                let r = client.push(&batch(device, muts)).await.expect("push");
                assert!(r.results.iter().all(|x| matches!(x.outcome, MutationOutcome::Applied { .. })));
                seq += n as u64;
            }
        }));
    }
    for t in tasks {
        t.await.expect("pusher");
    }
    // Decisions on a tenth of t1's records (returns: no site change, any number of them).
    let reviewer = {
        let mut c = server.client();
        c.login("reviewer_1", fixture::PASSWORD).await.expect("login");
        c
    };
    let ids: Vec<shared::InspectionId> = {
        let mut tx = server.state.store.read().expect("read");
        let (lo, hi) = fx.t1.descendant_range();
        let mut ids = Vec::new();
        let q = sync_server::store::RecordQuery {
            lo,
            hi,
            limit: (args.changes / 20) as u32,
            ..Default::default()
        };
        tx.for_each_record(&q, &mut |r| {
            ids.push(r.inspection.id);
            ids.len() < args.changes / 20
        })
        .expect("records");
        ids
    };
    for id in &ids {
        reviewer.review(*id, 1, shared::review::ReviewDecision::Return, "请补充").await.expect("review");
    }
    eprintln!(
        "filled {} versions and {} decisions in {:.1} s",
        per_device * devices,
        ids.len(),
        fill.elapsed().as_secs_f64()
    );
    let total = per_device * devices + ids.len();

    // Readers: a province-wide system and the county's that holds the changes (its region is
    // searched for them among the province's).
    let admin = {
        let mut c = server.client();
        c.login("admin", fixture::PASSWORD).await.expect("login");
        c
    };
    let key = |username: &'static str, role: &'static str, region: String| {
        let admin = admin.clone();
        async move {
            let body = serde_json::json!({
                "username": username, "display_name": username, "purpose": "bench", "role": role, "region": region,
            });
            let made: shared::integration::CreatedServiceAccount = admin
                .send_json(reqwest::Method::POST, "/api/v1/service-accounts", &body)
                .await
                .expect("account");
            made.key.key
        }
    };
    let province = key("province-system", "province_viewer", "420000".into()).await;
    let county = key("county-system", "county_viewer", fx.t1.parent().expect("county").to_string()).await;

    let http = reqwest::Client::new();
    let read_all = |key: String| {
        let http = http.clone();
        let base = server.base.clone();
        let limit = args.limit;
        async move {
            let start = Instant::now();
            let (mut after, mut n) = (0u64, 0usize);
            loop {
                let resp = http
                    .get(format!("{base}/api/v1/feed?after={after}&limit={limit}"))
                    .bearer_auth(&key)
                    .header("accept-encoding", "identity")
                    .send()
                    .await
                    .expect("feed");
                assert!(resp.status().is_success(), "{}", resp.status());
                let page: FeedPage =
                    serde_json::from_slice(&resp.bytes().await.expect("body")).expect("page");
                n += page.changes.len();
                after = page.cursor;
                if !page.more {
                    break;
                }
            }
            (n, start.elapsed().as_secs_f64())
        }
    };
    let mut rates = Vec::new();
    let mut county_rates = Vec::new();
    let mut bare_rates = Vec::new();
    for _ in 0..args.runs {
        let (n, secs) = read_all(province.clone()).await;
        assert_eq!(n, total, "the province reader sees every change");
        rates.push(n as f64 / secs);
        let (n, secs) = read_all(county.clone()).await;
        assert_eq!(n, total, "the county holds every change");
        county_rates.push(n as f64 / secs);
        // Baseline: the same pages straight from the store, no HTTP, no JSON.
        let store = server.state.store.clone();
        let limit = args.limit;
        let (n, secs) = tokio::task::spawn_blocking(move || {
            let start = Instant::now();
            let (mut after, mut n) = (0u64, 0usize);
            loop {
                let (items, scanned, more) = store
                    .read()
                    .expect("read")
                    .feed_after(after, "000000000000", "999999999999", limit, 50_000)
                    .expect("feed");
                n += items.len();
                after = if items.len() == limit as usize {
                    items.last().map_or(scanned, |i| i.seq)
                } else {
                    scanned
                };
                if !more && items.len() < limit as usize {
                    break;
                }
            }
            (n, start.elapsed().as_secs_f64())
        })
        .await
        .expect("bare");
        assert_eq!(n, total);
        bare_rates.push(n as f64 / secs);
    }
    let (http_rate, county_rate, bare_rate) = (median(rates), median(county_rates), median(bare_rates));
    println!("backend: {}", server.state.store.backend_name());
    println!(
        "changes in the feed: {total} ({} versions, {} decisions), pages of {}",
        per_device * devices,
        ids.len(),
        args.limit
    );
    println!("| reader | changes/s |");
    println!("|---|---|");
    println!("| HTTP, province-wide service account | {http_rate:.0} |");
    println!("| HTTP, one county's service account | {county_rate:.0} |");
    println!("| the store's query alone (no HTTP, no JSON) | {bare_rate:.0} |");
    println!("| ratio HTTP / store | {:.2} |", http_rate / bare_rate);
    drop(server);
    if let Some(url) = database {
        qingliu_tests::database::drop_database(&url);
    }
}
