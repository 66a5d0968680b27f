//! Evidence benchmark, two parts.
//!
//! 1. Fingerprinting cost per photo on the server, beside decoding the same photo alone: each
//!    project test photo as the tablet uploads it, decoded fully by the server's decoder
//!    (`jpeg-decoder`) and by `image` (what a hasher built on `image` starts with), and
//!    fingerprinted by `sync_server::fingerprint` (which decodes at a reduced DCT scale).
//! 2. Near-duplicate look-up among N stored fingerprints in a real SQLite store (the server's
//!    path, `domain::evidence::similar_fingerprints`: band probes in memory, the hits resolved
//!    in SQLite), beside, in the same run: the same band probes on SQLite indexes (band,
//!    fingerprint) as the first version did, a linear scan of the table, and a linear scan of
//!    every fingerprint held in memory. Half the queries are stored fingerprints with 0–10 bits
//!    flipped (each must be found), half are fresh ones (the common case: a new photo).
//!
//! cargo run --release -p qingliu-tests --bin evidence-bench -- --fingerprints 1000000

use std::time::Instant;

use clap::Parser;
use qingliu_tests::photos::tablet_photo;
use rand::{Rng, SeedableRng, rngs::StdRng};
use sync_server::fingerprint::{self, MAX_DISTANCE};
use sync_server::store::Store;

#[derive(Parser)]
struct Args {
    /// Fingerprints stored before the look-ups.
    #[arg(long, default_value_t = 1_000_000)]
    fingerprints: usize,
    /// Look-ups timed (half planted near-duplicates, half fresh).
    #[arg(long, default_value_t = 2_000)]
    queries: usize,
    /// Repetitions per photo in part 1; the median is reported.
    #[arg(long, default_value_t = 15)]
    reps: usize,
    /// Skip part 2.
    #[arg(long)]
    photos_only: bool,
}

const PHOTOS: [&str; 5] = [
    "olympus-ep3-12mp.jpg",
    "iphone6-gps-8mp.jpg",
    "nokia83-gps-9mp.jpg",
    "coolpix-gps-small.jpg",
    "same-spot-21s-a.jpg",
];

fn median_ms(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn time_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    median_ms(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    )
}

fn photos(args: &Args) {
    println!(
        "| photo (as uploaded) | size | full decode, jpeg-decoder | full decode, image | fingerprint | fingerprint / jpeg-decoder decode |"
    );
    println!("|---|---|---|---|---|---|");
    let (mut sum_fp, mut sum_dec) = (0.0, 0.0);
    for name in PHOTOS {
        let jpeg = tablet_photo(name);
        let (w, h) = {
            let i = image::load_from_memory(&jpeg).expect("decodes");
            (i.width(), i.height())
        };
        let dec = time_ms(args.reps, || {
            let mut d = jpeg_decoder::Decoder::new(std::io::Cursor::new(&jpeg));
            std::hint::black_box(d.decode().expect("decodes"));
        });
        let img = time_ms(args.reps, || {
            std::hint::black_box(image::load_from_memory(&jpeg).expect("decodes"));
        });
        let fp = time_ms(args.reps, || {
            std::hint::black_box(fingerprint::fingerprint(&jpeg).expect("fingerprint"));
        });
        sum_fp += fp;
        sum_dec += dec;
        println!(
            "| {name} | {w}×{h}, {} KB | {dec:.2} ms | {img:.2} ms | {fp:.2} ms | {:.2} |",
            jpeg.len() / 1024,
            fp / dec
        );
    }
    println!("| all photos | | {sum_dec:.2} ms | | {sum_fp:.2} ms | {:.2} |", sum_fp / sum_dec);
}

/// A fingerprint as the hash makes them: 63 bits (bit 63 is never set).
fn random_fp(rng: &mut StdRng) -> u64 {
    rng.r#gen::<u64>() >> 1
}

