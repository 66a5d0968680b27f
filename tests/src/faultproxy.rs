//! A fault-injecting TCP proxy for tests (there is no `tc netem` here): it forwards between a
//! client and the real server and, on command, cuts the link after a number of bytes sent by
//! the client or by the server, drops the answer to a matching request after the server has
//! handled it (a lost acknowledgement), delays every read, or caps the bandwidth. Faults are armed on byte counts shared by all
//! connections, so HTTP keep-alive does not hide them. It counts every byte both ways.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct State {
    /// Cut the connection carrying the client's bytes when the total crosses this.
    cut_upstream_at: Mutex<Option<u64>>,
    /// Cut the connection carrying the server's bytes when their total crosses this.
    cut_downstream_at: Mutex<Option<u64>>,
    /// Added to every relayed read, in milliseconds (latency).
    delay_ms: AtomicU64,
    /// Drop the answer to the next request whose bytes contain this.
    drop_answer_to: Mutex<Option<Vec<u8>>>,
    /// Bytes per second in each direction, 0 = unlimited.
    rate: AtomicU64,
    up: AtomicU64,
    down: AtomicU64,
    cuts: AtomicU64,
    dropped_answers: AtomicU64,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(State::default());
        let st = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let st = st.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        // Forward each write as it comes: with Nagle on, the proxy itself would
                        // hold small segments for the peer's delayed ACK (40 ms each).
                        let _ = (client.set_nodelay(true), server.set_nodelay(true));
                        relay(client, server, st).await;
                    }
                });
            }
        });
        FaultProxy { addr, state, task }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cut the link once the client has sent `n` more bytes (through any connection).
    pub fn cut_after_upstream_bytes(&self, n: u64) {
        let at = self.state.up.load(Ordering::SeqCst) + n;
        *self.state.cut_upstream_at.lock().expect("lock") = Some(at);
    }

    /// Let the next request containing `needle` reach the server, then drop its answer.
    pub fn drop_answer_to(&self, needle: &str) {
        *self.state.drop_answer_to.lock().expect("lock") = Some(needle.as_bytes().to_vec());
    }

    /// Cut the link once the server has sent `n` more bytes (an answer lost part-way).
    pub fn cut_after_downstream_bytes(&self, n: u64) {
        let at = self.state.down.load(Ordering::SeqCst) + n;
        *self.state.cut_downstream_at.lock().expect("lock") = Some(at);
    }

    /// Hold every relayed read this long (both directions).
    pub fn delay(&self, d: Duration) {
        self.state.delay_ms.store(d.as_millis() as u64, Ordering::SeqCst);
    }

    /// Disarm every fault and lift the rate cap and delay (the counters stay).
    pub fn heal(&self) {
        self.state.cut_upstream_at.lock().expect("lock").take();
        self.state.cut_downstream_at.lock().expect("lock").take();
        self.state.drop_answer_to.lock().expect("lock").take();
        self.state.rate.store(0, Ordering::SeqCst);
        self.state.delay_ms.store(0, Ordering::SeqCst);
    }

    pub fn limit_rate(&self, bytes_per_sec: u64) {
        self.state.rate.store(bytes_per_sec, Ordering::SeqCst);
    }

    pub fn upstream_bytes(&self) -> u64 {
        self.state.up.load(Ordering::SeqCst)
    }

    pub fn downstream_bytes(&self) -> u64 {
        self.state.down.load(Ordering::SeqCst)
    }

    pub fn cuts(&self) -> u64 {
        self.state.cuts.load(Ordering::SeqCst)
    }

    pub fn dropped_answers(&self) -> u64 {
        self.state.dropped_answers.load(Ordering::SeqCst)
    }
}

async fn pace(st: &State, n: usize) {
    let delay = st.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let rate = st.rate.load(Ordering::Relaxed);
    if rate > 0 {
        // Shaping, not synchronisation: hold the bytes as long as the link would.
        tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
    }
}

/// For `n` bytes arriving after `before` in one direction: how many to pass on, and whether the
/// armed cut (disarmed here) falls inside them.
fn take_cut(armed: &Mutex<Option<u64>>, before: u64, n: usize) -> (usize, bool) {
    let mut at = armed.lock().expect("lock");
    match *at {
        Some(limit) if before + n as u64 >= limit => {
            *at = None;
            ((limit - before.min(limit)) as usize, true)
        }
        _ => (n, false),
    }
}

async fn relay(client: TcpStream, server: TcpStream, st: Arc<State>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let doomed = Arc::new(AtomicBool::new(false));
    let dead = Arc::new(AtomicBool::new(false));
    let (st_up, doomed_up, dead_up) = (st.clone(), doomed.clone(), dead.clone());
    let up = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Some(needle) = st_up.drop_answer_to.lock().expect("lock").as_ref()
                && buf[..n].windows(needle.len()).any(|w| w == needle.as_slice())
            {
                doomed_up.store(true, Ordering::SeqCst);
            }
            if doomed_up.load(Ordering::SeqCst) {
                st_up.drop_answer_to.lock().expect("lock").take();
            }
            let before = st_up.up.fetch_add(n as u64, Ordering::SeqCst);
            let (send, cut) = take_cut(&st_up.cut_upstream_at, before, n);
            pace(&st_up, send).await;
            if send > 0 && sw.write_all(&buf[..send]).await.is_err() {
                break;
            }
            if cut {
                st_up.cuts.fetch_add(1, Ordering::SeqCst);
                dead_up.store(true, Ordering::SeqCst);
                break;
            }
        }
        let _ = sw.shutdown().await;
    };
    let (st_down, doomed_down, dead_down) = (st.clone(), doomed.clone(), dead.clone());
    let down = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if dead_down.load(Ordering::SeqCst) {
                break;
            }
            if doomed_down.load(Ordering::SeqCst) {
                // The server has answered, so it has committed: the client never hears of it.
                st_down.dropped_answers.fetch_add(1, Ordering::SeqCst);
                break;
            }
            let before = st_down.down.fetch_add(n as u64, Ordering::SeqCst);
            let (send, cut) = take_cut(&st_down.cut_downstream_at, before, n);
            pace(&st_down, send).await;
            if send > 0 && cw.write_all(&buf[..send]).await.is_err() {
                break;
            }
            if cut {
                st_down.cuts.fetch_add(1, Ordering::SeqCst);
                break;
            }
        }
        let _ = cw.shutdown().await;
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}
