//! Evidence checked by the server: perceptual fingerprints of real photos and their derivatives.

use std::path::Path;

use image::{RgbImage, imageops};
use qingliu_tests::photos::{decode, derivatives, tablet_photo};
use shared::geo::LngLat;
use sync_server::fingerprint::{MAX_DISTANCE, distance, fingerprint};

use qingliu_tests::photos::TEST_PHOTOS as PHOTOS;

#[test]
fn derivatives_of_a_photo_match_and_different_photos_do_not() {
    let mut worst_match = 0;
    let mut bases = Vec::new();
    for name in PHOTOS {
        let base = tablet_photo(name);
        let fp = fingerprint(&base).expect("a tablet photo has a fingerprint");
        for (what, bytes) in derivatives(&base) {
            let d = distance(fp, fingerprint(&bytes).expect("derivative decodes"));
            eprintln!("{name}: {what}: {d} bits");
            worst_match = worst_match.max(d);
            assert!(d <= MAX_DISTANCE, "{name} {what}: {d} bits apart");
        }
        bases.push((name, fp));
    }
    let mut closest_other = 64;
    for (n, (a, fa)) in bases.iter().enumerate() {
        for (b, fb) in &bases[n + 1..] {
            let d = distance(*fa, *fb);
            eprintln!("{a} vs {b}: {d} bits");
            closest_other = closest_other.min(d);
            assert!(d > MAX_DISTANCE, "{a} and {b} are different photos but {d} bits apart");
        }
    }
    // The near miss side by side, to look at.
    let (a, b) = (decode(&tablet_photo(PHOTOS[4])), decode(&tablet_photo(PHOTOS[5])));
    let mut pair = RgbImage::new(a.width() + b.width(), a.height().max(b.height()));
    imageops::replace(&mut pair, &a, 0, 0);
    imageops::replace(&mut pair, &b, i64::from(a.width()), 0);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts");
    pair.save(dir.join("evidence-near-miss-pair.png")).expect("png");
    eprintln!(
        "worst derivative {worst_match} bits, closest different photos {closest_other} bits, threshold {MAX_DISTANCE}"
    );
}

// ---- Flags computed by the server at push, over HTTP ----

use qingliu_tests::ApiClient;
use qingliu_tests::records::{self, batch, submit};
use shared::flags::{Flag, PhotoMatch};
use shared::ids::{DeviceId, InspectionId};
use shared::inspection::{Inspection, InspectionBody, Position, PositionSource};
use time::OffsetDateTime;

use crate::{inspector, login, setup};

async fn flags_of(reviewer: &ApiClient, id: InspectionId) -> Vec<Flag> {
    let detail = reviewer.inspection(id).await.expect("detail");
    serde_json::from_value(detail["flags"].clone()).expect("flags")
}

fn kinds(flags: &[Flag]) -> Vec<&'static str> {
    flags.iter().map(Flag::kind).collect()
}

/// The server's own kinds (not those a record raises about itself).
const SERVER_KINDS: [&str; 7] = [
    "photo_reuse",
    "impossible_travel",
    "credential_overlap",
    "clock_skew",
    "device_time_after_receipt",
    "clock_backwards",
    "copied_position",
];

fn server_flags(flags: &[Flag]) -> Vec<&Flag> {
    flags.iter().filter(|f| SERVER_KINDS.contains(&f.kind())).collect()
}

/// A tablet: a device and its next sequence number.
struct Tablet {
    client: ApiClient,
    device: DeviceId,
    seq: u64,
}

impl Tablet {
    async fn new(server: &qingliu_tests::TestServer, user: &str) -> Tablet {
        let (client, device) = inspector(server, user).await;
        Tablet { client, device, seq: 0 }
    }

    /// Pushes `i` with the device clock reading `clock` and asserts it applied.
    async fn send_at(&mut self, i: &Inspection, clock: Option<OffsetDateTime>) {
        self.seq += 1;
        let mut req = batch(self.device, vec![submit(self.seq, i)]);
        req.device_clock = clock;
        let resp = self.client.push(&req).await.expect("push");
        assert!(
            matches!(resp.results[0].outcome, shared::sync::MutationOutcome::Applied { .. }),
            "{:?}",
            resp.results[0]
        );
    }

    async fn send(&mut self, i: &Inspection) {
        self.send_at(i, Some(OffsetDateTime::now_utc())).await;
    }