fn flip(rng: &mut StdRng, fp: u64, bits: u32) -> u64 {
    let mut out = fp;
    let mut chosen = Vec::new();
    while chosen.len() < bits as usize {
        let b = rng.gen_range(0..63u32);
        if !chosen.contains(&b) {
            chosen.push(b);
            out ^= 1 << b;
        }
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn lookups(args: &Args) {
    let dir = tempfile::tempdir().expect("dir");
    let store = sync_server::store::sqlite::SqliteStore::open(&dir.path().join("bench.db")).expect("store");
    let mut rng = StdRng::seed_from_u64(20261202);
    let mut all: Vec<(String, u64)> = Vec::with_capacity(args.fingerprints);
    let load = Instant::now();
    let now = time::OffsetDateTime::now_utc();
    while all.len() < args.fingerprints {
        let mut tx = store.write().expect("write");
        for _ in 0..50_000.min(args.fingerprints - all.len()) {
            let sha = hex::encode(rng.r#gen::<[u8; 32]>());
            let fp = random_fp(&mut rng);
            tx.insert_blob(&sha, 100_000, now).expect("blob");
            tx.insert_fingerprint(&sha, Some(fp)).expect("fingerprint");
            all.push((sha, fp));
        }
        tx.commit().expect("commit");
    }
    eprintln!("stored {} fingerprints in {:.1} s", all.len(), load.elapsed().as_secs_f64());

    let queries: Vec<(u64, Option<&str>)> = (0..args.queries)
        .map(|q| {
            if q % 2 == 0 {
                let (sha, fp) = &all[rng.gen_range(0..all.len())];
                let bits = rng.gen_range(0..=MAX_DISTANCE);
                (flip(&mut rng, *fp, bits), Some(sha.as_str()))
            } else {
                (random_fp(&mut rng), None)
            }
        })
        .collect();

    let mut index_ms = Vec::with_capacity(queries.len());
    let mut candidates_found = 0usize;
    for (fp, planted) in &queries {
        let mut tx = store.read().expect("read");
        let t = Instant::now();
        let found = sync_server::domain::evidence::similar_fingerprints(
            &mut sync_server::domain::evidence_reads::Direct(tx.as_mut()),
            *fp,
        )
        .expect("look-up");
        index_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        candidates_found += found.len();
        if let Some(sha) = planted {
            assert!(found.iter().any(|(s, _)| s == sha), "a planted near-duplicate was missed");
        }
    }
    index_ms.sort_by(|a, b| a.total_cmp(b));

    // The same probes on database indexes, as the first version of the look-up did.
    let conn = rusqlite::Connection::open(dir.path().join("bench.db")).expect("open");
    conn.pragma_update(None, "mmap_size", 1i64 << 30).expect("mmap");
    let t = Instant::now();
    for b in 0..4 {
        conn.execute_batch(&format!("CREATE INDEX bench_b{b} ON photo_fingerprints(b{b}, fp)"))
            .expect("index");
    }
    eprintln!("built four (band, fp) indexes in {:.1} s", t.elapsed().as_secs_f64());
    let mut sql_ms = Vec::new();
    for (fp, planted) in &queries[..queries.len().min(400)] {
        let t = Instant::now();
        let mut hits = Vec::new();
        for (b, v) in fingerprint::bands(*fp).into_iter().enumerate() {
            let mut st = conn
                .prepare_cached(&format!(
                    "SELECT sha256, fp FROM photo_fingerprints WHERE b{b} IN (SELECT value FROM json_each(?1))"
                ))
                .expect("prepare");
            let list = serde_json::to_string(&fingerprint::band_neighbours(v)).expect("json");
            for row in
                st.query_map([list], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))).expect("q")
            {
                let (sha, other) = row.expect("row");
                if fingerprint::distance(*fp, other) <= MAX_DISTANCE {
                    hits.push(sha);
                }
            }
        }
        sql_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        if let Some(sha) = planted {
            assert!(hits.iter().any(|s| s == sha), "the SQL probes missed a planted near-duplicate");
        }
    }
    sql_ms.sort_by(|a, b| a.total_cmp(b));

    // Linear scans, on a sample of the same queries (each takes far longer).
    let sample = &queries[..queries.len().min(40)];
    let mut table_ms = Vec::new();
    for (fp, planted) in sample {
        let t = Instant::now();
        let mut st =
            conn.prepare_cached("SELECT sha256, fp FROM photo_fingerprints WHERE fp IS NOT NULL").expect("p");
        let hits: Vec<String> = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))
            .expect("scan")
            .filter_map(Result::ok)
            .filter(|(_, other)| fingerprint::distance(*fp, *other) <= MAX_DISTANCE)
            .map(|(s, _)| s)
            .collect();
        table_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        if let Some(sha) = planted {
            assert!(hits.iter().any(|s| s == sha));
        }
    }
    table_ms.sort_by(|a, b| a.total_cmp(b));
    let fps: Vec<u64> = all.iter().map(|(_, f)| *f).collect();
    let mut memory_ms = Vec::new();
    for (fp, _) in &queries {
        let t = Instant::now();
        let n = fps.iter().filter(|o| fingerprint::distance(*fp, **o) <= MAX_DISTANCE).count();
        std::hint::black_box(n);
        memory_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    memory_ms.sort_by(|a, b| a.total_cmp(b));

    println!();
    println!(
        "| look-up among {} fingerprints ({} queries; table scan on {}) | p50 | p95 | p99 |",
        all.len(),
        queries.len(),
        sample.len()
    );
    println!("|---|---|---|---|");
    for (what, v) in [
        ("band probes in memory, hits resolved in SQLite (the server's)", &index_ms),
        ("the same band probes on SQLite (band, fp) indexes (first version; 400 queries)", &sql_ms),
        ("linear scan of the table", &table_ms),
        ("linear scan in memory (every fingerprint in RAM)", &memory_ms),
    ] {
        println!(
            "| {what} | {:.2} ms | {:.2} ms | {:.2} ms |",
            percentile(v, 0.5),
            percentile(v, 0.95),
            percentile(v, 0.99)
        );
    }
    println!(
        "| ratio table scan / server's at p95 | {:.0}× | | |",
        percentile(&table_ms, 0.95) / percentile(&index_ms, 0.95)
    );
    println!(
        "| ratio SQL band probes / server's at p95 | {:.0}× | | |",
        percentile(&sql_ms, 0.95) / percentile(&index_ms, 0.95)
    );
    eprintln!(
        "every planted near-duplicate found; {:.2} fingerprints within {MAX_DISTANCE} bits per query on average",
        candidates_found as f64 / queries.len() as f64
    );
}

fn main() {
    let args = Args::parse();
    photos(&args);
    if !args.photos_only {
        lookups(&args);
    }
}
