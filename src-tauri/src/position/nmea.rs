//! NMEA 0183 from external GNSS receivers: GGA (fix quality, satellites, HDOP), RMC (status,
//! date) and GST (error estimates), from any talker (GP, GN, GL, GA, BD/GB). Sentences of one
//! epoch (one UTC time) are combined into one fix when the next epoch starts or the stream
//! ends. Lines with a bad or missing checksum are counted and dropped.

use shared::geo::LngLat;
use shared::position::Fix;
use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

/// Longest line accepted (the standard says 82 characters; proprietary sentences run longer).
pub const MAX_LINE: usize = 256;

/// What one epoch of sentences says.
#[derive(Debug, Clone, PartialEq)]
pub enum NmeaEvent {
    Fix(Fix),
    /// The receiver is talking but has no usable fix (quality 0, estimated, manual input, or
    /// RMC status V).
    NoFix {
        satellites: Option<u8>,
    },
}

#[derive(Debug, Clone, Default)]
struct Gga {
    point: Option<LngLat>,
    quality: u8,
    satellites: Option<u8>,
    hdop: Option<f64>,
}

#[derive(Debug, Clone, Default)]
struct Rmc {
    valid: bool,
    point: Option<LngLat>,
    simulated: bool,
}

#[derive(Debug, Clone, Default)]
struct Epoch {
    time: Option<String>,
    gga: Option<Gga>,
    rmc: Option<Rmc>,
    /// 1-σ latitude and longitude errors (m).
    gst: Option<(f64, f64)>,
}

impl Epoch {
    fn is_empty(&self) -> bool {
        self.gga.is_none() && self.rmc.is_none() && self.gst.is_none()
    }
}

#[derive(Debug, Default)]
pub struct NmeaDecoder {
    epoch: Epoch,
    date: Option<Date>,
    /// Lines dropped for a bad checksum, a missing one, or a malformed field.
    pub rejected: u32,
}

impl NmeaDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one line; answers the previous epoch's event when this line starts a new one.
    pub fn push_line(&mut self, line: &str) -> Option<NmeaEvent> {
        let line = line.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\0');
        if line.is_empty() {
            return None;
        }
        let Some(body) = checked_body(line) else {
            self.rejected += 1;
            return None;
        };
        let fields: Vec<&str> = body.split(',').collect();
        let kind = fields[0].get(2..).unwrap_or("");
        let parsed = match kind {
            "GGA" => parse_gga(&fields).map(|(t, g)| (t, Part::Gga(g))),
            "RMC" => parse_rmc(&fields).map(|(t, r, d)| (t, Part::Rmc(r, d))),
            "GST" => parse_gst(&fields).map(|(t, s)| (t, Part::Gst(s))),
            // Satellites in view, DOP and the like add nothing a fix needs.
            _ => return None,
        };
        let Some((time, part)) = parsed else {
            self.rejected += 1;
            return None;
        };
        let mut out = None;
        if self.epoch.time.as_deref() != Some(time.as_str()) {
            out = self.flush();
            self.epoch.time = Some(time);
        }
        match part {
            Part::Gga(g) => self.epoch.gga = Some(g),
            Part::Rmc(r, d) => {
                if let Some(d) = d {
                    self.date = Some(d);
                }
                self.epoch.rmc = Some(r);
            }
            Part::Gst(s) => self.epoch.gst = s,
        }
        out
    }

    /// The last epoch, at the end of a stream.
    pub fn finish(&mut self) -> Option<NmeaEvent> {
        self.flush()
    }

    fn flush(&mut self) -> Option<NmeaEvent> {
        let e = std::mem::take(&mut self.epoch);
        if e.is_empty() {
            return None;
        }
        let time = e.time.as_deref().and_then(parse_time);
        let when = match (self.date, time) {
            (Some(d), Some(t)) => Some(PrimitiveDateTime::new(d, t).assume_offset(UtcOffset::UTC)),
            _ => None,
        };
        let satellites = e.gga.as_ref().and_then(|g| g.satellites);
        let (point, quality, hdop, mock) = match (&e.gga, &e.rmc) {
            (Some(g), rmc) => {
                (g.point, g.quality, g.hdop, g.quality == 8 || rmc.as_ref().is_some_and(|r| r.simulated))
            }
            (None, Some(r)) if r.valid => (r.point, 1, None, r.simulated),
            _ => return Some(NmeaEvent::NoFix { satellites }),
        };
        // 0 invalid, 6 dead reckoning, 7 manual input: no position to record. 8 (simulator)
        // is a fix, reported as a mock location.
        let usable = matches!(quality, 1..=5 | 8) && e.rmc.as_ref().is_none_or(|r| r.valid);
        let Some(point) = point.filter(|_| usable) else {
            return Some(NmeaEvent::NoFix { satellites });
        };
        let accuracy_m = match (e.gst, hdop) {
            // GST's 1-σ errors → 2DRMS, about the 95 % radius the platforms report.
            (Some((slat, slon)), _) => Some(2.0 * (slat * slat + slon * slon).sqrt()),
            (None, Some(h)) => Some(2.0 * h * uere_m(quality)),
            (None, None) => None,
        };
        Some(NmeaEvent::Fix(Fix { point, accuracy_m, mock, satellites, hdop, time: when }))
    }
}

