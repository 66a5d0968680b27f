//! The position service: one capture at a time, fed by whichever source the device is set to.
//! The device's own location service arrives through `feed` (the webview's geolocation on the
//! desktop, the geolocation plugin on mobile); an external receiver is read here, on a thread of
//! its own that runs only while a capture does, so the radio link and the CPU rest in between.

pub mod nmea;
pub mod receiver;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use shared::ErrorCode;
use shared::position::{Capture, CaptureMode, CaptureStatus, Fix, PositionSettings, SourceConfig};

use crate::error::{CoreError, CoreResult};

type Release = Box<dyn FnOnce() + Send>;

struct Running {
    capture: Capture,
    /// Set to end the receiver thread of this capture.
    stop: Option<Arc<AtomicBool>>,
    /// Run once when the capture ends: whatever started a platform source stops it here.
    release: Vec<Release>,
}

impl Running {
    /// Lets go of the source once the capture has ended.
    fn release_if_finished(&mut self) {
        if !self.capture.phase().is_finished() {
            return;
        }
        if let Some(stop) = self.stop.take() {
            stop.store(true, Ordering::SeqCst);
        }
        for f in self.release.drain(..) {
            f();
        }
    }
}

#[derive(Default)]
struct Inner {
    current: Option<Running>,
}

/// Cloning shares the service.
#[derive(Clone)]
pub struct PositionService {
    inner: Arc<Mutex<Inner>>,
    epoch: Instant,
}

impl Default for PositionService {
    fn default() -> Self {
        PositionService { inner: Arc::default(), epoch: Instant::now() }
    }
}

