//! Builders for valid inspections and push batches.

use shared::geo::LngLat;
use shared::ids::{DeviceId, InspectionId, MutationId, SiteId};
use shared::inspection::*;
use shared::site::SiteStatus;
use shared::sync::{Mutation, MutationOp, ProtocolVersion, PushRequest};
use time::OffsetDateTime;

/// A live position near the fixture's sites, as a receiver reports it: full precision and a
/// little scatter, so two records never share coordinates to the last digit (that is a copied
/// position, which the server flags).
pub fn position() -> Position {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let lng = 114.871 + rng.gen_range(-0.000_2..0.000_2);
    let lat = 30.451 + rng.gen_range(-0.000_2..0.000_2);
    Position {
        fix_count: 1,
        ..Position::new(LngLat::new(lng, lat), PositionSource::Gps).with_accuracy(Some(6.0))
    }
}

pub fn photo_ref(bytes: &[u8]) -> PhotoRef {
    PhotoRef {
        sha256: crate::client::sha256_hex(bytes),
        bytes: bytes.len() as u64,
        width: 1920,
        height: 1440,
        exif_time: None,
        exif_position: None,
        original_sha256: None,
        caption: "现场照片".into(),
    }
}

pub fn water_body(site: SiteId, photos: Vec<PhotoRef>, proposed: Option<SiteStatus>) -> Inspection {
    Inspection {
        schema_version: 1,
        id: InspectionId::new(),
        version: 1,
        replaces_version: None,
        site_id: site,
        body: InspectionBody::WaterBody(WaterBodyBody {
            colour: ColourGrade::Greyish,
            odour: OdourGrade::Slight,
            water_depth_cm: Some(60.0),
            transparency_cm: Some(30.0),
            dissolved_oxygen_mg_l: Some(3.5),
            orp_mv: Some(80.0),
            ammonia_n_mg_l: Some(2.0),
            public_survey_pct: None,
        }),
        position: Some(position()),
        device_time: OffsetDateTime::now_utc(),
        photos,
        proposed_status: proposed,
        notes: "水体无明显黑臭".into(),
        document: None,
    }
}

pub fn facility(site: SiteId, state: FacilityRunningState) -> Inspection {
    let mut i = water_body(site, vec![], None);
    i.body = InspectionBody::SewageFacility(SewageFacilityBody {
        running_state: state,
        inlet_observation: "进水正常".into(),
        outlet_observation: "出水清澈".into(),
        readings: vec![Reading { indicator: SewageIndicator::Cod, value: 45.0 }],
    });
    i
}

pub fn village(site: SiteId, proposed: Option<SiteStatus>, sewage_treated: Option<bool>) -> Inspection {
    let mut i = water_body(site, vec![], proposed);
    i.body = InspectionBody::VillageRemediation(VillageRemediationBody {
        checklist: vec![ChecklistItem {
            item: "生活垃圾收运".into(),
            result: ChecklistResult::NoProblem,
            note: String::new(),
        }],
        sewage_treated,
        summary: "整治完成".into(),
    });
    i
}

pub fn enforcement(site: SiteId) -> Inspection {
    let mut i = water_body(site, vec![], None);
    let start = OffsetDateTime::now_utc() - time::Duration::hours(2);
    i.body = InspectionBody::Enforcement(Box::new(EnforcementBody {
        started_at: start,
        ended_at: start + time::Duration::minutes(90),
        place: "测试工业园".into(),
        party: InspectedParty {
            name: "测试化工有限公司".into(),
            uscc: "91350100M000100Y43".into(),
            legal_representative: "张三".into(),
        },
        person_present: "李四".into(),
        inspectors: vec![
            EnforcementOfficer { name: "王五".into(), credential_no: "42000001".into() },
            EnforcementOfficer { name: "赵六".into(), credential_no: "42000002".into() },
        ],
        recorder: "王五".into(),
        task_source: TaskSource::Patrol,
        checklist: vec![ChecklistItem {
            item: "排污口".into(),
            result: ChecklistResult::Problem,
            note: "雨污未分流".into(),
        }],
        findings: "雨污未分流".into(),
        violations: vec!["未按规定设置排污口".into()],
        rectification_deadline: Some((start + time::Duration::days(30)).date()),
        party_signature: Signature::Refused { reason: "当事人拒绝签字".into() },
        inspector_signatures: vec![Signature::named("王五"), Signature::named("赵六")],
        witness_signature: Some(Signature::named("见证人")),
        recorder_signature: None,
    }));
    i
}