enum Part {
    Gga(Gga),
    Rmc(Rmc, Option<Date>),
    Gst(Option<(f64, f64)>),
}

/// User-equivalent range error (1 σ, m) by GGA fix quality, for an accuracy estimate from HDOP
/// when the receiver sends no GST. Rough by nature; receivers that matter send GST.
fn uere_m(quality: u8) -> f64 {
    match quality {
        2 => 1.0,  // DGPS / SBAS
        4 => 0.02, // RTK fixed
        5 => 0.3,  // RTK float
        _ => 3.0,  // autonomous, PPS, simulator
    }
}

/// The part between `$` (or `!`) and `*` when the checksum matches.
fn checked_body(line: &str) -> Option<&str> {
    if line.len() > MAX_LINE || !line.is_ascii() {
        return None;
    }
    let rest = line.strip_prefix('$').or_else(|| line.strip_prefix('!'))?;
    let (body, sum) = rest.rsplit_once('*')?;
    let want = u8::from_str_radix(sum.get(..2)?, 16).ok()?;
    let got = body.bytes().fold(0u8, |a, b| a ^ b);
    (got == want && body.len() >= 5).then_some(body)
}

fn field<'a>(f: &[&'a str], n: usize) -> &'a str {
    f.get(n).copied().unwrap_or("")
}

fn opt_num<T: std::str::FromStr>(s: &str) -> Result<Option<T>, ()> {
    if s.is_empty() { Ok(None) } else { s.parse().map(Some).map_err(|_| ()) }
}

/// `ddmm.mmmm` / `dddmm.mmmm` with its hemisphere; `Ok(None)` when both are empty.
fn coordinate(v: &str, hemi: &str, max_deg: f64) -> Result<Option<f64>, ()> {
    if v.is_empty() && hemi.is_empty() {
        return Ok(None);
    }
    let x: f64 = v.parse().map_err(|_| ())?;
    let deg = (x / 100.0).trunc();
    let min = x - deg * 100.0;
    if !(0.0..60.0).contains(&min) {
        return Err(());
    }
    let val = deg + min / 60.0;
    let signed = match hemi {
        "N" | "E" => val,
        "S" | "W" => -val,
        _ => return Err(()),
    };
    if signed.abs() > max_deg {
        return Err(());
    }
    Ok(Some(signed))
}

fn point(f: &[&str], lat_at: usize) -> Result<Option<LngLat>, ()> {
    let lat = coordinate(field(f, lat_at), field(f, lat_at + 1), 90.0)?;
    let lng = coordinate(field(f, lat_at + 2), field(f, lat_at + 3), 180.0)?;
    Ok(match (lat, lng) {
        (Some(lat), Some(lng)) => Some(LngLat::new(lng, lat)),
        _ => None,
    })
}

