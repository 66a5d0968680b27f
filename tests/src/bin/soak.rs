//! Soak: many seeded randomized runs of the whole sync system under faults (see
//! `qingliu_tests::chaos`). Prints one line per failure with its seed, then how many ran and how
//! many failed; exits non-zero when any failed.
//!
//! `cargo run --release -p qingliu-tests --bin soak -- --runs 1000`
//! Replay one: `cargo run --release -p qingliu-tests --bin soak -- --seed 1234 --runs 1`
//! On the cluster (two server processes behind HAProxy on PostgreSQL + S3, killed one at a
//! time): `QINGLIU_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432 QINGLIU_TEST_S3=http://…
//! cargo run --release -p qingliu-tests --bin soak -- --cluster --runs 300` (build the
//! `test-server` binary beside it first: `cargo build --release -p qingliu-tests --bins`).

use clap::Parser;
use qingliu_tests::chaos::{RunConfig, run};

#[derive(Parser)]
struct Args {
    /// Runs to make, with seeds `seed`, `seed + 1`, …
    #[arg(long, default_value_t = 1000)]
    runs: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Random actions per run before the faults stop.
    #[arg(long, default_value_t = 60)]
    steps: usize,
    /// Largest photo (bytes).
    #[arg(long, default_value_t = 5 * 1024 * 1024)]
    max_photo_bytes: usize,
    /// Against two server processes behind HAProxy (needs QINGLIU_TEST_POSTGRES and
    /// QINGLIU_TEST_S3, and the `test-server` binary beside this one).
    #[arg(long)]
    cluster: bool,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = Args::parse();
    let cluster = args.cluster.then(|| {
        let bin = std::env::current_exe().expect("own path").with_file_name("test-server");
        assert!(bin.is_file(), "{} is missing: cargo build -p qingliu-tests --bins", bin.display());
        bin
    });
    let started = std::time::Instant::now();
    let (mut ran, mut failed) = (0u64, Vec::new());
    let (mut records, mut photos, mut cuts, mut lost, mut restarts) = (0usize, 0usize, 0u64, 0u64, 0usize);
    let (mut kills, mut decisions, mut conflicts) = (0usize, 0usize, 0usize);
    for seed in args.seed..args.seed + args.runs {
        let cfg = RunConfig {
            steps: args.steps,
            max_photo_bytes: args.max_photo_bytes,
            cluster: cluster.clone(),
            ..RunConfig::new(seed)
        };
        ran += 1;
        // A panic is a failure of this seed, not the end of the soak.
        let outcome = tokio::spawn(run(cfg)).await.unwrap_or_else(|e| Err(format!("panicked: {e}")));
        match outcome {
            Ok(r) => {
                records += r.records;
                photos += r.photos;
                cuts += r.cuts;
                lost += r.lost_answers;
                restarts += r.server_restarts;
                kills += r.server_kills;
                decisions += r.tablet_decisions;
                conflicts += r.decision_conflicts;
            }
            Err(e) => {
                println!("FAILED seed {seed}: {e}");
                failed.push(seed);
            }
        }
        if ran % 50 == 0 {
            eprintln!("… {ran} runs, {} failed, {:.0} s", failed.len(), started.elapsed().as_secs_f64());
        }
    }
    println!(
        "ran {ran}, failed {} ({records} records, {photos} photos, {cuts} cut links, {lost} lost answers, \
         {restarts} server restarts, {kills} server kills, {decisions} decisions on reviewer tablets of which \
         {conflicts} met a conflict; {:.0} s){}",
        failed.len(),
        started.elapsed().as_secs_f64(),
        if failed.is_empty() { String::new() } else { format!("; failing seeds: {failed:?}") }
    );
    if !failed.is_empty() {
        std::process::exit(1);
    }
}
