//! Capturing a record's position from a live source (the tablet's location service or an
//! external GNSS receiver): fixes are gated by their accuracy, and the capture either accepts
//! the first good fix or averages several, and gives up after a timeout with the best fix it
//! saw, saying so. Pure: the caller feeds fixes and a monotonic clock in milliseconds, so the
//! app core, the webview and the tests drive the same state machine.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{ErrorCode, FieldError};
use crate::geo::{LngLat, distance_m};
use crate::inspection::{Position, PositionSource};

/// Where live positions come from on this device.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceConfig {
    /// The tablet's own location service.
    #[default]
    Device,
    /// An external receiver streaming NMEA 0183 over TCP (`host:port`), as survey receivers and
    /// Bluetooth-to-Wi-Fi bridges offer.
    ReceiverTcp { address: String },
    /// An external receiver on a serial port (USB, or Bluetooth serial as `/dev/rfcomm0`).
    ReceiverSerial { path: String, baud: u32 },
}

impl SourceConfig {
    pub fn position_source(&self) -> PositionSource {
        match self {
            SourceConfig::Device => PositionSource::Gps,
            SourceConfig::ReceiverTcp { .. } | SourceConfig::ReceiverSerial { .. } => {
                PositionSource::Receiver
            }
        }
    }
}

/// Baud rates NMEA receivers use.
pub const BAUD_RATES: [u32; 7] = [4800, 9600, 19200, 38400, 57600, 115200, 230400];

/// The device's position settings: the source and how a capture runs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PositionSettings {
    pub source: SourceConfig,
    pub capture: CaptureSettings,
}

impl PositionSettings {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut e = FieldError::nested("capture", self.capture.validate());
        match &self.source {
            SourceConfig::Device => {}
            SourceConfig::ReceiverTcp { address } => {
                let ok = address.len() <= 255
                    && address.rsplit_once(':').is_some_and(|(host, port)| {
                        !host.is_empty()
                            && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
                            && port.parse::<u16>().is_ok_and(|p| p > 0)
                    });
                if !ok {
                    e.push(FieldError::new("source.address", ErrorCode::InvalidFormat, "应为 主机:端口"));
                }
            }
            SourceConfig::ReceiverSerial { path, baud } => {
                if !is_serial_device_path(path) {
                    e.push(FieldError::new(
                        "source.path",
                        ErrorCode::InvalidFormat,
                        "应为串口设备，如 /dev/ttyUSB0 或 /dev/rfcomm0",
                    ));
                }
                if !BAUD_RATES.contains(baud) {
                    e.push(FieldError::new("source.baud", ErrorCode::InvalidValue, "不支持的波特率"));
                }
            }
        }
        e
    }
}

/// Only serial device nodes: the app opens this path, so it must not name anything else.
pub fn is_serial_device_path(path: &str) -> bool {
    let Some(name) = path.strip_prefix("/dev/") else { return false };
    let allowed_prefix = ["tty", "rfcomm", "cu.", "serial/by-id/"].iter().any(|p| name.starts_with(p));
    allowed_prefix
        && name.len() <= 128
        && !name.split('/').any(|part| part.is_empty() || part == "." || part == "..")
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-:/".contains(c))
}

/// One fix as a source reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    /// WGS-84.
    pub point: LngLat,
    /// Horizontal accuracy in metres (95 % radius); `None` when the source gives no estimate.
    #[serde(default)]
    pub accuracy_m: Option<f64>,
    /// The platform reported a mock location.
    #[serde(default)]
    pub mock: bool,
    #[serde(default)]
    pub satellites: Option<u8>,
    #[serde(default)]
    pub hdop: Option<f64>,
    /// When the fix was taken, by the source's clock (UTC).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub time: Option<OffsetDateTime>,
}

