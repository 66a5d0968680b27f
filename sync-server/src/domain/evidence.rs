//! Evidence the server checks by itself when a version arrives, across every record of the
//! province, and stores with the version: reused photos (same bytes, same claimed original, or
//! the same picture under a perceptual fingerprint), impossible travel between one inspector's
//! consecutive records, one enforcement credential on two overlapping on-site records in
//! different places, wrong device clocks, and coordinates copied to the last digit. The flags a
//! record raises about itself (`shared::flags::flags`) are stored with them.
//!
//! Flags never refuse a submission: they reach the reviewer. The checks read through
//! [`Lookups`]: a push runs them once on a snapshot before its write transaction and again
//! inside it, answered from the snapshot's answers corrected by what changed since
//! (`evidence_reads`), so two records pushed at once still see each other while the single
//! writer does almost none of the reading.

use shared::flags::{Flag, FlagThresholds, PhotoMatch, flags};
use shared::geo::{LngLat, distance_m};
use shared::ids::{DeviceId, InspectionId, UserId};
use shared::inspection::{Inspection, InspectionBody};
use shared::site::Site;
use time::OffsetDateTime;

use crate::domain::evidence_reads::Lookups;
use crate::fingerprint::{self, MAX_DISTANCE};
use crate::store::{CredentialVisit, DeviceClock, EvidenceQuestion, FlagRow, StoreResult, Tx, Visit};

/// How many visits at the same coordinates the copied-position check reads (it needs one that
/// is not the record's own).
const COPIED_POSITION_PROBE: u32 = 8;

/// What a push says about its device's clock, read once per push.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClockFacts {
    /// Device minus server (ms): measured at this push, or the last known.
    pub skew_ms: Option<i64>,
    /// How far the device's clock went back since its previous reading (ms), when it did by
    /// more than the tolerance.
    pub backwards_ms: Option<i64>,
}

pub fn unix_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Reads the device's clock at a push (`device_clock` is what the push says it reads). The
/// reading to keep for the next push is returned beside the facts: the push keeps it only when
/// it applied something, so a repeated or refused push changes nothing.
pub fn read_clock(
    tx: &mut dyn Tx,
    device: &DeviceId,
    device_clock: Option<OffsetDateTime>,
    now: OffsetDateTime,
    t: &FlagThresholds,
) -> StoreResult<(ClockFacts, Option<DeviceClock>)> {
    let previous = tx.device_clock(device)?;
    let Some(reads) = device_clock else {
        return Ok((ClockFacts { skew_ms: previous.map(|p| p.skew_ms), backwards_ms: None }, None));
    };
    let now_ms = unix_ms(now);
    let skew_ms = unix_ms(reads) - now_ms;
    let backwards_ms = previous
        .map(|p| (p.read_ms + p.skew_ms) - (now_ms + skew_ms))
        .filter(|back| *back > t.clock_backwards_minutes * 60_000);
    Ok((ClockFacts { skew_ms: Some(skew_ms), backwards_ms }, Some(DeviceClock { skew_ms, read_ms: now_ms })))
}

/// Decimal digits after the point in the shortest form that reads back as `v`.
fn decimals(v: f64) -> u32 {
    let s = v.to_string();
    s.split_once('.').map(|(_, d)| d.len() as u32).unwrap_or(0)
}

/// The coordinates as a key, when precise enough that a repeat means a copy.
fn position_key(p: LngLat, t: &FlagThresholds) -> Option<String> {
    (decimals(p.lng()) >= t.copied_position_decimals && decimals(p.lat()) >= t.copied_position_decimals)
        .then(|| format!("{},{}", p.lng(), p.lat()))
}

fn site_name(tx: &mut dyn Tx, record: &InspectionId) -> StoreResult<String> {
    let Some(row) = tx.record(record)? else { return Ok(String::new()) };
    Ok(tx.site(&row.site_id)?.map(|s| s.name).unwrap_or_default())
}

