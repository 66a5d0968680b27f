//! The demo's field history: four weeks of inspections by the two demo inspectors, sent through
//! the real ingest path (devices registered with their keys, photos uploaded and fingerprinted,
//! every version signed, pushed with the device clock, checked for evidence), most of it
//! reviewed, and a few deliberate fakes for the evidence checks to find: a reused photo
//! (cropped, brightened, re-encoded), a visit reached impossibly fast, a copied position and a
//! tablet whose clock ran three hours slow. Everything else is honest, and must raise no flag.
//!
//! Photos are generated pictures (smooth random scenes), not camera photos: the demo ships no
//! image files, and each generated picture is as different from the others as two real photos.

use std::f64::consts::TAU;
use std::io::Cursor;

use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use image::{DynamicImage, Rgb, RgbImage, imageops};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use shared::auth::RegisterDeviceRequest;
use shared::geo::LngLat;
use shared::ids::{DeviceId, InspectionId, MutationId};
use shared::inspection::*;
use shared::review::ReviewDecision;
use shared::site::{Site, SiteDetails};
use shared::sync::{Mutation, MutationOp, MutationOutcome, ProtocolVersion, PushRequest, ReviewRequest};
use time::{Duration, OffsetDateTime, Time};

use crate::AppState;
use crate::blobs::BlobHash;
use crate::domain::{Actor, auth, blobs, push, review};
use crate::error::{AppError, AppResult};
use crate::store::SiteFilter;

/// Days of history before the seeding day.
const DAYS: i64 = 28;