impl Fix {
    pub fn new(point: LngLat, accuracy_m: Option<f64>) -> Self {
        Fix { point, accuracy_m, mock: false, satellites: None, hdop: None, time: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMode {
    /// Take the first fix at least as good as the threshold.
    Single,
    /// Average good fixes until `average_fixes` are in or `average_seconds` have passed.
    Average,
}

/// How a capture runs. Stored in the app's settings; data, not constants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptureSettings {
    pub mode: CaptureMode,
    /// A fix is good when its accuracy (m) is at most this.
    pub accept_accuracy_m: f64,
    /// Averaging ends when this many good fixes are in…
    pub average_fixes: u32,
    /// …or this many seconds after the first good fix, whichever comes first.
    pub average_seconds: u32,
    /// Without a good fix by then, the capture falls back to the best fix it saw.
    pub timeout_seconds: u32,
}

impl Default for CaptureSettings {
    fn default() -> Self {
        CaptureSettings {
            mode: CaptureMode::Single,
            accept_accuracy_m: 10.0,
            average_fixes: 10,
            average_seconds: 20,
            timeout_seconds: 60,
        }
    }
}

impl CaptureSettings {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut e = Vec::new();
        if !self.accept_accuracy_m.is_finite() || !(0.5..=1000.0).contains(&self.accept_accuracy_m) {
            e.push(FieldError::new("accept_accuracy_m", ErrorCode::OutOfRange, "应在 0.5 到 1000 米之间"));
        }
        if !(1..=600).contains(&self.average_fixes) {
            e.push(FieldError::new("average_fixes", ErrorCode::OutOfRange, "应在 1 到 600 之间"));
        }
        if !(1..=600).contains(&self.average_seconds) {
            e.push(FieldError::new("average_seconds", ErrorCode::OutOfRange, "应在 1 到 600 秒之间"));
        }
        if !(5..=1800).contains(&self.timeout_seconds) {
            e.push(FieldError::new("timeout_seconds", ErrorCode::OutOfRange, "应在 5 到 1800 秒之间"));
        }
        e
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapturePhase {
    /// No good fix yet.
    Waiting,
    /// Good fixes are being averaged.
    Averaging,
    /// A position meeting the threshold.
    Done,
    /// Time ran out; `position` is the best fix seen (marked `timed_out`).
    TimedOut,
    /// Time ran out without any fix: the inspector types the position, with a reason.
    NoFix,
    /// Stopped by the user or because the form closed.
    Cancelled,
}

impl CapturePhase {
    pub fn is_finished(self) -> bool {
        !matches!(self, CapturePhase::Waiting | CapturePhase::Averaging)
    }
}

/// What the form shows while waiting, and the outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptureStatus {
    pub phase: CapturePhase,
    pub source: PositionSource,
    pub mode: CaptureMode,
    pub accept_accuracy_m: f64,
    /// Fixes received, good or not.
    pub fixes_seen: u32,
    /// Good fixes in the average so far (or in the result).
    pub fixes_used: u32,
    /// Good fixes left out of the average as outliers.
    pub outliers: u32,
    pub last_accuracy_m: Option<f64>,
    pub best_accuracy_m: Option<f64>,
    pub elapsed_ms: u64,
    /// Until the capture ends by itself (timeout, or the end of the averaging window).
    pub remaining_ms: u64,
    pub position: Option<Position>,
    /// What the source reported as wrong (receiver unreachable, permission denied), if anything.
    #[serde(default)]
    pub source_error: Option<String>,
}

/// The answer to starting a capture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptureStart {
    pub status: CaptureStatus,
    /// The webview is to feed fixes from its own geolocation (the desktop); otherwise the core
    /// reads the source itself (a receiver, or the platform plugin on Android and iOS).
    pub webview_source: bool,
}

/// A good fix farther than this many times the median accuracy from the median point is an
/// outlier (a multipath jump), left out of the average.
pub const OUTLIER_FACTOR: f64 = 3.0;

#[derive(Debug, Clone)]
pub struct Capture {
    settings: CaptureSettings,
    source: PositionSource,
    started_ms: u64,
    fixes_seen: u32,
    mock_seen: bool,
    good: Vec<Fix>,
    averaging_since: Option<u64>,
    best: Option<Fix>,
    last: Option<Fix>,
    phase: CapturePhase,
    result: Option<Position>,
    used: u32,
    outliers: u32,
    ended_ms: Option<u64>,
    source_error: Option<String>,
}

impl Capture {
    pub fn new(settings: CaptureSettings, source: PositionSource, now_ms: u64) -> Self {
        Capture {
            settings,
            source,
            started_ms: now_ms,
            fixes_seen: 0,
            mock_seen: false,
            good: Vec::new(),
            averaging_since: None,
            best: None,
            last: None,
            phase: CapturePhase::Waiting,
            result: None,
            used: 0,
            outliers: 0,
            ended_ms: None,
            source_error: None,
        }
    }