/// The flags of a version and the rows later checks look up (its visit, its officers'
/// credentials, the originals its photos claim), before anything is written.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub flags: Vec<Flag>,
    pub visit: Option<Visit>,
    /// `Some` for an on-site (enforcement) record: the credentials replace the record's.
    pub credentials: Option<Vec<CredentialVisit>>,
    /// (claimed original sha256, photo index).
    pub originals: Vec<(String, usize)>,
}

/// Computes the flags of version `i` of a record about `site`, submitted by `user` and
/// received `now`, reading through `l`; writes nothing.
pub fn check(
    l: &mut dyn Lookups,
    t: &FlagThresholds,
    clock: &ClockFacts,
    user: &UserId,
    i: &Inspection,
    site: &Site,
    now: OffsetDateTime,
) -> StoreResult<Found> {
    let mut found = Found { flags: flags(i, site.position, t), ..Found::default() };
    clock_flags(t, clock, i, now, &mut found.flags);
    if t.cross_record_checks {
        found.visit = Some(visit_flags(l, t, clock, user, i, &mut found.flags)?);
        found.credentials = credential_flags(l, t, i, &mut found.flags)?;
        found.originals = photo_flags(l, i, &mut found.flags)?;
    }
    Ok(found)
}

/// The look-ups [`check`] will make first for version `i`, whatever they answer (the ones that
/// depend on an answer — near fingerprints, the records of a similar photo — come after), so
/// a push can ask them for a whole batch at once. Nothing depends on this list being complete:
/// a look-up not asked ahead is made when the check needs it.
pub fn first_questions(
    t: &FlagThresholds,
    clock: &ClockFacts,
    user: &UserId,
    i: &Inspection,
) -> Vec<EvidenceQuestion> {
    let mut out = Vec::new();
    if !t.cross_record_checks {
        return out;
    }
    if let Some(p) = &i.position {
        let at_ms = unix_ms(i.device_time) - clock.skew_ms.unwrap_or(0);
        out.push(EvidenceQuestion::VisitBefore(*user, at_ms, i.id));
        out.push(EvidenceQuestion::VisitAfter(*user, at_ms, i.id));
        if let Some(key) = position_key(p.point, t) {
            out.push(EvidenceQuestion::VisitsAt(key, COPIED_POSITION_PROBE));
        }
    }
    if let InspectionBody::Enforcement(e) = &i.body {
        for officer in &e.inspectors {
            let credential_no = officer.credential_no.trim();
            if !credential_no.is_empty() {
                out.push(EvidenceQuestion::Credentials(
                    credential_no.to_string(),
                    unix_ms(e.started_at),
                    unix_ms(e.ended_at),
                ));
            }
        }
    }
    for photo in &i.photos {
        out.push(EvidenceQuestion::NamingBlob(photo.sha256.clone()));
        if let Some(original) = &photo.original_sha256 {
            out.push(EvidenceQuestion::Originals(original.clone()));
        }
        out.push(EvidenceQuestion::Fingerprint(photo.sha256.clone()));
    }
    out
}

/// Stores what [`check`] found for version `i`.
pub fn store(
    tx: &mut dyn Tx,
    found: &Found,
    user: &UserId,
    i: &Inspection,
    site: &Site,
    now: OffsetDateTime,
) -> StoreResult<()> {
    if let Some(v) = &found.visit {
        tx.upsert_visit(v)?;
    }
    if let Some(c) = &found.credentials {
        tx.replace_credential_visits(&i.id, c)?;
    }
    for (original, n) in &found.originals {
        tx.insert_photo_original(original, &i.id, i.version, *n)?;
    }
    let rows: Vec<FlagRow> = found
        .flags
        .iter()
        .map(|f| FlagRow {
            record_id: i.id,
            version: i.version,
            flag: f.clone(),
            village: site.village,
            user_id: *user,
            received_at: now,
        })
        .collect();
    tx.insert_flags(&rows)
}

