//! Photo ingest: megabytes per second of tablet photos uploaded through the server's resumable
//! upload path (start, chunks, hash check, fingerprint, publish) into the S3-compatible object
//! store, beside writing the same bytes into the same bucket with the object store's own client
//! (`object_store`) in the same run, and beside the server on its embedded photo directory.
//!
//! ```sh
//! QINGLIU_TEST_S3=http://127.0.0.1:9014 cargo run --release -p qingliu-tests --bin photo-bench
//! ```
//!
//! The photos are the project's six test photos as the tablet pipeline makes them (oriented,
//! resized, watermarked, re-encoded), each made distinct by a random tail after the JPEG's end
//! (decoders ignore it; the server would otherwise store each photo once). Several tablets
//! upload at once, each one photo after another in the tablet's chunk size.

use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use object_store::ObjectStore;
use qingliu_tests::{TestServer, fixture};
use rand::RngCore;

#[derive(Parser)]
struct Args {
    /// Photos per measurement.
    #[arg(long, default_value_t = 120)]
    photos: usize,
    /// Tablets uploading at once.
    #[arg(long, default_value_t = 4)]
    tablets: usize,
    /// Upload chunk (the app's default is 256 KiB).
    #[arg(long, default_value_t = 256 * 1024)]
    chunk: usize,
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

fn photos(base: &[Vec<u8>], n: usize) -> Vec<Vec<u8>> {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|k| {
            let mut b = base[k % base.len()].clone();
            let mut tail = [0u8; 32];
            rng.fill_bytes(&mut tail);
            b.extend_from_slice(&tail);
            b
        })
        .collect()
}

fn mb(photos: &[Vec<u8>]) -> f64 {
    photos.iter().map(|p| p.len()).sum::<usize>() as f64 / 1e6
}

/// Upload every photo through the server, `tablets` at a time; MB/s.
async fn through_server(server: &TestServer, photos: Arc<Vec<Vec<u8>>>, args: &Args) -> f64 {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..args.tablets {
        let mut client = server.client();
        client.login("inspector_a", fixture::PASSWORD).await.expect("login");
        let (photos, chunk, tablets) = (photos.clone(), args.chunk, args.tablets);
        tasks.push(tokio::spawn(async move {
            for p in photos.iter().skip(t).step_by(tablets) {
                let st = client.upload(p, chunk).await.expect("upload");
                assert!(st.complete);
            }
        }));
    }
    for t in tasks {
        t.await.expect("tablet");
    }
    mb(&photos) / start.elapsed().as_secs_f64()
}

/// The same bytes put straight into the bucket with `object_store`, `tablets` at a time:
/// whole (`chunk` = None) or one object per chunk as the server's upload state keeps them.
async fn straight(
    store: Arc<dyn ObjectStore>,
    photos: Arc<Vec<Vec<u8>>>,
    tablets: usize,
    chunk: Option<usize>,
) -> f64 {
    let prefix = format!("bench-{}", uuid::Uuid::now_v7().simple());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..tablets {
        let (store, photos, prefix) = (store.clone(), photos.clone(), prefix.clone());
        tasks.push(tokio::spawn(async move {
            for (n, p) in photos.iter().enumerate().skip(t).step_by(tablets) {
                match chunk {
                    None => {
                        let key = object_store::path::Path::from(format!("{prefix}/{n}"));
                        store.put(&key, p.clone().into()).await.expect("put");
                    }
                    Some(c) => {
                        for (k, part) in p.chunks(c).enumerate() {
                            let key = object_store::path::Path::from(format!("{prefix}/{n}/{k}"));
                            store.put(&key, part.to_vec().into()).await.expect("put");
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let rate = mb(&photos) / start.elapsed().as_secs_f64();
    qingliu_tests::database::s3_delete_prefix(&prefix);
    rate
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let endpoint = qingliu_tests::database::s3_endpoint().expect("QINGLIU_TEST_S3: the S3-compatible server");
    let store: Arc<dyn ObjectStore> = Arc::new(qingliu_tests::database::s3_client(&endpoint));
    let (mut server_s3, mut server_fs, mut whole, mut chunked) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut total_mb = 0.0;
    let base: Vec<Vec<u8>> =
        qingliu_tests::photos::TEST_PHOTOS.iter().map(|p| qingliu_tests::photos::tablet_photo(p)).collect();
    for run in 0..args.runs {
        // Fresh bytes each measurement, so nothing is deduplicated against an earlier one.
        let p = Arc::new(photos(&base, args.photos));
        total_mb = mb(&p);
        let s3 = TestServer::start().await;
        fixture::install(s3.state.store.as_ref());
        let fs =
            TestServer::start_embedded(tempfile::tempdir().expect("dir"), "127.0.0.1:0".parse().unwrap())
                .await;
        fixture::install(fs.state.store.as_ref());
        let fresh = || Arc::new(photos(&base, args.photos));
        // Alternate the order so neither path always runs first.
        if run % 2 == 0 {
            server_s3.push(through_server(&s3, p.clone(), &args).await);
            whole.push(straight(store.clone(), fresh(), args.tablets, None).await);
        } else {
            whole.push(straight(store.clone(), fresh(), args.tablets, None).await);
            server_s3.push(through_server(&s3, p.clone(), &args).await);
        }
        chunked.push(straight(store.clone(), fresh(), args.tablets, Some(args.chunk)).await);
        server_fs.push(through_server(&fs, fresh(), &args).await);
        eprintln!(
            "run {}: server→S3 {:.1} MB/s, object_store whole {:.1}, object_store per chunk {:.1}, server→disk {:.1}",
            run + 1,
            server_s3[run],
            whole[run],
            chunked[run],
            server_fs[run]
        );
    }
    let (s3, w, c, f) = (median(server_s3), median(whole), median(chunked), median(server_fs));
    println!(
        "{} photos ({total_mb:.1} MB) per measurement, {} tablets at once, {} KiB chunks, median of {} runs\n",
        args.photos,
        args.tablets,
        args.chunk / 1024,
        args.runs
    );
    println!("| path | MB/s | ratio to object_store whole puts |");
    println!("|---|---|---|");
    println!(
        "| server upload path → S3 (start, chunks, hash, fingerprint, publish) | {s3:.1} | {:.2} |",
        s3 / w
    );
    println!("| object_store put, whole photo (baseline) | {w:.1} | 1.00 |");
    println!("| object_store put, one object per {} KiB chunk | {c:.1} | {:.2} |", args.chunk / 1024, c / w);
    println!("| server upload path → photo directory on disk | {f:.1} | {:.2} |", f / w);
}