    async fn upload(&self, bytes: &[u8]) -> shared::inspection::PhotoRef {
        self.client.upload(bytes, 1 << 20).await.expect("upload");
        records::photo_ref(bytes)
    }
}

fn at(p: (f64, f64)) -> Option<Position> {
    Some(Position {
        fix_count: 1,
        ..Position::new(LngLat::new(p.0, p.1), PositionSource::Gps).with_accuracy(Some(5.0))
    })
}

#[tokio::test]
async fn reused_photos_are_found_across_inspectors_and_derivatives() {
    let (server, fx) = setup().await;
    let mut a = Tablet::new(&server, "inspector_a").await;
    let mut b = Tablet::new(&server, "inspector_b").await;
    let reviewer_1 = login(&server, "reviewer_1").await;
    let reviewer_2 = login(&server, "reviewer_2").await;

    let original = tablet_photo("iphone6-gps-8mp.jpg");
    let mut first = records::water_body(fx.site("water1").id, vec![a.upload(&original).await], None);
    first.photos[0].original_sha256 = Some("a".repeat(64));
    a.send(&first).await;
    assert_eq!(server_flags(&flags_of(&reviewer_1, first.id).await), Vec::<&Flag>::new());

    // Another inspector, another township, the same picture resized and re-stamped.
    let derived = derivatives(&original);
    let resized = &derived.iter().find(|(w, _)| w.starts_with("resized")).expect("resized").1;
    let copy = records::water_body(fx.site("water2").id, vec![b.upload(resized).await], None);
    b.send(&copy).await;
    let f = flags_of(&reviewer_2, copy.id).await;
    let reuse = f.iter().find(|f| f.kind() == "photo_reuse").unwrap_or_else(|| panic!("{f:?}"));
    let Flag::PhotoReuse { photo, how, other_record, other_photo, other_sha256, other_site, bits } = reuse
    else {
        unreachable!()
    };
    assert_eq!((*photo, *how, *other_record, *other_photo), (0, PhotoMatch::Similar, first.id, 0));
    assert_eq!(other_sha256, &first.photos[0].sha256);
    assert_eq!(other_site, "测试塘");
    assert!(*bits <= sync_server::fingerprint::MAX_DISTANCE);
    // The reviewer of t2 sees the other township's photo beside it, though the record itself
    // stays out of their reach.
    assert_eq!(reviewer_2.download(other_sha256).await.expect("evidence photo"), original);
    assert!(reviewer_2.inspection(first.id).await.is_err());
    // Identical bytes, and a different file claiming the same camera original.
    let mut same =
        records::facility(fx.site("facility1").id, shared::inspection::FacilityRunningState::Running);
    same.photos = vec![first.photos[0].clone()];
    a.send(&same).await;
    let other_bytes = tablet_photo("nokia83-gps-9mp.jpg");
    let mut claimed = records::village(fx.site("village1").id, None, None);
    claimed.photos = vec![a.upload(&other_bytes).await];
    claimed.photos[0].original_sha256 = Some("a".repeat(64));
    a.send(&claimed).await;
    for (id, want) in [(same.id, PhotoMatch::Identical), (claimed.id, PhotoMatch::SameOriginal)] {
        let f = flags_of(&reviewer_1, id).await;
        assert!(
            f.iter().any(|f| matches!(f, Flag::PhotoReuse { how, other_record, .. } if *how == want && *other_record == first.id)),
            "{want:?}: {f:?}"
        );
    }
    // A correction keeping its own photos is not a reuse of itself.
    let mut v2 = records::next_version(&first);
    v2.notes = "补充说明".into();
    reviewer_1.review(first.id, 1, shared::review::ReviewDecision::Return, "请补充").await.expect("return");
    a.send(&v2).await;
    let f = flags_of(&reviewer_1, first.id).await;
    assert!(
        f.iter().all(|f| !matches!(f, Flag::PhotoReuse { other_record, .. } if *other_record == first.id)),
        "{f:?}"
    );

    // Near miss: one subject from one spot 21 s apart is two photos, not one reused.
    let mut s1 = records::village(fx.site("village2").id, None, None);
    s1.photos = vec![a.upload(&tablet_photo("same-spot-21s-a.jpg")).await];
    a.send(&s1).await;
    let mut s2 = records::village(fx.site("village3").id, None, None);
    s2.photos = vec![a.upload(&tablet_photo("same-spot-21s-b.jpg")).await];
    a.send(&s2).await;
    assert_eq!(server_flags(&flags_of(&reviewer_1, s2.id).await), Vec::<&Flag>::new());

    // The queue filters on flags: by kind, and any.
    let q: shared::console::QueuePage =
        reviewer_1.get("/api/v1/review/queue?flag=photo_reuse").await.expect("queue");
    let ids: Vec<InspectionId> = q.items.iter().map(|it| it.record.inspection.id).collect();
    assert!(ids.contains(&same.id) && ids.contains(&claimed.id), "{ids:?}");
    assert!(!ids.contains(&s1.id) && !ids.contains(&s2.id));
    let bad = reviewer_1
        .get::<serde_json::Value>("/api/v1/review/queue?flag=nonsense")
        .await
        .expect_err("unknown kind");
    assert_eq!(bad.error.code, shared::ErrorCode::InvalidValue);
}