/// What was seeded, and which records were faked on purpose (with the flag each must raise).
#[derive(Debug, Default)]
pub struct DemoRecords {
    pub records: usize,
    pub photos: usize,
    pub approved: usize,
    pub returned: usize,
    pub fakes: Vec<(InspectionId, &'static str)>,
}

impl DemoRecords {
    pub fn summary(&self) -> String {
        format!(
            "demo records: {} inspections with {} photos ({} approved, {} returned); {} deliberate fakes for the evidence checks",
            self.records,
            self.photos,
            self.approved,
            self.returned,
            self.fakes.len()
        )
    }
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

/// A demo user as the domain functions take them (no session: these calls never go over HTTP).
fn actor(state: &AppState, username: &str) -> AppResult<Actor> {
    let row = state
        .store
        .read()?
        .user_by_username(username)?
        .ok_or_else(|| internal(format!("demo user {username} missing")))?;
    Ok(Actor { user: row.info, token_hash: Vec::new() })
}

/// A generated outdoor picture: sky and ground split at a random horizon, a few buildings or
/// trees, and smooth random shading, so that its low frequencies are its own.
fn scene(rng: &mut StdRng) -> RgbImage {
    // Drawn at a quarter of the size and enlarged: the picture is smooth anyway, and drawing
    // it pixel by pixel at full size is slow in a debug build.
    let (w, h) = (200u32, 150u32);
    let waves: Vec<(f64, f64, f64, [f64; 3])> = (0..7)
        .map(|_| {
            (
                rng.gen_range(0.3..3.5) * TAU / w as f64,
                rng.gen_range(0.3..3.5) * TAU / h as f64,
                rng.gen_range(0.0..TAU),
                [rng.gen_range(-30.0..30.0), rng.gen_range(-30.0..30.0), rng.gen_range(-30.0..30.0)],
            )
        })
        .collect();
    let horizon = rng.gen_range(0.2..0.6) * h as f64;
    let sky = [rng.gen_range(120.0..200.0), rng.gen_range(150.0..210.0), rng.gen_range(190.0..250.0)];
    let ground = [rng.gen_range(50.0..130.0), rng.gen_range(70.0..140.0), rng.gen_range(30.0..90.0)];
    let objects: Vec<(f64, f64, f64, f64, [f64; 3])> = (0..rng.gen_range(3..9))
        .map(|_| {
            let x = rng.gen_range(0.0..w as f64);
            let bw = rng.gen_range(8.0..55.0);
            let top = horizon - rng.gen_range(5.0..50.0);
            let bottom = horizon + rng.gen_range(0.0..30.0);
            (
                x,
                bw,
                top,
                bottom,
                [rng.gen_range(30.0..230.0), rng.gen_range(30.0..230.0), rng.gen_range(30.0..230.0)],
            )
        })
        .collect();
    let mut img = RgbImage::new(w, h);
    for (x, y, px) in img.enumerate_pixels_mut() {
        let (fx, fy) = (x as f64, y as f64);
        let mut c = if fy < horizon { sky } else { ground };
        for (ox, bw, top, bottom, col) in &objects {
            if fx >= *ox && fx < ox + bw && fy >= *top && fy < *bottom {
                c = *col;
            }
        }
        for (kx, ky, phase, amp) in &waves {
            let s = (kx * fx + ky * fy + phase).cos();
            for ch in 0..3 {
                c[ch] += amp[ch] * s;
            }
        }
        *px = Rgb(c.map(|v| v.clamp(0.0, 255.0) as u8));
    }
    imageops::resize(&img, w * 4, h * 4, imageops::FilterType::Triangle)
}

/// A JPEG file and its dimensions.
struct Jpeg {
    bytes: Vec<u8>,
    width: u32,
    height: u32,
}

fn jpeg(img: &RgbImage, quality: u8) -> AppResult<Jpeg> {
    let mut bytes = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(Cursor::new(&mut bytes), quality);
    DynamicImage::ImageRgb8(img.clone()).write_with_encoder(enc).map_err(internal)?;
    Ok(Jpeg { bytes, width: img.width(), height: img.height() })
}

/// What a cheater does to an earlier photo before passing it off as new.
fn doctored(img: &RgbImage) -> AppResult<Jpeg> {
    let (w, h) = img.dimensions();
    let cropped = imageops::crop_imm(img, w / 25, h / 25, w - w * 2 / 25, h - h * 2 / 25).to_image();
    let brighter = imageops::brighten(&cropped, 25);
    let smaller = imageops::resize(
        &brighter,
        760,
        760 * brighter.height() / brighter.width(),
        imageops::FilterType::Triangle,
    );
    jpeg(&smaller, 70)
}

/// A point `metres` away from `p` in a random direction, at a receiver's full precision.
fn near(rng: &mut StdRng, p: LngLat, metres: f64) -> LngLat {
    let a = rng.gen_range(0.0..TAU);
    let r = rng.gen_range(0.2..1.0) * metres;
    let dlat = r * a.sin() / 111_320.0;
    let dlng = r * a.cos() / (111_320.0 * p.lat().to_radians().cos());
    LngLat::new(p.lng() + dlng, p.lat() + dlat)
}

struct Tablet<'a> {
    state: &'a AppState,
    actor: Actor,
    device: DeviceId,
    key: SigningKey,
    seq: u64,
    sites: Vec<Site>,
    officer: (String, String),
}

/// One visit as the tablet holds it before it is sent.
struct Visit {
    inspection: Inspection,
    pictures: Vec<RgbImage>,
}

impl<'a> Tablet<'a> {
    fn new(
        state: &'a AppState,
        rng: &mut StdRng,
        username: &str,
        officer: (&str, &str),
        now: OffsetDateTime,
    ) -> AppResult<Self> {
        let actor = actor(state, username)?;
        let key = SigningKey::from_bytes(&rng.r#gen::<[u8; 32]>());
        let device = DeviceId::new();
        auth::register_device(
            state.store.as_ref(),
            &actor,
            &RegisterDeviceRequest {
                device_id: device,
                name: format!("{}的平板", actor.user.display_name),
                platform: "android".into(),
                public_key: Some(
                    base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes()),
                ),
            },
            now - Duration::days(DAYS + 1),
        )?;
        let mut sites: Vec<Site> = state
            .store
            .read()?
            .sites_changed(&SiteFilter::AssignedTo(actor.user.id), 0, 100_000)?
            .into_iter()
            .map(|(_, s)| s)
            .filter(|s| s.position.is_some())
            .collect();
        sites.sort_by(|a, b| a.name.cmp(&b.name));
        if sites.len() < 6 {
            return Err(internal(format!("{username} has only {} sites", sites.len())));
        }
        Ok(Tablet {
            state,
            actor,
            device,
            key,
            seq: 0,
            sites,
            officer: (officer.0.to_string(), officer.1.to_string()),
        })
    }