/// A corrected version of a returned record.
pub fn next_version(prev: &Inspection) -> Inspection {
    let mut i = prev.clone();
    i.version = prev.version + 1;
    i.replaces_version = Some(prev.version);
    i.notes = format!("{}（已按意见修改 v{}）", prev.notes, i.version);
    i
}

pub fn submit(seq: u64, i: &Inspection) -> Mutation {
    Mutation {
        seq,
        mutation_id: MutationId::new(),
        op: MutationOp::SubmitInspection { inspection: Box::new(i.clone()), signature: None },
    }
}

/// A push of `mutations` from `device`, each submission signed with the device's test key (as
/// the app signs when it queues). Tests of unsigned or badly signed pushes build their own.
pub fn batch(device: DeviceId, mutations: Vec<Mutation>) -> PushRequest {
    let key = test_key(device);
    let mutations = mutations
        .into_iter()
        .map(|mut m| {
            match &mut m.op {
                MutationOp::SubmitInspection { inspection, signature } if signature.is_none() => {
                    *signature = Some(sign(&key, inspection));
                }
                MutationOp::Review { record_id, version, decision, comment, signature }
                    if signature.is_none() =>
                {
                    use base64::Engine;
                    use ed25519_dalek::Signer;
                    let bytes = shared::signing::review_bytes(record_id, *version, *decision, comment);
                    *signature =
                        Some(base64::engine::general_purpose::STANDARD.encode(key.sign(&bytes).to_bytes()));
                }
                _ => {}
            }
            m
        })
        .collect();
    PushRequest {
        protocol: ProtocolVersion::CURRENT,
        device_id: device,
        mutations,
        device_clock: Some(OffsetDateTime::now_utc()),
    }
}

/// A test device's signing key, derived from its id so that any helper can sign for it.
pub fn test_key(device: DeviceId) -> ed25519_dalek::SigningKey {
    use sha2::Digest;
    let seed: [u8; 32] = sha2::Sha256::digest(format!("qingliu test device {device}")).into();
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

pub fn public_key(device: DeviceId) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(test_key(device).verifying_key().to_bytes())
}

pub fn sign(key: &ed25519_dalek::SigningKey, i: &Inspection) -> String {
    use base64::Engine;
    use ed25519_dalek::Signer;
    base64::engine::general_purpose::STANDARD
        .encode(key.sign(&shared::signing::inspection_bytes(i)).to_bytes())
}

/// Register a keyless device for `user` straight into an open write transaction, for records
/// stored with [`store_submitted`].
pub fn store_device(
    tx: &mut dyn sync_server::store::Tx,
    user: shared::UserId,
    at: OffsetDateTime,
) -> DeviceId {
    let id = DeviceId::new();
    tx.insert_device(&sync_server::store::DeviceRow {
        id,
        user_id: user,
        name: "bench".into(),
        platform: "bench".into(),
        last_seq: 0,
        registered_at: at,
        public_key: None,
    })
    .expect("insert device");
    id
}

/// Store `i` as a submitted record straight into an open write transaction, as a push would
/// leave it (without the push's checks): benches and tests that need many records fast.
pub fn store_submitted(
    tx: &mut dyn sync_server::store::Tx,
    i: &Inspection,
    village: shared::region::RegionCode,
    user: shared::ids::UserId,
    device: DeviceId,
    at: OffsetDateTime,
) {
    let seq = tx.next_change_seq().expect("change seq");
    tx.insert_record(&sync_server::store::RecordRow {
        id: i.id,
        site_id: i.site_id,
        village,
        submitted_by: user,
        device_id: device,
        current_version: i.version,
        status: shared::review::ReviewStatus::Submitted,
        review: None,
        received_at: at,
        change_seq: seq,
        kind: i.kind(),
    })
    .expect("insert record");
    tx.insert_version(i, at, &device, None).expect("insert version");
}