impl PositionService {
    pub fn new() -> Self {
        Self::default()
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a capture with the device's settings, `mode` overriding theirs; ends any capture
    /// still running.
    pub fn start(&self, settings: &PositionSettings, mode: Option<CaptureMode>) -> CoreResult<CaptureStatus> {
        let errors = settings.validate();
        if !errors.is_empty() {
            return Err(CoreError::validation(errors));
        }
        self.stop();
        let mut capture_settings = settings.capture.clone();
        if let Some(m) = mode {
            capture_settings.mode = m;
        }
        let now = self.now_ms();
        let capture = Capture::new(capture_settings, settings.source.position_source(), now);
        let stop = (settings.source != SourceConfig::Device).then(|| Arc::new(AtomicBool::new(false)));
        let status = capture.status(now);
        // The capture is in place before its reader starts, so the reader's first fix has
        // somewhere to go.
        self.lock().current = Some(Running { capture, stop: stop.clone(), release: Vec::new() });
        if let Some(flag) = stop {
            let svc = self.clone();
            let cfg = settings.source.clone();
            let spawned = std::thread::Builder::new()
                .name("gnss-receiver".into())
                .spawn(move || receiver::run(&cfg, &flag, &mut |ev| svc.on_receiver_event(&flag, ev)));
            if let Err(e) = spawned {
                self.stop();
                return Err(CoreError::internal(format!("无法启动接收机线程：{e}")));
            }
        }
        Ok(status)
    }

    /// Runs `release` when the current capture ends (at once if it already has).
    pub fn on_end(&self, release: impl FnOnce() + Send + 'static) {
        let mut inner = self.lock();
        match inner.current.as_mut() {
            Some(r) => {
                r.release.push(Box::new(release));
                r.release_if_finished();
            }
            None => release(),
        }
    }

    /// A fix from the device's own location service.
    pub fn feed(&self, fix: Fix) -> CoreResult<CaptureStatus> {
        let now = self.now_ms();
        self.with_running(|r| {
            if r.stop.is_some() {
                return Err(CoreError::new(ErrorCode::Conflict, "当前定位来源为外接接收机"));
            }
            r.capture.feed(fix, now);
            r.release_if_finished();
            Ok(())
        })
    }

    /// The device's location service reported a problem (permission denied, unavailable).
    pub fn report_error(&self, message: &str) -> CoreResult<CaptureStatus> {
        let message: String = message.chars().take(200).collect();
        self.with_running(|r| {
            r.capture.source_error(message);
            Ok(())
        })
    }

    /// The capture's state; a capture that has ended releases its receiver.
    pub fn status(&self) -> Option<CaptureStatus> {
        self.update(|c, now| c.tick(now))
    }

    /// Cancels the capture (the form closed, or the user stopped it) and releases the source.
    pub fn stop(&self) -> Option<CaptureStatus> {
        self.update(|c, now| c.cancel(now))
    }

    fn update(&self, f: impl FnOnce(&mut Capture, u64)) -> Option<CaptureStatus> {
        let now = self.now_ms();
        let mut inner = self.lock();
        let r = inner.current.as_mut()?;
        f(&mut r.capture, now);
        r.release_if_finished();
        Some(r.capture.status(now))
    }

    /// Whether a receiver thread is meant to be running (for tests and the status line).
    pub fn receiver_active(&self) -> bool {
        self.lock().current.as_ref().is_some_and(|r| r.stop.is_some())
    }

    fn with_running(&self, f: impl FnOnce(&mut Running) -> CoreResult<()>) -> CoreResult<CaptureStatus> {
        let now = self.now_ms();
        let mut inner = self.lock();
        let r = inner
            .current
            .as_mut()
            .ok_or_else(|| CoreError::new(ErrorCode::Conflict, "没有正在进行的定位"))?;
        f(r)?;
        Ok(r.capture.status(now))
    }

    /// Events of a receiver thread; those of a thread whose capture was replaced are dropped.
    /// Answers whether the thread should go on.
    fn on_receiver_event(&self, flag: &Arc<AtomicBool>, ev: receiver::Event) -> bool {
        let now = self.now_ms();
        let mut inner = self.lock();
        let Some(r) =
            inner.current.as_mut().filter(|r| r.stop.as_ref().is_some_and(|s| Arc::ptr_eq(s, flag)))
        else {
            return false;
        };
        match ev {
            receiver::Event::Fix(fix) => r.capture.feed(fix, now),
            receiver::Event::NoFix { satellites } => {
                r.capture.tick(now);
                r.capture.source_error(match satellites {
                    Some(n) => format!("接收机尚未定位（可见卫星 {n} 颗）"),
                    None => "接收机尚未定位".into(),
                });
            }
            receiver::Event::Error(msg) => {
                r.capture.tick(now);
                r.capture.source_error(msg);
            }
        }
        r.release_if_finished();
        !flag.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::nmea::{NmeaEvent, decode_all};
    use shared::geo::{LngLat, distance_m};
    use shared::position::{CaptureMode, CapturePhase, CaptureSettings};
    use shared::{inspection::PositionSource, position::Capture};

    const GOOD: &str = include_str!("../../testdata/nmea/good.nmea");
    const DEGRADED: &str = include_str!("../../testdata/nmea/degraded.nmea");
    const NOFIX: &str = include_str!("../../testdata/nmea/nofix.nmea");
    const JUMP: &str = include_str!("../../testdata/nmea/jump.nmea");
    const SITE: (f64, f64) = (114.871, 30.451);

    /// Plays a recorded stream at one epoch a second into a capture.
    fn play(text: &str, mode: CaptureMode) -> shared::position::CaptureStatus {
        let settings = CaptureSettings {
            mode,
            accept_accuracy_m: 10.0,
            average_fixes: 10,
            average_seconds: 30,
            timeout_seconds: 20,
        };
        let mut c = Capture::new(settings, PositionSource::Receiver, 0);
        let (events, _) = decode_all(text);
        for (n, e) in events.into_iter().enumerate() {
            let now = n as u64 * 1000;
            match e {
                NmeaEvent::Fix(f) => c.feed(f, now),
                NmeaEvent::NoFix { .. } => c.source_error("no fix"),
            }
        }
        c.tick(60_000);
        c.status(60_000)
    }

    #[test]
    fn recorded_streams_decode_exactly() {
        let (ev, rejected) = decode_all(GOOD);
        assert_eq!((ev.len(), rejected), (12, 1), "12 epochs; one line with a broken checksum");
        assert!(ev.iter().all(
            |e| matches!(e, NmeaEvent::Fix(f) if f.accuracy_m == Some(2.0) && f.satellites == Some(14))
        ));
        let (ev, rejected) = decode_all(DEGRADED);
        assert_eq!((ev.len(), rejected), (12, 0));
        let acc: Vec<f64> = ev
            .iter()
            .map(|e| match e {
                NmeaEvent::Fix(f) => (f.accuracy_m.unwrap() * 10.0).round() / 10.0,
                NmeaEvent::NoFix { .. } => panic!("degraded is still a fix"),
            })
            .collect();
        assert_eq!(&acc[..3], &[20.0, 22.8, 25.6]);
        let (ev, _) = decode_all(NOFIX);
        assert_eq!(ev, vec![NmeaEvent::NoFix { satellites: Some(3) }; 12]);
        assert_eq!(decode_all(JUMP).0.len(), 10);
    }

    #[test]
    fn good_stream_single_and_average() {
        let s = play(GOOD, CaptureMode::Single);
        assert_eq!((s.phase, s.fixes_seen), (CapturePhase::Done, 1));
        let p = s.position.unwrap();
        assert_eq!((p.accuracy_m, p.fix_count, p.satellites, p.hdop), (Some(2.0), 1, Some(14), Some(0.7)));
        assert_eq!(p.fix_time, Some(time::macros::datetime!(2026-12-02 01:30:00 UTC)));
        let s = play(GOOD, CaptureMode::Average);
        assert_eq!((s.phase, s.fixes_used, s.outliers), (CapturePhase::Done, 10, 0));
        let p = s.position.unwrap();
        // The first ten epochs jitter symmetrically about the site: the mean is the site.
        assert!(distance_m(p.point, LngLat::new(SITE.0, SITE.1)) < 0.05, "{:?}", p.point);
        assert_eq!((p.accuracy_m, p.fix_count, p.source), (Some(2.0), 10, PositionSource::Receiver));
    }

    #[test]
    fn degraded_stream_times_out_with_its_best_fix() {
        let s = play(DEGRADED, CaptureMode::Average);
        assert_eq!((s.phase, s.fixes_seen, s.fixes_used), (CapturePhase::TimedOut, 12, 1));
        let p = s.position.unwrap();
        assert!(p.timed_out);
        assert_eq!(p.accuracy_m, Some(20.0));
        assert!(distance_m(p.point, LngLat::new(SITE.0, SITE.1 - 0.00015)) < 0.05);
    }

    #[test]
    fn no_fix_stream_ends_without_a_position() {
        let s = play(NOFIX, CaptureMode::Single);
        assert_eq!((s.phase, s.fixes_seen, s.position), (CapturePhase::NoFix, 0, None));
    }

    #[test]
    fn jump_is_left_out_of_the_average() {
        let s = play(JUMP, CaptureMode::Average);
        assert_eq!((s.phase, s.fixes_seen, s.fixes_used, s.outliers), (CapturePhase::Done, 10, 9, 1));
        let p = s.position.unwrap();
        // Without the jumped epoch (lng offsets sum to +1 × 0.00001° over nine fixes).
        let expected = LngLat::new(SITE.0 + 0.00001 / 9.0, SITE.1);
        assert!(distance_m(p.point, expected) < 0.05, "{:?}", p.point);
        assert_eq!(p.accuracy_m, Some(2.0));
    }
}