    pub fn phase(&self) -> CapturePhase {
        self.phase
    }

    /// The source reported a problem; the capture goes on until its timeout (a receiver may come
    /// back, a permission may be granted), and the status shows the message meanwhile.
    pub fn source_error(&mut self, message: impl Into<String>) {
        if !self.phase.is_finished() {
            self.source_error = Some(message.into());
        }
    }

    pub fn feed(&mut self, fix: Fix, now_ms: u64) {
        self.tick(now_ms);
        if self.phase.is_finished() || !fix.point.is_valid() {
            return;
        }
        if let Some(a) = fix.accuracy_m
            && (!a.is_finite() || a < 0.0)
        {
            return;
        }
        self.source_error = None;
        self.fixes_seen += 1;
        self.mock_seen |= fix.mock;
        if better(&fix, self.best.as_ref()) {
            self.best = Some(fix.clone());
        }
        self.last = Some(fix.clone());
        let good = fix.accuracy_m.is_some_and(|a| a <= self.settings.accept_accuracy_m);
        if !good {
            return;
        }
        match self.settings.mode {
            CaptureMode::Single => {
                self.good.push(fix);
                self.finish_average(now_ms);
            }
            CaptureMode::Average => {
                self.good.push(fix);
                self.averaging_since.get_or_insert(now_ms);
                self.phase = CapturePhase::Averaging;
                if self.good.len() as u32 >= self.settings.average_fixes {
                    self.finish_average(now_ms);
                }
            }
        }
    }

    /// Ends the capture when its time is up.
    pub fn tick(&mut self, now_ms: u64) {
        if self.phase.is_finished() {
            return;
        }
        if let Some(since) = self.averaging_since
            && now_ms.saturating_sub(since) >= u64::from(self.settings.average_seconds) * 1000
        {
            self.finish_average(now_ms);
            return;
        }
        if now_ms.saturating_sub(self.started_ms) < u64::from(self.settings.timeout_seconds) * 1000 {
            return;
        }
        if !self.good.is_empty() {
            // The threshold was met; only the averaging window outlasted the timeout.
            self.finish_average(now_ms);
            return;
        }
        self.ended_ms = Some(now_ms);
        match self.best.clone() {
            Some(best) => {
                let mut p = position_of(&best, self.source, 1, best.accuracy_m);
                p.mock = self.mock_seen;
                p.timed_out = true;
                self.used = 1;
                self.result = Some(p);
                self.phase = CapturePhase::TimedOut;
            }
            None => self.phase = CapturePhase::NoFix,
        }
    }

    pub fn cancel(&mut self, now_ms: u64) {
        if !self.phase.is_finished() {
            self.phase = CapturePhase::Cancelled;
            self.ended_ms = Some(now_ms);
        }
    }

    fn finish_average(&mut self, now_ms: u64) {
        let (kept, outliers) = reject_outliers(&self.good);
        let n = kept.len();
        debug_assert!(n > 0);
        let lng = kept.iter().map(|f| f.point.lng()).sum::<f64>() / n as f64;
        let lat = kept.iter().map(|f| f.point.lat()).sum::<f64>() / n as f64;
        let mean = LngLat::new(lng, lat);
        let accuracy = averaged_accuracy(&kept, mean);
        let last = kept[n - 1];
        let mut p = position_of(last, self.source, n as u32, Some(accuracy));
        p.point = mean;
        p.mock = self.mock_seen;
        self.used = n as u32;
        self.outliers = outliers;
        self.result = Some(p);
        self.phase = CapturePhase::Done;
        self.ended_ms = Some(now_ms);
    }