    /// An honest visit to `site` at `at`: standing within a few metres of it, a fix of 4–12 m,
    /// one or two photos taken a minute or two before the record was saved.
    fn visit(&self, rng: &mut StdRng, site: &Site, at: OffsetDateTime) -> Visit {
        let here = near(rng, site.position.unwrap_or(LngLat::new(114.3, 30.6)), 25.0);
        let body = body(rng, site, at, &self.officer);
        let pictures: Vec<RgbImage> = (0..rng.gen_range(1..=2)).map(|_| scene(rng)).collect();
        let inspection = Inspection {
            schema_version: INSPECTION_SCHEMA_VERSION,
            id: InspectionId::new(),
            version: 1,
            replaces_version: None,
            site_id: site.id,
            body,
            position: Some(Position {
                fix_count: 1,
                ..Position::new(here, PositionSource::Gps).with_accuracy(Some(rng.gen_range(4.0..12.0)))
            }),
            device_time: at,
            photos: Vec::new(),
            proposed_status: None,
            notes: ["现场情况正常", "已向村干部了解情况", "与上次检查相比无明显变化", ""]
                .choose(rng)
                .copied()
                .unwrap_or_default()
                .into(),
            document: None,
        };
        Visit { inspection, pictures }
    }

    /// Upload a photo as the tablet does (start, then the bytes), and name it.
    fn upload(
        &self,
        photo: &Jpeg,
        taken: OffsetDateTime,
        at: LngLat,
        now: OffsetDateTime,
    ) -> AppResult<PhotoRef> {
        use sha2::Digest;
        let bytes = &photo.bytes;
        let sha = hex::encode(sha2::Sha256::digest(bytes));
        let hash = BlobHash::parse(&sha)?;
        let store = self.state.store.as_ref();
        let status =
            blobs::start(store, self.state.blobs.as_ref(), &self.actor, &hash, bytes.len() as u64, now)?;
        if !status.complete {
            blobs::append(store, self.state.blobs.as_ref(), &self.actor, &hash, status.offset, bytes, now)?;
        }
        Ok(PhotoRef {
            sha256: sha,
            bytes: bytes.len() as u64,
            width: photo.width,
            height: photo.height,
            exif_time: Some(taken),
            exif_position: Some(at),
            original_sha256: None,
            caption: "现场照片".into(),
        })
    }