/// `hhmmss[.ss]`, kept as text to key the epoch.
fn time_key(s: &str) -> Option<String> {
    (s.len() >= 6 && parse_time(s).is_some()).then(|| s.to_string())
}

fn parse_time(s: &str) -> Option<Time> {
    let h: u8 = s.get(0..2)?.parse().ok()?;
    let m: u8 = s.get(2..4)?.parse().ok()?;
    let sec: f64 = s.get(4..)?.parse().ok()?;
    if !(0.0..61.0).contains(&sec) {
        return None;
    }
    let whole = sec.trunc() as u8;
    let milli = ((sec - sec.trunc()) * 1000.0).round().min(999.0) as u16;
    Time::from_hms_milli(h, m, whole.min(59), milli).ok()
}

fn parse_date(s: &str) -> Option<Date> {
    let d: u8 = s.get(0..2)?.parse().ok()?;
    let m: u8 = s.get(2..4)?.parse().ok()?;
    let y: i32 = s.get(4..6)?.parse().ok()?;
    // Two-digit years: receivers in service today report 2000–2099.
    Date::from_calendar_date(2000 + y, Month::try_from(m).ok()?, d).ok()
}

fn parse_gga(f: &[&str]) -> Option<(String, Gga)> {
    let time = time_key(field(f, 1))?;
    let point = point(f, 2).ok()?;
    let quality: u8 = opt_num(field(f, 6)).ok()?.unwrap_or(0);
    let satellites = opt_num(field(f, 7)).ok()?;
    let hdop = opt_num::<f64>(field(f, 8)).ok()?.filter(|h| h.is_finite() && *h >= 0.0);
    Some((time, Gga { point, quality, satellites, hdop }))
}

fn parse_rmc(f: &[&str]) -> Option<(String, Rmc, Option<Date>)> {
    let time = time_key(field(f, 1))?;
    let status = field(f, 2);
    let point = point(f, 3).ok()?;
    let date = match field(f, 9) {
        "" => None,
        d => Some(parse_date(d)?),
    };
    // NMEA 2.3 adds a mode: N no fix, E estimated, S simulator.
    let mode = field(f, 12).chars().next();
    let valid = status == "A" && !matches!(mode, Some('N') | Some('E'));
    Some((time, Rmc { valid, point, simulated: mode == Some('S') }, date))
}

fn parse_gst(f: &[&str]) -> Option<(String, Option<(f64, f64)>)> {
    let time = time_key(field(f, 1))?;
    let slat = opt_num::<f64>(field(f, 6)).ok()?;
    let slon = opt_num::<f64>(field(f, 7)).ok()?;
    let s = match (slat, slon) {
        (Some(a), Some(b)) if a.is_finite() && b.is_finite() && a >= 0.0 && b >= 0.0 => Some((a, b)),
        _ => None,
    };
    Some((time, s))
}

