//! A real GeoClue for the real webview. WebKitGTK answers `navigator.geolocation` from GeoClue
//! over the D-Bus system bus; this harness runs all of it privately: a D-Bus bus of its own,
//! GeoClue 2 reading an NMEA stream from a Unix socket that the harness serves (a receiver
//! parked at a fixed position, one epoch a second), and GeoClue's demo agent (GeoClue 2.6 will
//! not serve a client while no agent is registered). Nothing on the host changes: GeoClue runs
//! in a mount namespace of its own, where its configuration file is bind-mounted from a
//! temporary directory. Needs root (for the namespace), as CI and the test machines run.

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use shared::geo::LngLat;

use crate::process::Proc;

pub const GEOCLUE: &str = "/usr/libexec/geoclue";
pub const DEMO_AGENT: &str = "/usr/libexec/geoclue-2.0/demos/agent";

pub struct GeoClue {
    dir: tempfile::TempDir,
    // Dropped (killed) before the directory goes.
    procs: Vec<Proc>,
    stop: Arc<AtomicBool>,
    /// For `DBUS_SYSTEM_BUS_ADDRESS` of the app under test.
    pub bus_address: String,
}

impl Drop for GeoClue {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.procs.clear();
    }
}

fn nmea(body: &str) -> String {
    format!("${body}*{:02X}\r\n", body.bytes().fold(0u8, |a, b| a ^ b))
}

/// `ddmm.mmmmm` / `dddmm.mmmmm`.
fn ddmm(v: f64, deg_digits: usize) -> String {
    let d = v.abs().trunc();
    let m = (v.abs() - d) * 60.0;
    format!("{:0w$}{:08.5}", d as u32, m, w = deg_digits)
}

/// One epoch of a fix at `at` now: GGA (quality 1, ten satellites, `hdop`) and RMC.
pub fn epoch(at: LngLat, hdop: f64) -> String {
    let t = time::OffsetDateTime::now_utc();
    let hms = format!("{:02}{:02}{:02}.00", t.hour(), t.minute(), t.second());
    let date = format!("{:02}{:02}{:02}", t.day(), u8::from(t.month()), t.year() % 100);
    let (lat, ns) = (ddmm(at.lat(), 2), if at.lat() >= 0.0 { "N" } else { "S" });
    let (lng, ew) = (ddmm(at.lng(), 3), if at.lng() >= 0.0 { "E" } else { "W" });
    nmea(&format!("GPGGA,{hms},{lat},{ns},{lng},{ew},1,10,{hdop:.1},25.0,M,-10.0,M,,"))
        + &nmea(&format!("GPRMC,{hms},A,{lat},{ns},{lng},{ew},0.0,,{date},,,A"))
}

fn wait_for(what: &str, secs: u64, log: &Path, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        if Instant::now() > deadline {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{what} did not happen; GeoClue's log:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl GeoClue {
    /// GeoClue serving `at` to the desktop ids in `apps` (others would need the agent's consent).
    pub fn start(at: LngLat, hdop: f64, apps: &[&str]) -> GeoClue {
        for bin in [GEOCLUE, DEMO_AGENT] {
            assert!(Path::new(bin).exists(), "{bin} missing (apt install geoclue-2.0 geoclue-2-demo)");
        }
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        let bus = p("bus");
        std::fs::write(
            p("bus.conf"),
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/>
    <allow send_type="method_call"/><allow send_type="signal"/>
    <allow send_type="method_return"/><allow send_type="error"/>
    <allow receive_type="method_call"/><allow receive_type="signal"/>
    <allow receive_type="method_return"/><allow receive_type="error"/>
  </policy>
</busconfig>
"#,
                bus.display()
            ),
        )
        .unwrap();
        let socket = p("gnss.sock");
        let mut conf = format!(
            "[agent]\nwhitelist=geoclue-demo-agent\n[network-nmea]\nenable=true\nnmea-socket={}\n\
             [3g]\nenable=false\n[cdma]\nenable=false\n[modem-gps]\nenable=false\n[wifi]\nenable=false\n\
             [compass]\nenable=false\n",
            socket.display()
        );
        for app in apps {
            conf += &format!("[{app}]\nallowed=true\nsystem=false\nusers=\n");
        }
        std::fs::write(p("geoclue.conf"), conf).unwrap();

        let mut procs = Vec::new();
        // GLib writes debug messages to stdout and warnings to stderr: both go to the log.
        let spawn = |cmd: &mut Command, log: &PathBuf| {
            let out = std::fs::File::create(log).unwrap();
            let err = out.try_clone().unwrap();
            Proc(cmd.stdout(out).stderr(err).spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}")))
        };
        procs.push(spawn(
            Command::new("dbus-daemon").args(["--nofork", "--nopidfile", "--config-file"]).arg(p("bus.conf")),
            &p("dbus.log"),
        ));
        wait_for("the private bus", 10, &p("dbus.log"), || bus.exists());
        let bus_address = format!("unix:path={}", bus.display());

        // The receiver: one epoch a second to whoever connects, until the harness ends.
        let stop = Arc::new(AtomicBool::new(false));
        let listener = UnixListener::bind(&socket).unwrap();
        listener.set_nonblocking(true).unwrap();
        let flag = stop.clone();
        std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let flag = flag.clone();
                        std::thread::spawn(move || {
                            while !flag.load(Ordering::SeqCst)
                                && s.write_all(epoch(at, hdop).as_bytes()).is_ok()
                            {
                                std::thread::sleep(Duration::from_secs(1));
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });

        let geoclue_log = p("geoclue.log");
        let script = format!(
            "mount --bind '{}' /etc/geoclue/geoclue.conf && exec {GEOCLUE}",
            p("geoclue.conf").display()
        );
        procs.push(spawn(
            Command::new("unshare")
                .args(["-m", "sh", "-c", &script])
                .env("DBUS_SYSTEM_BUS_ADDRESS", &bus_address)
                .env("G_MESSAGES_DEBUG", "all"),
            &geoclue_log,
        ));
        let logged = |needle: &str| {
            let log = geoclue_log.clone();
            let needle = needle.to_string();
            move || std::fs::read_to_string(&log).is_ok_and(|t| t.contains(&needle))
        };
        wait_for("GeoClue's start", 20, &geoclue_log, logged("GClueNMEASource"));
        procs.push(spawn(
            Command::new(DEMO_AGENT).env("DBUS_SYSTEM_BUS_ADDRESS", &bus_address),
            &p("agent.log"),
        ));
        wait_for("the agent's registration", 20, &geoclue_log, logged("New agent for user"));
        GeoClue { dir, procs, stop, bus_address }
    }

    /// What GeoClue logged so far (which client asked, with which desktop id, what it got).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("geoclue.log")).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_are_valid_nmea() {
        let e = epoch(LngLat::new(114.871, 30.451), 1.5);
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("$GPGGA,") && lines[0].contains(",3027.06000,N,11452.26000,E,1,10,1.5,")
        );
        for l in lines {
            let (body, sum) = l[1..].split_once('*').unwrap();
            assert_eq!(u8::from_str_radix(sum, 16).unwrap(), body.bytes().fold(0u8, |a, b| a ^ b));
        }
    }
}
