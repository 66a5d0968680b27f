//! The scale-out deployment as the tests run it: several `sync-server` processes (the
//! `test-server` binary) sharing one test server's PostgreSQL database and S3 prefix, behind a
//! real HAProxy. Each process can be killed (SIGKILL: no shutdown, connections reset) and
//! started again on its port, one at a time, while the others keep serving.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::TestServer;
use crate::balancer::Balancer;
use crate::process::{Proc, free_listening_port};

struct Instance {
    addr: SocketAddr,
    proc: Option<Proc>,
}

pub struct Cluster {
    bin: PathBuf,
    data_dir: PathBuf,
    database: String,
    prefix: String,
    instances: Vec<Instance>,
    pub balancer: Balancer,
}

impl Cluster {
    /// `n` server processes (`bin` is the `test-server` binary) on `owner`'s database and photo
    /// prefix, behind HAProxy. The owner must run on PostgreSQL with photos in S3: servers that
    /// share a SQLite file and a blob directory are not the deployment this stands for.
    pub async fn start(bin: &Path, owner: &TestServer, n: usize) -> Result<Cluster, String> {
        let database = owner.state.config.database_url.clone().ok_or("the cluster needs PostgreSQL")?;
        let prefix = owner.blob_prefix().ok_or("the cluster needs an S3-compatible photo store")?;
        let mut instances = Vec::new();
        for _ in 0..n {
            let addr = format!("127.0.0.1:{}", free_listening_port()).parse().map_err(|e| format!("{e}"))?;
            instances.push(Instance { addr, proc: None });
        }
        let addrs: Vec<SocketAddr> = instances.iter().map(|i| i.addr).collect();
        let mut procs = Vec::new();
        for addr in &addrs {
            procs.push(spawn(bin, &owner.state.config.data_dir, *addr, &database, &prefix).await?);
        }
        for (i, p) in instances.iter_mut().zip(procs) {
            i.proc = Some(p);
        }
        let balancer = Balancer::start(&addrs).await?;
        Ok(Cluster {
            bin: bin.to_path_buf(),
            data_dir: owner.state.config.data_dir.clone(),
            database,
            prefix,
            instances,
            balancer,
        })
    }

    pub fn len(&self) -> usize {
        self.instances.len()
    }

    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    pub fn is_up(&self, k: usize) -> bool {
        self.instances[k].proc.is_some()
    }

    /// Start instance `k` on its port; returns once it accepts connections.
    pub async fn start_instance(&mut self, k: usize) -> Result<(), String> {
        let proc =
            spawn(&self.bin, &self.data_dir, self.instances[k].addr, &self.database, &self.prefix).await?;
        self.instances[k].proc = Some(proc);
        Ok(())
    }

    /// SIGKILL instance `k`.
    pub fn kill(&mut self, k: usize) {
        self.instances[k].proc = None;
    }
}

async fn spawn(
    bin: &Path,
    data_dir: &Path,
    addr: SocketAddr,
    database: &str,
    prefix: &str,
) -> Result<Proc, String> {
    // What a server says before dying is kept (per port, replaced at each start) for the error.
    let log = std::env::temp_dir().join(format!("qingliu-cluster-{}.log", addr.port()));
    let stderr = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let mut child = Command::new(bin)
        .arg(data_dir)
        .arg(addr.to_string())
        .arg(database)
        .arg(prefix)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("start {}: {e}", bin.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let proc = Proc(child);
    // Its first line says it is accepting connections (or it died: an empty line).
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    if !line.starts_with("listening") {
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = said.lines().rev().take(5).collect();
        return Err(format!("server on {addr} did not start: {line:?}; it said {tail:?}"));
    }
    let _ = std::fs::remove_file(&log);
    Ok(proc)
}