#[tokio::test]
async fn impossible_travel_between_one_inspectors_records_on_any_device() {
    let (server, fx) = setup().await;
    let mut t1 = Tablet::new(&server, "inspector_a").await;
    let mut t2 = Tablet::new(&server, "inspector_a").await;
    let reviewer = login(&server, "reviewer_1").await;
    let start = OffsetDateTime::now_utc() - time::Duration::hours(6);
    let mut first = records::water_body(fx.site("water1").id, vec![], None);
    first.position = at((114.871_234_1, 30.451_234_1));
    first.device_time = start;
    t1.send(&first).await;
    // 48 km west, five minutes later, on the inspector's other tablet.
    let mut far = records::village(fx.site("village1").id, None, None);
    far.position = at((114.371_234_2, 30.451_234_2));
    far.device_time = start + time::Duration::minutes(5);
    t2.send(&far).await;
    let f = flags_of(&reviewer, far.id).await;
    let Some(Flag::ImpossibleTravel { other_record, distance_m, minutes, speed_kmh, other_site }) =
        f.iter().find(|f| f.kind() == "impossible_travel")
    else {
        panic!("{f:?}")
    };
    assert_eq!((*other_record, other_site.as_str()), (first.id, "测试塘"));
    assert!((47_000.0..49_000.0).contains(distance_m), "{distance_m}");
    assert!((*minutes - 5.0).abs() < 0.1 && *speed_kmh > 500.0, "{minutes} {speed_kmh}");
    // Near miss: the same trip in an hour and a half (32 km/h).
    let mut later = records::village(fx.site("village2").id, None, None);
    later.position = at((114.871_234_3, 30.451_234_3));
    later.device_time = start + time::Duration::minutes(95);
    t1.send(&later).await;
    assert!(!kinds(&flags_of(&reviewer, later.id).await).contains(&"impossible_travel"));
    // A record arriving late (offline for days) is checked against its neighbours in time.
    let mut between =
        records::facility(fx.site("facility1").id, shared::inspection::FacilityRunningState::Running);
    between.position = at((114.871_234_4, 30.451_234_4));
    between.device_time = start + time::Duration::minutes(3);
    t1.send(&between).await;
    assert!(kinds(&flags_of(&reviewer, between.id).await).contains(&"impossible_travel"));
}

#[tokio::test]
async fn one_credential_in_two_places_at_once() {
    let (server, fx) = setup().await;
    let mut a = Tablet::new(&server, "inspector_a").await;
    let reviewer_1 = login(&server, "reviewer_1").await;
    let first = records::enforcement(fx.site("enterprise1").id);
    a.send(&first).await;
    // Near miss: the same officers at the same time in the same park (another party's record).
    let same_park = records::enforcement(fx.site("enterprise1").id);
    a.send(&same_park).await;
    assert!(!kinds(&flags_of(&reviewer_1, same_park.id).await).contains(&"credential_overlap"));
    // Another on-site record naming officer 42000002 at the same time, 30 km away.
    let mut other = records::enforcement(fx.site("enterprise1").id);
    other.position = at((114.571, 30.651));
    let InspectionBody::Enforcement(e) = &mut other.body else { unreachable!() };
    e.inspectors[0].credential_no = "42009999".into();
    e.place = "另一工业园".into();
    a.send(&other).await;
    let f = flags_of(&reviewer_1, other.id).await;
    let Some(Flag::CredentialOverlap { credential_no, officer, other_record, other_place, distance_m }) =
        f.iter().find(|f| f.kind() == "credential_overlap")
    else {
        panic!("{f:?}")
    };
    assert_eq!((credential_no.as_str(), officer.as_str(), *other_record), ("42000002", "赵六", first.id));
    assert_eq!(other_place, "测试工业园");
    assert!(*distance_m > 25_000.0, "{distance_m}");
    // Near miss: the same officers the next day elsewhere.
    let mut next_day = records::enforcement(fx.site("enterprise1").id);
    next_day.position = at((114.571, 30.651));
    let InspectionBody::Enforcement(e) = &mut next_day.body else { unreachable!() };
    e.started_at += time::Duration::days(1);
    e.ended_at += time::Duration::days(1);
    next_day.device_time = e.ended_at;
    a.send(&next_day).await;
    assert!(!kinds(&flags_of(&reviewer_1, next_day.id).await).contains(&"credential_overlap"));
}