fn clock_flags(
    t: &FlagThresholds,
    clock: &ClockFacts,
    i: &Inspection,
    now: OffsetDateTime,
    out: &mut Vec<Flag>,
) {
    if let Some(skew) = clock.skew_ms
        && skew.abs() > t.max_clock_skew_minutes * 60_000
    {
        out.push(Flag::ClockSkew { minutes: skew / 60_000 });
    }
    let ahead = unix_ms(i.device_time) - unix_ms(now);
    if ahead > t.future_tolerance_minutes * 60_000 {
        out.push(Flag::DeviceTimeAfterReceipt { minutes: ahead / 60_000 });
    }
    if let Some(back) = clock.backwards_ms {
        out.push(Flag::ClockBackwards { minutes: back / 60_000 });
    }
}

fn visit_flags(
    l: &mut dyn Lookups,
    t: &FlagThresholds,
    clock: &ClockFacts,
    user: &UserId,
    i: &Inspection,
    out: &mut Vec<Flag>,
) -> StoreResult<Visit> {
    // Device times of one inspector's tablets are compared after taking off each device's known
    // skew: two tablets with different wrong clocks would otherwise "travel" in no time.
    let at_ms = unix_ms(i.device_time) - clock.skew_ms.unwrap_or(0);
    let visit = Visit {
        record_id: i.id,
        user_id: *user,
        site_id: i.site_id,
        at_ms,
        position: i.position.as_ref().map(|p| (p.point.lng(), p.point.lat())),
        accuracy_m: i.position.as_ref().and_then(|p| p.accuracy_m),
        position_key: i.position.as_ref().and_then(|p| position_key(p.point, t)),
    };
    if let Some((lng, lat)) = visit.position {
        let here = LngLat::new(lng, lat);
        let mut worst: Option<Flag> = None;
        let neighbours = [l.visit_before(user, at_ms, &i.id)?, l.visit_after(user, at_ms, &i.id)?];
        for other in neighbours.into_iter().flatten() {
            let Some((olng, olat)) = other.position else { continue };
            let d = distance_m(here, LngLat::new(olng, olat));
            let slack =
                t.travel_slack_m.max(visit.accuracy_m.unwrap_or(0.0) + other.accuracy_m.unwrap_or(0.0));
            if d <= slack {
                continue;
            }
            // Less than a minute apart counts as a minute: device times have that much jitter.
            let minutes = ((at_ms - other.at_ms).abs() as f64 / 60_000.0).max(1.0);
            let speed_kmh = (d / 1000.0) / (minutes / 60.0);
            let worse = match &worst {
                Some(Flag::ImpossibleTravel { speed_kmh: s, .. }) => speed_kmh > *s,
                _ => true,
            };
            if speed_kmh > t.max_speed_kmh && worse {
                worst = Some(Flag::ImpossibleTravel {
                    other_record: other.record_id,
                    other_site: site_name(l.tx(), &other.record_id)?,
                    distance_m: d,
                    minutes,
                    speed_kmh,
                });
            }
        }
        out.extend(worst);
    }
    if let Some(key) = &visit.position_key
        && let Some(other) =
            l.visits_at(key, COPIED_POSITION_PROBE)?.into_iter().find(|v| v.record_id != i.id)
    {
        out.push(Flag::CopiedPosition {
            other_record: other.record_id,
            other_site: site_name(l.tx(), &other.record_id)?,
        });
    }
    Ok(visit)
}

fn credential_flags(
    l: &mut dyn Lookups,
    t: &FlagThresholds,
    i: &Inspection,
    out: &mut Vec<Flag>,
) -> StoreResult<Option<Vec<CredentialVisit>>> {
    let InspectionBody::Enforcement(e) = &i.body else { return Ok(None) };
    let (started_ms, ended_ms) = (unix_ms(e.started_at), unix_ms(e.ended_at));
    let here = i.position.as_ref().map(|p| p.point);
    let mut mine = Vec::with_capacity(e.inspectors.len());
    for officer in &e.inspectors {
        let credential_no = officer.credential_no.trim().to_string();
        if credential_no.is_empty() {
            continue;
        }
        let others = l.credential_visits_overlapping(&credential_no, started_ms, ended_ms)?;
        for other in others.into_iter().filter(|o| o.record_id != i.id) {
            let Some(((lng, lat), here)) = other.position.zip(here) else { continue };
            let d = distance_m(here, LngLat::new(lng, lat));
            if d > t.credential_distance_m {
                out.push(Flag::CredentialOverlap {
                    credential_no: credential_no.clone(),
                    officer: officer.name.clone(),
                    other_record: other.record_id,
                    other_place: other.place.clone(),
                    distance_m: d,
                });
                break;
            }
        }
        mine.push(CredentialVisit {
            credential_no,
            record_id: i.id,
            officer: officer.name.clone(),
            started_ms,
            ended_ms,
            position: here.map(|p| (p.lng(), p.lat())),
            place: e.place.clone(),
        });
    }
    Ok(Some(mine))
}