    /// Send one day's records in one push, as a tablet that found signal in the evening,
    /// its clock reading `clock`.
    fn push(&mut self, day: &[Inspection], clock: OffsetDateTime, now: OffsetDateTime) -> AppResult<()> {
        let mutations = day
            .iter()
            .map(|i| {
                self.seq += 1;
                let sig = self.key.sign(&shared::signing::inspection_bytes(i));
                Mutation {
                    seq: self.seq,
                    mutation_id: MutationId::new(),
                    op: MutationOp::SubmitInspection {
                        inspection: Box::new(i.clone()),
                        signature: Some(base64::engine::general_purpose::STANDARD.encode(sig.to_bytes())),
                    },
                }
            })
            .collect();
        let req = PushRequest {
            protocol: ProtocolVersion::CURRENT,
            device_id: self.device,
            mutations,
            device_clock: Some(clock),
        };
        let resp = push::push(self.state.store.as_ref(), &self.actor, &req, &self.state.config.flags, now)?;
        if let Some(r) = resp.results.iter().find(|r| !matches!(r.outcome, MutationOutcome::Applied { .. })) {
            return Err(internal(format!("a demo record was not applied: {r:?}")));
        }
        Ok(())
    }
}

fn body(rng: &mut StdRng, site: &Site, at: OffsetDateTime, officer: &(String, String)) -> InspectionBody {
    let ok = |item: &str| ChecklistItem {
        item: item.into(),
        result: ChecklistResult::NoProblem,
        note: String::new(),
    };
    match &site.details {
        SiteDetails::WaterBody(_) => InspectionBody::WaterBody(WaterBodyBody {
            colour: *[ColourGrade::Normal, ColourGrade::Greyish].choose(rng).unwrap_or(&ColourGrade::Normal),
            odour: *[OdourGrade::None, OdourGrade::Slight].choose(rng).unwrap_or(&OdourGrade::None),
            water_depth_cm: Some(rng.gen_range(30.0..150.0f64).round()),
            transparency_cm: Some(rng.gen_range(25.0..60.0f64).round()),
            dissolved_oxygen_mg_l: Some((rng.gen_range(2.5..7.0f64) * 10.0).round() / 10.0),
            orp_mv: Some(rng.gen_range(60.0..200.0f64).round()),
            ammonia_n_mg_l: Some((rng.gen_range(0.5..6.0f64) * 10.0).round() / 10.0),
            public_survey_pct: None,
        }),
        SiteDetails::Facility(_) => InspectionBody::SewageFacility(SewageFacilityBody {
            running_state: FacilityRunningState::Running,
            inlet_observation: "进水正常".into(),
            outlet_observation: ["出水清澈", "出水略浑浊"].choose(rng).copied().unwrap_or("出水清澈").into(),
            readings: vec![
                Reading { indicator: SewageIndicator::Cod, value: rng.gen_range(20.0..60.0f64).round() },
                Reading {
                    indicator: SewageIndicator::Nh3n,
                    value: (rng.gen_range(1.0..8.0f64) * 10.0).round() / 10.0,
                },
            ],
        }),
        SiteDetails::Village(_) => InspectionBody::VillageRemediation(VillageRemediationBody {
            checklist: vec![ok("生活垃圾收运"), ok("厕所粪污处理"), ok("村容村貌")],
            sewage_treated: None,
            summary: "村庄环境整治按计划推进".into(),
        }),
        SiteDetails::Enterprise(e) => {
            let start = at - Duration::minutes(rng.gen_range(50..80));
            InspectionBody::Enforcement(Box::new(EnforcementBody {
                started_at: start,
                ended_at: at - Duration::minutes(5),
                place: e.address.clone(),
                party: InspectedParty {
                    name: site.name.clone(),
                    uscc: e.uscc.clone(),
                    legal_representative: e.legal_representative.clone(),
                },
                person_present: e.legal_representative.clone(),
                inspectors: vec![
                    EnforcementOfficer { name: officer.0.clone(), credential_no: officer.1.clone() },
                    EnforcementOfficer { name: "周建华".into(), credential_no: format!("{}9", officer.1) },
                ],
                recorder: officer.0.clone(),
                task_source: TaskSource::Routine,
                checklist: vec![ok("排污口规范化"), ok("污染防治设施运行")],
                findings: "未发现环境违法行为".into(),
                violations: Vec::new(),
                rectification_deadline: None,
                party_signature: Signature::named(e.legal_representative.clone()),
                inspector_signatures: vec![Signature::named(officer.0.clone()), Signature::named("周建华")],
                witness_signature: None,
                recorder_signature: None,
            }))
        }
    }
}

/// The Beijing working day `days_ago` days before `now`, at `hh:mm` Beijing time, in UTC.
fn beijing(now: OffsetDateTime, days_ago: i64, hh: u8, mm: u8) -> OffsetDateTime {
    let bj = now.to_offset(time::macros::offset!(+8));
    let date = bj.date() - Duration::days(days_ago);
    date.with_time(Time::from_hms(hh, mm, 0).unwrap_or(Time::MIDNIGHT))
        .assume_offset(time::macros::offset!(+8))
        .to_offset(time::UtcOffset::UTC)
}

/// Seed the field history. Expects [`crate::seed::seed_demo`] to have run; `now` is the seeding
/// time (the newest records are from the day before).
pub fn seed_demo_records(state: &AppState, seed: u64, now: OffsetDateTime) -> AppResult<DemoRecords> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_4ec0);
    let mut out = DemoRecords::default();
    let mut tablets = [
        Tablet::new(state, &mut rng, "inspector", ("李明", "42110020"), now)?,
        Tablet::new(state, &mut rng, "inspector2", ("陈芳", "42110031"), now)?,
    ];
    // Past photos by tablet, for the reuse fake: (site name, picture).
    let mut earlier: Vec<(String, RgbImage)> = Vec::new();
    let mut sent: Vec<(usize, Inspection)> = Vec::new();
    let reviewer = actor(state, "reviewer")?;
    let mut reviewed_up_to = 0;

    // Working days, oldest first; the fakes fall on the last four, where a reviewer meets them
    // first (`recent` 0 is the last working day).
    let workdays: Vec<i64> = (1..=DAYS)
        .rev()
        .filter(|d| {
            let weekday = beijing(now, *d, 12, 0).to_offset(time::macros::offset!(+8)).weekday();
            !matches!(weekday, time::Weekday::Saturday | time::Weekday::Sunday)
        })
        .collect();
    for (n, &days_ago) in workdays.iter().enumerate() {
        let recent = workdays.len() - 1 - n;
        for (t, tablet) in tablets.iter_mut().enumerate() {
            // Inspector two's tablet ran three hours slow for one day (a flat battery reset it).
            let slow = if t == 1 && recent == 3 { Duration::hours(3) } else { Duration::ZERO };
            let mut day: Vec<Inspection> = Vec::new();
            let visits = rng.gen_range(2..=3);
            for k in 0..visits {
                let at = beijing(now, days_ago, 9 + 2 * k as u8, rng.gen_range(0..40));
                let site = tablet.sites.choose(&mut rng).cloned().ok_or_else(|| internal("no site"))?;
                let mut v = tablet.visit(&mut rng, &site, at);
                let here = v.inspection.position.as_ref().map(|p| p.point).unwrap_or(LngLat::new(0.0, 0.0));

                if t == 0 && recent == 1 && k == 0 {
                    // Right after this visit, a record "at" the site farthest from it.
                    let far = tablet
                        .sites
                        .iter()
                        .max_by(|a, b| {
                            let d = |s: &Site| {
                                s.position.map(|p| shared::geo::distance_m(p, here)).unwrap_or(0.0)
                            };
                            d(a).total_cmp(&d(b))
                        })
                        .cloned()
                        .ok_or_else(|| internal("no site"))?;
                    let dist = far.position.map(|p| shared::geo::distance_m(p, here)).unwrap_or(0.0);
                    if dist > 3_000.0 {
                        // At 300 km/h.
                        let minutes = (dist / 1000.0 / 300.0 * 60.0).max(1.0).round() as i64;
                        let mut f = tablet.visit(&mut rng, &far, at + Duration::minutes(minutes));
                        for (n, p) in f.pictures.iter().enumerate() {
                            let point = f.inspection.position.as_ref().map(|p| p.point).unwrap_or(here);
                            let photo = tablet.upload(
                                &jpeg(p, 85)?,
                                f.inspection.device_time - Duration::minutes(1 + n as i64),
                                point,
                                at,
                            )?;
                            f.inspection.photos.push(photo);
                        }
                        // Send the real visit first, then the fake.
                        for (n, p) in v.pictures.iter().enumerate() {
                            let photo = tablet.upload(
                                &jpeg(p, 85)?,
                                at - Duration::minutes(2 + n as i64),
                                here,
                                at,
                            )?;
                            v.inspection.photos.push(photo);
                        }
                        out.fakes.push((f.inspection.id, "impossible_travel"));
                        day.push(v.inspection.clone());
                        sent.push((t, v.inspection));
                        day.push(f.inspection.clone());
                        sent.push((t, f.inspection));
                        continue;
                    }
                }
                if t == 0 && recent == 0 && k == 1 {
                    // A photo of another site from two weeks ago, cropped, brightened and
                    // re-encoded, passed off as taken here.
                    let picture = earlier
                        .iter()
                        .find(|(name, _)| *name != site.name)
                        .map(|(_, p)| p.clone())
                        .ok_or_else(|| internal("no earlier photo"))?;
                    let photo = tablet.upload(&doctored(&picture)?, at - Duration::minutes(3), here, at)?;
                    v.inspection.photos.push(photo);
                    out.fakes.push((v.inspection.id, "photo_reuse"));
                }
                if t == 1 && recent == 2 && k == 0 {
                    // The coordinates of an earlier visit typed in again, to the last digit.
                    if let Some((_, prev)) =
                        sent.iter().find(|(tt, i)| *tt == 1 && i.site_id != v.inspection.site_id)
                    {
                        let prev_pos = prev.position.clone();
                        let prev_site = prev.site_id;
                        if let Some(s) = tablet.sites.iter().find(|s| s.id == prev_site).cloned() {
                            v = tablet.visit(&mut rng, &s, at);
                            v.inspection.position = prev_pos;
                            out.fakes.push((v.inspection.id, "copied_position"));
                        }
                    }
                }
                let point = v.inspection.position.as_ref().map(|p| p.point).unwrap_or(here);
                for (n, p) in v.pictures.iter().enumerate() {
                    let photo =
                        tablet.upload(&jpeg(p, 85)?, at - Duration::minutes(2 + n as i64), point, at)?;
                    v.inspection.photos.push(photo);
                    if days_ago > 10 && earlier.len() < 4 {
                        earlier.push((site.name.clone(), p.clone()));
                    }
                }
                if !slow.is_zero() {
                    v.inspection.device_time -= slow;
                    for p in &mut v.inspection.photos {
                        p.exif_time = p.exif_time.map(|t| t - slow);
                    }
                    out.fakes.push((v.inspection.id, "clock_skew"));
                }
                day.push(v.inspection.clone());
                sent.push((t, v.inspection));
            }
            let evening = beijing(now, days_ago, 18, rng.gen_range(0..50));
            tablet.push(&day, evening - slow, evening)?;
        }
        // The township's reviewer works through their township's records three days behind:
        // approves most, returns the first two with a single photo.
        let desk = beijing(now, days_ago, 20, 0);
        while let Some((t, i)) = sent.get(reviewed_up_to) {
            if i.device_time > desk - Duration::days(3) {
                break;
            }
            reviewed_up_to += 1;
            if *t != 0 || out.fakes.iter().any(|(id, _)| *id == i.id) {
                continue;
            }
            let ret = out.returned < 2 && i.photos.len() == 1;
            let req = ReviewRequest {
                version: 1,
                decision: if ret { ReviewDecision::Return } else { ReviewDecision::Approve },
                comment: if ret {
                    "照片仅一张，请补拍出水口和周边环境".into()
                } else {
                    String::new()
                },
            };
            review::review(state.store.as_ref(), &reviewer, &i.id, &req, desk)?;
            if ret {
                out.returned += 1;
            } else {
                out.approved += 1;
            }
        }
    }

    out.records = sent.len();
    out.photos = sent.iter().map(|(_, i)| i.photos.len()).sum();
    Ok(out)
}
