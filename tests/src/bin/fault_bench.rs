//! What broken links cost, measured through the fault-injecting proxy with the real app core
//! and sync client against the real server:
//!
//! 1. bytes re-sent per broken connection: one photo uploaded with the link cut at random
//!    points, against the same upload without cuts in the same run;
//! 2. bytes on the wire against payload bytes for a day's work (20 inspections, 60 photos
//!    through the real photo pipeline from the camera photos in `tests/data/photos`);
//! 3. time for that day's work to converge on a 256 kbit/s link.
//!
//! `cargo run --release -p qingliu-tests --bin fault-bench -- [--cuts 10] [--kbit 256]`

use std::path::Path;
use std::time::Instant;

use clap::Parser;
use qingliu_app::AppCore;
use qingliu_app::sync;
use qingliu_tests::TestServer;
use qingliu_tests::faultproxy::FaultProxy;
use qingliu_tests::fixture;
use qingliu_tests::records;
use rand::{Rng, SeedableRng};

#[derive(Parser)]
struct Args {
    /// Uploads of one photo, each cut once at a random point.
    #[arg(long, default_value_t = 20)]
    cuts: u32,
    /// Size of the photo cut into (bytes).
    #[arg(long, default_value_t = 5 * 1024 * 1024)]
    photo_bytes: usize,
    /// Link speed for the convergence measurement, kbit/s (0 skips it).
    #[arg(long, default_value_t = 256)]
    kbit: u64,
    #[arg(long, default_value_t = 20)]
    inspections: usize,
    #[arg(long, default_value_t = 3)]
    photos_per_inspection: usize,
}

struct Tablet {
    _dir: tempfile::TempDir,
    core: AppCore,
    client: sync::SyncClient,
}

async fn tablet(proxy: &FaultProxy) -> Tablet {
    let (_dir, core, client) = qingliu_tests::tablet(&proxy.base(), "inspector_a").await;
    Tablet { _dir, core, client }
}

