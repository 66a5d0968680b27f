use std::path::PathBuf;

use clap::{Parser, Subcommand};
use sync_server::config::Config;
use sync_server::{AppState, seed};

#[derive(Parser)]
#[command(name = "sync-server", about = "清流 Qingliu sync server")]
struct Cli {
    /// Configuration file (TOML); `./qingliu.toml` is read when present.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Log as JSON lines.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (embedded SQLite + blob directory under the data directory).
    Serve {
        /// Seed demo data for all of Hubei first if the database is empty.
        #[arg(long)]
        demo: bool,
    },
    /// Seed the database.
    Seed {
        /// Generate the demo data set (all of Hubei at real scale; generated names).
        #[arg(long)]
        demo: bool,
        /// Random seed for the generator.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Do nothing when the database already holds data (a cluster's start script seeds once,
        /// before its servers serve).
        #[arg(long)]
        if_empty: bool,
    },
    /// Apply migrations and exit.
    Migrate,
    /// Re-check what is stored: every record version against its device's signature, every
    /// photo against its hash and size, and with `--documents` every document a device signed
    /// a digest for, made again. Exits non-zero when something does not match.
    Verify {
        /// Also make every signed document again and compare it with its digest (slow: tens
        /// of milliseconds a document).
        #[arg(long)]
        documents: bool,
    },
    /// A consistent copy of the embedded database and its photos in one file, while the
    /// server runs.
    Backup {
        #[arg(long)]
        to: PathBuf,
    },
    /// Unpack a backup into the (empty) data directory.
    Restore {
        #[arg(long)]
        from: PathBuf,
    },
    /// Copy the embedded default (SQLite and its photos) to PostgreSQL and, optionally, an
    /// S3-compatible bucket; verify counts and a content fingerprint on both sides. Safe to
    /// re-run: an interrupted copy leaves the target empty, a finished one is recognised.
    /// Stop the server on the source first (writes after the copy's snapshot stay behind).
    MigrateData {
        /// `sqlite:PATH` of the source database.
        #[arg(long)]
        from: String,
        /// The source's photo directory (default: `blobs/` beside the database).
        #[arg(long)]
        blobs_from: Option<PathBuf>,
        /// `postgres://…` of the target database (created beforehand, empty).
        #[arg(long)]
        to: String,
        /// `s3://bucket[/prefix]` (endpoint and credentials from `AWS_*`) or a directory for
        /// the photos; without it they stay where they are.
        #[arg(long)]
        blobs_to: Option<String>,
    },
    /// The tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain and list every entry that was edited, inserted or deleted;
    /// exits non-zero when the log does not verify.
    Verify {
        /// A head noted earlier (`SEQ:HASH`, as the console shows it): that entry must still
        /// carry that hash.
        #[arg(long)]
        expect: Option<String>,
    },
    /// Print the current head (`SEQ:HASH`).
    Head,
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,tower_http=info".into());
    let b = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        b.json().init();
    } else {
        b.init();
    }
}

fn backup_or_restore(config: &Config, command: &Command) -> Result<(), Box<dyn std::error::Error>> {
    if !matches!(config.database()?, sync_server::config::Database::Sqlite(_))
        || config.blob_store_url.is_some()
    {
        return Err("backup and restore cover the embedded default (SQLite and the blob directory); \
                    for PostgreSQL and S3 use pg_dump and the object store's own replication"
            .into());
    }
    let db = match config.database()? {
        sync_server::config::Database::Sqlite(p) => p,
        sync_server::config::Database::Postgres(_) => unreachable!("checked above"),
    };
    match command {
        Command::Backup { to } => {
            let m =
                sync_server::backup::backup(&db, &config.blob_dir(), to, time::OffsetDateTime::now_utc())?;
            println!(
                "backup written to {}: database {} bytes (sha256 {}), {} photos ({} bytes)",
                to.display(),
                m.database_bytes,
                m.database_sha256,
                m.photos,
                m.photo_bytes
            );
        }
        Command::Restore { from } => {
            let m = sync_server::backup::restore(from, &config.data_dir)?;
            println!(
                "restored the backup of {} into {}: {} photos; run `sync-server verify` before serving",
                m.created_at,
                config.data_dir.display(),
                m.photos
            );
        }
        _ => unreachable!("only backup and restore come here"),
    }
    Ok(())
}