    pub fn status(&self, now_ms: u64) -> CaptureStatus {
        let now = self.ended_ms.unwrap_or(now_ms);
        let elapsed_ms = now.saturating_sub(self.started_ms);
        let timeout_left = (u64::from(self.settings.timeout_seconds) * 1000).saturating_sub(elapsed_ms);
        let remaining_ms = match (self.phase.is_finished(), self.averaging_since) {
            (true, _) => 0,
            (false, Some(since)) => {
                let window = u64::from(self.settings.average_seconds) * 1000;
                window.saturating_sub(now.saturating_sub(since)).min(timeout_left.max(1))
            }
            (false, None) => timeout_left,
        };
        CaptureStatus {
            phase: self.phase,
            source: self.source,
            mode: self.settings.mode,
            accept_accuracy_m: self.settings.accept_accuracy_m,
            fixes_seen: self.fixes_seen,
            fixes_used: if self.phase.is_finished() { self.used } else { self.good.len() as u32 },
            outliers: self.outliers,
            last_accuracy_m: self.last.as_ref().and_then(|f| f.accuracy_m),
            best_accuracy_m: self.best.as_ref().and_then(|f| f.accuracy_m),
            elapsed_ms,
            remaining_ms,
            position: self.result.clone(),
            source_error: self.source_error.clone(),
        }
    }
}

/// A fix with an accuracy beats one without; a smaller accuracy beats a larger one.
fn better(f: &Fix, than: Option<&Fix>) -> bool {
    match (f.accuracy_m, than.and_then(|b| b.accuracy_m), than.is_some()) {
        (_, _, false) => true,
        (Some(a), Some(b), _) => a < b,
        (Some(_), None, _) => true,
        (None, _, _) => false,
    }
}

fn position_of(f: &Fix, source: PositionSource, fix_count: u32, accuracy_m: Option<f64>) -> Position {
    Position {
        accuracy_m,
        mock: f.mock,
        fix_count,
        satellites: f.satellites,
        hdop: f.hdop,
        fix_time: f.time,
        ..Position::new(f.point, source)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// With three or more fixes, those farther from the component-wise median point than
/// `OUTLIER_FACTOR` × the median accuracy are left out.
fn reject_outliers(fixes: &[Fix]) -> (Vec<&Fix>, u32) {
    if fixes.len() < 3 {
        return (fixes.iter().collect(), 0);
    }
    let centre = LngLat::new(
        median(fixes.iter().map(|f| f.point.lng()).collect()),
        median(fixes.iter().map(|f| f.point.lat()).collect()),
    );
    let acc = median(fixes.iter().map(|f| f.accuracy_m.unwrap_or(0.0)).collect());
    let limit = OUTLIER_FACTOR * acc;
    let kept: Vec<&Fix> = fixes.iter().filter(|f| distance_m(f.point, centre) <= limit).collect();
    if kept.is_empty() {
        return (fixes.iter().collect(), 0);
    }
    let outliers = (fixes.len() - kept.len()) as u32;
    (kept, outliers)
}

/// GNSS errors over seconds to minutes are strongly correlated, so averaging mostly removes
/// jitter and cannot be trusted to shrink the error by √n. The average claims no better than
/// the best single fix's own estimate, and when the fixes scatter more than that, the scatter
/// (RMS distance from the mean) is what it reports.
fn averaged_accuracy(kept: &[&Fix], mean: LngLat) -> f64 {
    let n = kept.len() as f64;
    let spread = (kept.iter().map(|f| distance_m(f.point, mean).powi(2)).sum::<f64>() / n).sqrt();
    let best_own = kept.iter().filter_map(|f| f.accuracy_m).fold(f64::INFINITY, f64::min);
    if best_own.is_finite() { spread.max(best_own) } else { spread }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SITE: (f64, f64) = (114.871, 30.451);

    fn fix(dlng: f64, dlat: f64, acc: f64) -> Fix {
        Fix::new(LngLat::new(SITE.0 + dlng, SITE.1 + dlat), Some(acc))
    }

    fn settings(mode: CaptureMode) -> CaptureSettings {
        CaptureSettings {
            mode,
            accept_accuracy_m: 10.0,
            average_fixes: 4,
            average_seconds: 10,
            timeout_seconds: 30,
        }
    }

    #[test]
    fn single_takes_the_first_good_fix() {
        let mut c = Capture::new(settings(CaptureMode::Single), PositionSource::Gps, 1_000);
        c.feed(fix(0.001, 0.0, 35.0), 2_000);
        let s = c.status(2_000);
        assert_eq!((s.phase, s.fixes_seen, s.last_accuracy_m), (CapturePhase::Waiting, 1, Some(35.0)));
        assert_eq!(s.remaining_ms, 29_000);
        c.feed(fix(0.0, 0.0, 8.0), 3_000);
        let s = c.status(9_000);
        assert_eq!(s.phase, CapturePhase::Done);
        let p = s.position.unwrap();
        assert_eq!((p.point, p.accuracy_m, p.fix_count), (LngLat::new(SITE.0, SITE.1), Some(8.0), 1));
        assert_eq!(p.source, PositionSource::Gps);
        assert!(!p.timed_out);
        assert_eq!(s.elapsed_ms, 2_000, "the clock stops when the capture ends");
        // Fixes after the end change nothing.
        c.feed(fix(0.01, 0.0, 1.0), 10_000);
        assert_eq!(c.status(10_000).position.unwrap().accuracy_m, Some(8.0));
    }

    #[test]
    fn average_of_good_fixes_with_its_spread() {
        let mut c = Capture::new(settings(CaptureMode::Average), PositionSource::Receiver, 0);
        c.feed(fix(0.0, 0.0, 30.0), 500); // not good: not averaged
        // Four good fixes in a square of ±0.0001° lng and ±0.0001° lat around the site.
        let d = 0.0001;
        for (n, (x, y)) in [(d, d), (-d, d), (d, -d), (-d, -d)].into_iter().enumerate() {
            assert_ne!(c.phase(), CapturePhase::Done);
            let mut f = fix(x, y, 4.0 + n as f64);
            f.satellites = Some(9);
            f.hdop = Some(0.9);
            c.feed(f, 1_000 + n as u64 * 1_000);
        }
        let s = c.status(4_000);
        assert_eq!((s.phase, s.fixes_seen, s.fixes_used, s.outliers), (CapturePhase::Done, 5, 4, 0));
        let p = s.position.unwrap();
        assert!(distance_m(p.point, LngLat::new(SITE.0, SITE.1)) < 0.01, "{:?}", p.point);
        // Every fix is the same distance from the mean: the spread is that distance, larger
        // than the best fix's own 4 m.
        let r = distance_m(LngLat::new(SITE.0 + d, SITE.1 + d), LngLat::new(SITE.0, SITE.1));
        assert!((p.accuracy_m.unwrap() - r).abs() < 0.01, "{:?} vs {r}", p.accuracy_m);
        assert!(r > 4.0);
        assert_eq!(
            (p.fix_count, p.satellites, p.hdop, p.source),
            (4, Some(9), Some(0.9), PositionSource::Receiver)
        );
    }

    #[test]
    fn averaging_claims_no_better_than_the_best_fix() {
        let mut c = Capture::new(settings(CaptureMode::Average), PositionSource::Gps, 0);
        for n in 0..4 {
            c.feed(fix(0.0, 0.0, 6.0 + n as f64), n * 100);
        }
        let p = c.status(400).position.unwrap();
        assert_eq!(p.accuracy_m, Some(6.0));
        assert_eq!(p.fix_count, 4);
    }

    #[test]
    fn the_averaging_window_ends_the_average() {
        let mut c = Capture::new(settings(CaptureMode::Average), PositionSource::Gps, 0);
        c.feed(fix(0.0, 0.0, 5.0), 1_000);
        c.feed(fix(0.0, 0.00001, 5.0), 2_000);
        let s = c.status(5_000);
        assert_eq!((s.phase, s.fixes_used, s.remaining_ms), (CapturePhase::Averaging, 2, 6_000));
        c.tick(11_000);
        let s = c.status(11_000);
        assert_eq!((s.phase, s.fixes_used), (CapturePhase::Done, 2));
        assert_eq!(s.position.unwrap().fix_count, 2);
    }

    #[test]
    fn a_jump_is_left_out_of_the_average() {
        let mut c = Capture::new(settings(CaptureMode::Average), PositionSource::Receiver, 0);
        c.feed(fix(0.0, 0.0, 3.0), 0);
        c.feed(fix(0.0, 0.00001, 3.0), 1_000);
        c.feed(fix(0.001, 0.0, 3.0), 2_000); // ~96 m east with a confident accuracy
        c.feed(fix(0.0, -0.00001, 3.0), 3_000);
        let s = c.status(3_000);
        assert_eq!((s.phase, s.fixes_used, s.outliers), (CapturePhase::Done, 3, 1));
        let p = s.position.unwrap();
        assert!(distance_m(p.point, LngLat::new(SITE.0, SITE.1)) < 0.01);
        assert_eq!(p.fix_count, 3);
    }

    #[test]
    fn timeout_falls_back_to_the_best_fix_and_says_so() {
        let mut c = Capture::new(settings(CaptureMode::Single), PositionSource::Gps, 0);
        c.feed(fix(0.0, 0.0, 40.0), 1_000);
        c.feed(Fix::new(LngLat::new(SITE.0, SITE.1), None), 2_000);
        let mut m = fix(0.0002, 0.0, 25.0);
        m.mock = true;
        c.feed(m, 3_000);
        c.feed(fix(0.0, 0.0, 60.0), 4_000);
        c.tick(29_999);
        assert_eq!(c.phase(), CapturePhase::Waiting);
        c.tick(30_000);
        let s = c.status(31_000);
        assert_eq!(
            (s.phase, s.best_accuracy_m, s.last_accuracy_m),
            (CapturePhase::TimedOut, Some(25.0), Some(60.0))
        );
        let p = s.position.unwrap();
        assert!(p.timed_out && p.mock);
        assert_eq!((p.accuracy_m, p.fix_count), (Some(25.0), 1));
        assert_eq!(p.point, LngLat::new(SITE.0 + 0.0002, SITE.1));
    }

    #[test]
    fn no_fix_at_all() {
        let mut c = Capture::new(settings(CaptureMode::Average), PositionSource::Receiver, 0);
        c.source_error("接收机无法连接");
        assert_eq!(c.status(1).source_error.as_deref(), Some("接收机无法连接"));
        c.feed(Fix::new(LngLat::new(f64::NAN, 30.0), Some(1.0)), 10);
        c.feed(fix(0.0, 0.0, -1.0), 20);
        c.tick(30_000);
        let s = c.status(30_000);
        assert_eq!((s.phase, s.fixes_seen, s.position), (CapturePhase::NoFix, 0, None));
    }

    #[test]
    fn cancel_stops_the_capture() {
        let mut c = Capture::new(settings(CaptureMode::Single), PositionSource::Gps, 0);
        c.cancel(5);
        c.feed(fix(0.0, 0.0, 1.0), 6);
        assert_eq!(c.status(6).phase, CapturePhase::Cancelled);
        assert_eq!(c.status(6).position, None);
    }

    #[test]
    fn source_settings_are_checked() {
        let ok = |source| PositionSettings { source, capture: CaptureSettings::default() }.validate();
        assert_eq!(ok(SourceConfig::Device), vec![]);
        assert_eq!(ok(SourceConfig::ReceiverTcp { address: "192.168.4.1:9001".into() }), vec![]);
        assert_eq!(ok(SourceConfig::ReceiverTcp { address: "[::1]:2947".into() }), vec![]);
        assert_eq!(ok(SourceConfig::ReceiverSerial { path: "/dev/rfcomm0".into(), baud: 9600 }), vec![]);
        assert_eq!(ok(SourceConfig::ReceiverSerial { path: "/dev/ttyUSB0".into(), baud: 115200 }), vec![]);
        for bad in ["gnss:0", "gnss", ":9000", "a b:9000", "host:99999"] {
            let e = ok(SourceConfig::ReceiverTcp { address: bad.into() });
            assert_eq!(e.len(), 1, "{bad}");
        }
        for bad in
            ["/etc/passwd", "/dev/../etc/passwd", "/dev/tty/../../x", "dev/ttyS0", "/dev/sda", "/dev/tty S0"]
        {
            let e = ok(SourceConfig::ReceiverSerial { path: bad.into(), baud: 9600 });
            assert_eq!(e.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["source.path"], "{bad}");
        }
        let e = ok(SourceConfig::ReceiverSerial { path: "/dev/ttyS0".into(), baud: 1234 });
        assert_eq!(e[0].field, "source.baud");
    }

    #[test]
    fn settings_are_checked() {
        assert_eq!(CaptureSettings::default().validate(), vec![]);
        let bad = CaptureSettings {
            mode: CaptureMode::Average,
            accept_accuracy_m: f64::NAN,
            average_fixes: 0,
            average_seconds: 601,
            timeout_seconds: 1,
        };
        let fields: Vec<_> = bad.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["accept_accuracy_m", "average_fixes", "average_seconds", "timeout_seconds"]);
    }

    fn arb_fix() -> impl Strategy<Value = Fix> {
        (-0.0005f64..0.0005, -0.0005f64..0.0005, 0.5f64..60.0, any::<bool>()).prop_map(|(x, y, a, m)| {
            let mut f = fix(x, y, a);
            f.mock = m;
            f
        })
    }

    proptest! {
        /// Whatever arrives, the capture ends by its timeout; a result is never more accurate
        /// than its best fix, lies within the fixes' bounding box, and carries the mock flag when
        /// any fix had it.
        #[test]
        fn captures_always_end_honestly(
            average in any::<bool>(),
            fixes in prop::collection::vec((arb_fix(), 0u64..3_000), 0..40),
        ) {
            let mode = if average { CaptureMode::Average } else { CaptureMode::Single };
            let mut c = Capture::new(settings(mode), PositionSource::Gps, 0);
            let mut now = 0;
            let mut seen = Vec::new();
            for (f, dt) in fixes {
                now += dt;
                c.tick(now);
                if !c.phase().is_finished() { seen.push(f.clone()); }
                c.feed(f, now);
            }
            c.tick(now.max(30_000) + 10_000);
            let s = c.status(now + 10_000);
            prop_assert!(s.phase.is_finished());
            match s.phase {
                CapturePhase::NoFix => prop_assert!(seen.is_empty()),
                CapturePhase::Done | CapturePhase::TimedOut => {
                    let p = s.position.unwrap();
                    let best = seen.iter().filter_map(|f| f.accuracy_m).fold(f64::INFINITY, f64::min);
                    prop_assert!(p.accuracy_m.unwrap() >= best - 1e-9);
                    prop_assert_eq!(p.timed_out, s.phase == CapturePhase::TimedOut);
                    prop_assert_eq!(s.phase == CapturePhase::Done, best <= 10.0);
                    prop_assert_eq!(p.mock, seen.iter().any(|f| f.mock));
                    let lo = seen.iter().map(|f| f.point.lng()).fold(f64::INFINITY, f64::min);
                    let hi = seen.iter().map(|f| f.point.lng()).fold(f64::NEG_INFINITY, f64::max);
                    prop_assert!(p.point.lng() >= lo - 1e-12 && p.point.lng() <= hi + 1e-12);
                    prop_assert!(p.fix_count >= 1 && p.fix_count <= 4);
                }
                other => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}