#[tokio::test]
async fn wrong_device_clocks_are_flagged() {
    let (server, fx) = setup().await;
    let mut t = Tablet::new(&server, "inspector_a").await;
    let reviewer = login(&server, "reviewer_1").await;
    let now = OffsetDateTime::now_utc();
    // A clock two minutes fast is within tolerance.
    let ok = records::water_body(fx.site("water1").id, vec![], None);
    t.send_at(&ok, Some(now + time::Duration::minutes(2))).await;
    assert_eq!(server_flags(&flags_of(&reviewer, ok.id).await), Vec::<&Flag>::new());
    // Three hours fast: the skew, and a record time after the server received it.
    let mut fast = records::village(fx.site("village1").id, None, None);
    fast.device_time = now + time::Duration::hours(3);
    t.send_at(&fast, Some(now + time::Duration::hours(3))).await;
    let f = flags_of(&reviewer, fast.id).await;
    assert!(
        f.iter().any(|f| matches!(f, Flag::ClockSkew { minutes } if (178..=180).contains(minutes))),
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|f| matches!(f, Flag::DeviceTimeAfterReceipt { minutes } if (178..=180).contains(minutes))),
        "{f:?}"
    );
    // Set back by a day: the clock ran backwards since the last push, and is now slow.
    let mut back = records::village(fx.site("village2").id, None, None);
    back.device_time = now - time::Duration::days(1);
    t.send_at(&back, Some(now - time::Duration::days(1))).await;
    let f = flags_of(&reviewer, back.id).await;
    assert!(f.iter().any(|f| matches!(f, Flag::ClockBackwards { minutes } if *minutes > 24 * 60)), "{f:?}");
    assert!(f.iter().any(|f| matches!(f, Flag::ClockSkew { minutes } if *minutes < -(23 * 60))), "{f:?}");
    // Put right: no more flags.
    let good = records::village(fx.site("village3").id, None, None);
    t.send_at(&good, Some(OffsetDateTime::now_utc())).await;
    assert_eq!(server_flags(&flags_of(&reviewer, good.id).await), Vec::<&Flag>::new());
}

#[tokio::test]
async fn copied_coordinates_are_flagged() {
    let (server, fx) = setup().await;
    let mut t = Tablet::new(&server, "inspector_a").await;
    let reviewer = login(&server, "reviewer_1").await;
    let p = (114.871_234_567, 30.451_765_432);
    let mut first = records::water_body(fx.site("water1").id, vec![], None);
    first.position = at(p);
    t.send(&first).await;
    let mut copy = records::village(fx.site("village1").id, None, None);
    copy.position = at(p);
    t.send(&copy).await;
    let f = flags_of(&reviewer, copy.id).await;
    assert!(
        f.iter().any(|f| matches!(f, Flag::CopiedPosition { other_record, other_site } if *other_record == first.id && other_site == "测试塘")),
        "{f:?}"
    );
    // Near misses: one digit off in the last place, and round typed numbers (flagged as manual).
    let mut close = records::village(fx.site("village2").id, None, None);
    close.position = at((p.0 + 0.000_000_001, p.1));
    t.send(&close).await;
    let mut round_a = records::village(fx.site("village3").id, None, None);
    round_a.position = Some(Position::manual(LngLat::new(114.87, 30.45), "无信号"));
    t.send(&round_a).await;
    let mut round_b =
        records::facility(fx.site("facility1").id, shared::inspection::FacilityRunningState::Running);
    round_b.position = Some(Position::manual(LngLat::new(114.87, 30.45), "无信号"));
    t.send(&round_b).await;
    for id in [close.id, round_b.id] {
        assert!(!kinds(&flags_of(&reviewer, id).await).contains(&"copied_position"), "{id}");
    }
}