/// Bytes the client sends to upload one photo and push its record, with the link cut once
/// after `cut_at` bytes of that upload (then healed and synced again).
async fn upload_with_cut(photo: &[u8], cut_at: Option<u64>) -> u64 {
    let server = TestServer::start().await;
    let fx = fixture::install(server.state.store.as_ref());
    let proxy = FaultProxy::start(server.addr()).await;
    let t = tablet(&proxy).await;
    let r = records::photo_ref(photo);
    t.core.keep_photo(photo, &r, None).expect("keep");
    let i = records::water_body(fx.site("water1").id, vec![r], None);
    t.core.save_draft(&i).expect("draft");
    t.core.submit(&i.id).expect("submit");
    let start = proxy.upstream_bytes();
    if let Some(n) = cut_at {
        proxy.cut_after_upstream_bytes(n);
        assert!(
            sync::sync_once(&t.core, &t.client, &mut |_| {}).await.is_err(),
            "the cut must break the sync"
        );
        proxy.heal();
    }
    sync::sync_once(&t.core, &t.client, &mut |_| {}).await.expect("final sync");
    assert_eq!(t.core.pending_count().expect("pending"), 0);
    proxy.upstream_bytes() - start
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = Args::parse();
    let chunk = sync::DEFAULT_CHUNK as u64;

    // 1. Re-sent bytes per broken connection.
    let photo: Vec<u8> = {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        (0..args.photo_bytes).map(|_| rng.r#gen()).collect()
    };
    let clean = upload_with_cut(&photo, None).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut extra = Vec::new();
    for _ in 0..args.cuts {
        // A uniformly random point of the photo's transfer.
        let at = rng.gen_range(1..photo.len() as u64);
        extra.push(upload_with_cut(&photo, Some(at)).await.saturating_sub(clean));
    }
    let mean = extra.iter().sum::<u64>() as f64 / extra.len().max(1) as f64;
    let max = extra.iter().copied().max().unwrap_or(0);
    println!(
        "re-sent per broken connection: mean {mean:.0} bytes ({:.2} chunk), worst {max} bytes ({:.2} chunk), \
         chunk {} KiB; {} cuts at random points of a {} byte photo; {clean} bytes without a cut",
        mean / chunk as f64,
        max as f64 / chunk as f64,
        chunk / 1024,
        args.cuts,
        photo.len()
    );

    // 2. and 3. A day's work through the real pipeline.
    let server = TestServer::start().await;
    let fx = fixture::install(server.state.store.as_ref());
    let proxy = FaultProxy::start(server.addr()).await;
    let t = tablet(&proxy).await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/photos");
    let cameras: Vec<Vec<u8>> =
        ["olympus-ep3-12mp.jpg", "iphone6-gps-8mp.jpg", "nokia83-gps-9mp.jpg", "coolpix-gps-small.jpg"]
            .iter()
            .map(|f| std::fs::read(dir.join(f)).expect("camera photo"))
            .collect();
    let cfg = qingliu_app::photos::PipelineConfig::default();
    let sites = ["water1", "village1", "village2", "facility1"];
    let mut photo_bytes = 0u64;
    let mut ids = Vec::new();
    for n in 0..args.inspections {
        let site = fx.site(sites[n % sites.len()]);
        let mut i = match site.kind() {
            shared::site::SiteKind::Village => records::village(site.id, None, None),
            shared::site::SiteKind::Facility => {
                records::facility(site.id, shared::inspection::FacilityRunningState::Running)
            }
            _ => records::water_body(site.id, vec![], None),
        };
        for k in 0..args.photos_per_inspection {
            let mut pos = records::position();
            // A step apart, as an inspector walks: every derivative differs.
            pos.point =
                shared::geo::LngLat::new(pos.point.lng() + (n * 10 + k) as f64 * 1e-5, pos.point.lat());
            let r = t
                .core
                .add_photo(&cameras[(n + k) % cameras.len()], &site.id, Some(&pos), &cfg)
                .expect("photo");
            photo_bytes += r.bytes;
            i.photos.push(r);
        }
        t.core.save_draft(&i).expect("draft");
        t.core.submit(&i.id).expect("submit");
        ids.push(i);
    }
    let json_bytes: u64 =
        ids.iter().map(|i| serde_json::to_vec(&records::submit(1, i)).expect("json").len() as u64).sum();
    let payload = photo_bytes + json_bytes;
    let (up0, down0) = (proxy.upstream_bytes(), proxy.downstream_bytes());
    sync::sync_once(&t.core, &t.client, &mut |_| {}).await.expect("day sync");
    let wire = (proxy.upstream_bytes() - up0) + (proxy.downstream_bytes() - down0);
    println!(
        "day's work ({} inspections, {} photos): payload {payload} bytes ({photo_bytes} photo + {json_bytes} JSON), \
         on the wire {wire} bytes both ways: ratio {:.4}",
        args.inspections,
        args.inspections * args.photos_per_inspection,
        wire as f64 / payload as f64
    );

    if args.kbit > 0 {
        let server = TestServer::start().await;
        let fx2 = fixture::install(server.state.store.as_ref());
        let proxy = FaultProxy::start(server.addr()).await;
        let t2 = tablet(&proxy).await;
        for (n, i) in ids.iter().enumerate() {
            let mut i = i.clone();
            i.site_id = fx2.site(sites[n % sites.len()]).id;
            for p in &i.photos {
                let bytes = std::fs::read(t.core.photo_path(&p.sha256).expect("path")).expect("photo");
                t2.core.keep_photo(&bytes, p, None).expect("keep");
            }
            t2.core.save_draft(&i).expect("draft");
            t2.core.submit(&i.id).expect("submit");
        }
        let rate = args.kbit * 1000 / 8;
        proxy.limit_rate(rate);
        let started = Instant::now();
        sync::sync_once(&t2.core, &t2.client, &mut |_| {}).await.expect("slow sync");
        let secs = started.elapsed().as_secs_f64();
        let floor = payload as f64 / rate as f64;
        println!(
            "converged at {} kbit/s in {secs:.0} s ({:.1} min); the payload alone needs {floor:.0} s: {:.3}× that",
            args.kbit,
            secs / 60.0,
            secs / floor
        );
    }
}