/// The index of `sha256` among the photos of the record's newest version naming it.
fn photo_index(tx: &mut dyn Tx, record: &InspectionId, sha256: &str) -> StoreResult<Option<usize>> {
    for v in tx.versions(record)?.iter().rev() {
        if let Some(n) = v.photos.iter().position(|p| p.sha256 == sha256) {
            return Ok(Some(n));
        }
    }
    Ok(None)
}

/// The nearest stored fingerprints within [`MAX_DISTANCE`] bits, nearest first.
pub fn similar_fingerprints(l: &mut dyn Lookups, fp: u64) -> StoreResult<Vec<(String, u32)>> {
    let mut found: Vec<(String, u32)> = l
        .near_fingerprints(fp, MAX_DISTANCE)?
        .into_iter()
        .map(|(sha, other)| (sha, fingerprint::distance(fp, other)))
        .collect();
    found.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    found.dedup_by(|a, b| a.0 == b.0);
    Ok(found)
}

/// Flags reused photos; returns the originals the photos claim, to be stored.
fn photo_flags(
    l: &mut dyn Lookups,
    i: &Inspection,
    out: &mut Vec<Flag>,
) -> StoreResult<Vec<(String, usize)>> {
    let mut originals = Vec::new();
    for (n, photo) in i.photos.iter().enumerate() {
        let mut found: Option<(PhotoMatch, InspectionId, String, u32)> = None;
        if let Some(other) = l.records_naming_blob(&photo.sha256)?.into_iter().find(|r| *r != i.id) {
            found = Some((PhotoMatch::Identical, other, photo.sha256.clone(), 0));
        }
        if let Some(original) = &photo.original_sha256 {
            if found.is_none()
                && let Some((other, version, k)) =
                    l.photo_originals(original)?.into_iter().find(|(r, _, _)| *r != i.id)
                && let Some(v) = l.tx().version(&other, version)?
                && let Some(p) = v.photos.get(k)
            {
                found = Some((PhotoMatch::SameOriginal, other, p.sha256.clone(), 0));
            }
            originals.push((original.clone(), n));
        }
        if found.is_none()
            && let Some(fp) = l.fingerprint(&photo.sha256)?
        {
            for (sha, bits) in similar_fingerprints(l, fp)? {
                if sha == photo.sha256 {
                    continue;
                }
                if let Some(other) = l.records_naming_blob(&sha)?.into_iter().find(|r| *r != i.id) {
                    found = Some((PhotoMatch::Similar, other, sha, bits));
                    break;
                }
            }
        }
        if let Some((how, other_record, other_sha256, bits)) = found {
            let tx = l.tx();
            let other_photo = photo_index(tx, &other_record, &other_sha256)?.unwrap_or(0);
            out.push(Flag::PhotoReuse {
                photo: n,
                how,
                other_record,
                other_photo,
                other_sha256,
                other_site: site_name(tx, &other_record)?,
                bits,
            });
        }
    }
    Ok(originals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_precise_coordinates_make_a_key() {
        let t = FlagThresholds::default();
        assert_eq!(position_key(LngLat::new(114.87, 30.45), &t), None);
        assert_eq!(position_key(LngLat::new(114.871_234_5, 30.45), &t), None);
        assert_eq!(
            position_key(LngLat::new(114.871_234_5, 30.451_234), &t).as_deref(),
            Some("114.8712345,30.451234")
        );
        assert_eq!(decimals(114.0), 0);
    }
}
