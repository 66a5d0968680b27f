//! A real HAProxy (the Debian package) in front of several sync-servers, configured as
//! `scripts/run-cluster.sh` configures it: round robin, health checks on `/readyz`, and only a
//! request that never reached a server (connection refused) sent on to another one, so the
//! balancer never replays a push; a tablet's own retry is what makes it exactly-once.
//! Health checks are tighter here (100 ms, one failure) so a killed server leaves the rotation
//! within a step of the tests.

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use crate::process::{Proc, free_port, wait_until};

pub struct Balancer {
    pub addr: SocketAddr,
    _proc: Proc,
    _dir: tempfile::TempDir,
}

impl Balancer {
    /// Start HAProxy on a free port in front of `servers`; waits until it answers `/healthz`
    /// through at least one of them.
    pub async fn start(servers: &[SocketAddr]) -> Result<Balancer, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().map_err(|e| format!("{e}"))?;
        let backends: String = servers
            .iter()
            .enumerate()
            .map(|(n, s)| format!("  server s{n} {s} check inter 100ms fall 1 rise 1\n"))
            .collect();
        let cfg = format!(
            "global\n  maxconn 1024\n\
             defaults\n  mode http\n  timeout connect 2s\n  timeout client 120s\n  timeout server 120s\n  \
             retries 2\n  option redispatch\n  option httpchk GET /readyz\n\
             frontend qingliu\n  bind {addr}\n  default_backend sync_servers\n\
             backend sync_servers\n  balance roundrobin\n{backends}"
        );
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, cfg).map_err(|e| e.to_string())?;
        let child = Command::new("haproxy")
            .arg("-f")
            .arg(&path)
            .arg("-db")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("start haproxy (apt install haproxy): {e}"))?;
        let proc = Proc(child);
        let url = format!("http://{addr}/healthz");
        let http = reqwest::Client::new();
        wait_until(30, "haproxy answers /healthz", || {
            let (http, url) = (http.clone(), url.clone());
            async move { http.get(&url).send().await.is_ok_and(|r| r.status().is_success()) }
        })
        .await;
        Ok(Balancer { addr, _proc: proc, _dir: dir })
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}