fn migrate_data(config: &Config, command: &Command) -> Result<(), Box<dyn std::error::Error>> {
    let Command::MigrateData { from, blobs_from, to, blobs_to } = command else {
        unreachable!("only migrate-data comes here")
    };
    let Some(path) = from.strip_prefix("sqlite:") else {
        return Err("--from takes sqlite:PATH (the embedded default's database file)".into());
    };
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err("--to takes postgres://… (the value is not repeated: it may hold a password)".into());
    }
    let database = PathBuf::from(path);
    let blobs = blobs_from.clone().unwrap_or_else(|| {
        database.parent().map(|p| p.join("blobs")).unwrap_or_else(|| PathBuf::from("blobs"))
    });
    let store: Option<Box<dyn sync_server::blobs::BlobStore>> = match blobs_to.as_deref() {
        None => None,
        Some(u) if u.starts_with("s3://") => {
            Some(Box::new(sync_server::blobs_s3::S3BlobStore::open(u, config.max_blob_bytes)?))
        }
        Some(dir) => Some(Box::new(sync_server::blobs::FsBlobStore::open(
            std::path::Path::new(dir),
            config.max_blob_bytes,
        )?)),
    };
    let source = sync_server::migrate_data::Source { database: &database, blobs };
    let target = sync_server::migrate_data::Target { database_url: to, blobs: store.as_deref() };
    let report = sync_server::migrate_data::migrate(&source, &target, &mut |line| {
        println!("{line}");
        Ok(())
    })?;
    if report.already_migrated {
        println!("nothing to do: the target already holds exactly this data");
    }
    println!(
        "done: {} tables, {} rows, {} photos copied ({} bytes), {} already there; fingerprint {}",
        report.tables.len(),
        report.rows(),
        report.photos,
        report.photo_bytes,
        report.photos_present,
        report.fingerprint()
    );
    if blobs_to.is_none() {
        println!(
            "photos were not moved: give the servers the same blob directory, or re-run with --blobs-to"
        );
    }
    Ok(())
}