/// Every event of a whole recorded stream, in order.
pub fn decode_all(text: &str) -> (Vec<NmeaEvent>, u32) {
    let mut d = NmeaDecoder::new();
    let mut out: Vec<NmeaEvent> = text.lines().filter_map(|l| d.push_line(l)).collect();
    out.extend(d.finish());
    (out, d.rejected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn with_sum(body: &str) -> String {
        format!("${body}*{:02X}", body.bytes().fold(0u8, |a, b| a ^ b))
    }

    #[test]
    fn published_checksums_verify() {
        // The GGA example printed in the NMEA reference manuals of several receiver vendors.
        assert!(
            checked_body("$GPGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,*76").is_some()
        );
        assert!(
            checked_body("$GPGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,*77").is_none()
        );
        assert!(
            checked_body("$GPGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,").is_none()
        );
    }

    #[test]
    fn one_epoch_of_gga_rmc_gst() {
        let mut d = NmeaDecoder::new();
        let lines = [
            with_sum("GNRMC,013000.00,A,3027.06000,N,11452.26000,E,0.02,,021226,,,D"),
            with_sum("GNGGA,013000.00,3027.06000,N,11452.26000,E,2,14,0.70,25.3,M,-10.1,M,,0000"),
            with_sum("GNGSA,A,3,05,13,15,18,,,,,,,,,1.20,0.70,0.98"),
            with_sum("GNGST,013000.00,1.2,0.9,0.6,12.0,0.6,0.8,1.5"),
        ];
        for l in &lines {
            assert_eq!(d.push_line(l), None);
        }
        let Some(NmeaEvent::Fix(f)) = d.finish() else { panic!("no fix") };
        assert!((f.point.lat() - 30.451).abs() < 1e-9 && (f.point.lng() - 114.871).abs() < 1e-9);
        assert_eq!((f.satellites, f.hdop, f.mock), (Some(14), Some(0.7), false));
        assert!((f.accuracy_m.unwrap() - 2.0).abs() < 1e-9, "2 × √(0.6² + 0.8²) = 2.0");
        assert_eq!(f.time, Some(datetime!(2026-12-02 01:30:00 UTC)));
        assert_eq!(d.rejected, 0);
    }

    #[test]
    fn accuracy_from_hdop_without_gst_and_southern_western_hemispheres() {
        let (ev, rejected) =
            decode_all(&with_sum("GPGGA,235959.5,3346.0000,S,07040.0000,W,1,6,2.5,500,M,,M,,"));
        assert_eq!(rejected, 0);
        let NmeaEvent::Fix(f) = &ev[0] else { panic!() };
        assert!(
            (f.point.lat() + 33.766_666_666).abs() < 1e-6 && (f.point.lng() + 70.666_666_666).abs() < 1e-6
        );
        assert_eq!(f.accuracy_m, Some(15.0), "2 × HDOP 2.5 × 3 m");
        assert_eq!(f.time, None, "no RMC, no date");
    }

    #[test]
    fn no_fix_and_unusable_qualities() {
        for body in [
            "GPGGA,013001.00,,,,,0,03,99.99,,,,,,",
            "GPGGA,013001.00,3027.06,N,11452.26,E,6,05,1.0,,,,,,",
            "GPGGA,013001.00,3027.06,N,11452.26,E,7,00,,,,,,,",
            "GPRMC,013001.00,V,,,,,,,021226,,,N",
        ] {
            let (ev, _) = decode_all(&with_sum(body));
            assert!(matches!(ev.as_slice(), [NmeaEvent::NoFix { .. }]), "{body}: {ev:?}");
        }
        let (ev, _) = decode_all(&with_sum("GPGGA,013001.00,3027.06,N,11452.26,E,8,05,1.0,,,,,,"));
        assert!(matches!(&ev[0], NmeaEvent::Fix(f) if f.mock), "simulator output is a mock location");
    }

    #[test]
    fn malformed_lines_are_counted_and_dropped() {
        let text = [
            with_sum("GPGGA,013002.00,3027.06,N,11452.26,X,1,05,1.0,,,,,,"), // hemisphere
            with_sum("GPGGA,013002.00,3077.06,N,11452.26,E,1,05,1.0,,,,,,"), // 77 minutes
            with_sum("GPGGA,99,3027.06,N,11452.26,E,1,05,1.0,,,,,,"),        // time
            with_sum("GPRMC,013002.00,A,3027.06,N,11452.26,E,,,311326,,,A"), // date
            "$GPGGA,013002.00,3027.06,N,11452.26,E,1,05,1.0,,,,,,*00".into(),
            format!("${}*00", "A".repeat(300)),
            "garbage".into(),
        ]
        .join("\r\n");
        let (ev, rejected) = decode_all(&text);
        assert_eq!((ev, rejected), (vec![], 7));
    }
}