fn run_seed(state: &AppState, seed_value: u64) -> Result<(), String> {
    let now = state.now();
    let report = seed::seed_demo(state.store.as_ref(), seed_value, now).map_err(|e| e.to_string())?;
    println!("{}", report.summary());
    let records =
        sync_server::seed_records::seed_demo_records(state, seed_value, now).map_err(|e| e.to_string())?;
    println!("{}", records.summary());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    init_tracing(cli.log_json);
    let config = Config::load(cli.config.as_deref())?;
    let listen = config.listen;
    match &cli.command {
        Command::Backup { .. } | Command::Restore { .. } => return backup_or_restore(&config, &cli.command),
        _ => {}
    }
    if matches!(cli.command, Command::MigrateData { .. }) {
        let command = cli.command;
        return tokio::task::spawn_blocking(move || {
            migrate_data(&config, &command).map_err(|e| e.to_string())
        })
        .await?
        .map_err(Into::into);
    }
    let state = AppState::open(config)?;
    match cli.command {
        Command::Backup { .. } | Command::Restore { .. } | Command::MigrateData { .. } => {
            unreachable!("handled before opening the state")
        }
        Command::Migrate => {
            println!("schema is current");
        }
        Command::Verify { documents } => {
            use sync_server::domain::integrity::{
                verify_blobs, verify_documents, verify_exports, verify_versions,
            };
            let st = state.clone();
            let (versions, exports, photos, docs) = tokio::task::spawn_blocking(move || {
                Ok::<_, sync_server::error::AppError>((
                    verify_versions(st.store.as_ref())?,
                    verify_exports(st.store.as_ref())?,
                    verify_blobs(st.store.as_ref(), st.blobs.as_ref())?,
                    documents.then(|| verify_documents(st.store.as_ref(), st.blobs.as_ref())).transpose()?,
                ))
            })
            .await??;
            println!("{} record versions checked against their devices' signatures", versions.checked);
            for p in &versions.problems {
                println!("{p}");
            }
            println!("{} versions' export columns checked against the versions", exports.checked);
            for p in &exports.problems {
                println!("{p}");
            }
            println!("{} photos checked ({} bytes)", photos.checked, photos.bytes);
            for p in &photos.problems {
                println!("{p}");
            }
            let mut n = versions.problems.len() + exports.problems.len() + photos.problems.len();
            if let Some(docs) = &docs {
                println!("{} signed documents made again and compared", docs.checked);
                for p in &docs.problems {
                    println!("{p}");
                }
                n += docs.problems.len();
            }
            if n > 0 {
                return Err(format!("stored data does not verify: {n} problem(s)").into());
            }
            println!(
                "every record version matches its signature and its export columns, every photo its hash{}",
                if docs.is_some() { ", every signed document its digest" } else { "" }
            );
        }
        Command::Audit { command: AuditCommand::Head } => {
            let h = sync_server::domain::audit::head(state.store.as_ref())?;
            println!("{}:{}", h.seq, h.hash);
        }
        Command::Audit { command: AuditCommand::Verify { expect } } => {
            let expect = expect.map(|e| sync_server::domain::audit::parse_head(&e)).transpose()?;
            let report = sync_server::domain::audit::verify(state.store.as_ref(), expect.as_ref())?;
            println!("{} entries", report.entries);
            if let Some(h) = &report.head {
                println!("head {}:{}", h.seq, h.hash);
            }
            for p in &report.problems {
                println!("{p}");
            }
            if !report.problems.is_empty() {
                return Err(format!("audit log does not verify: {} problem(s)", report.problems.len()).into());
            }
            println!("audit log verifies");
        }
        Command::Seed { demo, seed, if_empty } => {
            if !demo {
                return Err("nothing to seed: pass --demo".into());
            }
            let st = state.clone();
            tokio::task::spawn_blocking(move || -> Result<(), String> {
                if if_empty && seed::is_seeded(st.store.as_ref()).map_err(|e| e.to_string())? {
                    println!("database already holds data; demo seed skipped");
                    println!("{}", seed::credentials_text());
                    return Ok(());
                }
                run_seed(&st, seed)
            })
            .await??;
        }
        Command::Serve { demo } => {
            if demo {
                let st = state.clone();
                let seeded = tokio::task::spawn_blocking(move || -> Result<bool, String> {
                    if seed::is_seeded(st.store.as_ref()).map_err(|e| e.to_string())? {
                        return Ok(false);
                    }
                    run_seed(&st, 2026)?;
                    Ok(true)
                })
                .await??;
                if !seeded {
                    println!("database already holds data; demo seed skipped");
                    println!("{}", seed::credentials_text());
                }
            }
            let listener = tokio::net::TcpListener::bind(listen).await?;
            tracing::info!(addr = %listener.local_addr()?, "listening");
            match sync_server::api::console::Source::of(&state.config) {
                sync_server::api::console::Source::Embedded => tracing::info!(
                    files = sync_server::api::console::embedded_files(),
                    "console: the copy built into this binary"
                ),
                sync_server::api::console::Source::Dir(dir) => {
                    tracing::info!(dir = %dir.display(), "console: served from a directory")
                }
            }
            println!("sync-server listening on http://{}", listener.local_addr()?);
            sync_server::serve(state, listener).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped systemd unit's command line is one this binary accepts, and the sample
    /// configuration it points at loads.
    #[test]
    fn the_systemd_unit_and_sample_configuration_are_valid() {
        let unit = include_str!("../deploy/qingliu-sync.service");
        let exec = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("ExecStart");
        let cli = Cli::try_parse_from(exec.split_whitespace()).expect("the unit's command line parses");
        assert!(matches!(cli.command, Command::Serve { demo: false }));
        assert_eq!(cli.config.as_deref(), Some(std::path::Path::new("/etc/qingliu/qingliu.toml")));
        let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/qingliu.toml");
        let cfg = Config::load(Some(&sample)).expect("the sample configuration loads");
        assert!(cfg.metrics);
        assert_eq!(cfg.data_dir, std::path::Path::new("/var/lib/qingliu"));
        assert!(unit.contains(&format!("ReadWritePaths={}", cfg.data_dir.display())));
    }
}
