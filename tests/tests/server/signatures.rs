//! Records signed by their device: the server refuses a version that is unsigned, signed by
//! another key, or changed after signing; a device's key is set once and never swapped; the
//! app core signs what it queues; `sync-server verify` finds a version edited in the database.

use base64::Engine;
use qingliu_app::sync;
use qingliu_tests::records::*;
use reqwest::StatusCode;
use shared::ErrorCode;
use shared::auth::RegisterDeviceRequest;
use shared::sync::{MutationOp, MutationOutcome, ProtocolVersion, PushRequest};
use shared::{DeviceId, InspectionId};
use sync_server::domain::integrity::{VersionProblem, verify_versions};

use crate::{inspector, login, setup, tablet};

fn refusal(resp: &shared::sync::PushResponse) -> ErrorCode {
    match &resp.results[0].outcome {
        MutationOutcome::Rejected { error } => error.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A push sent as built, without the helper's signing.
fn raw(device: DeviceId, m: shared::sync::Mutation) -> PushRequest {
    PushRequest {
        protocol: ProtocolVersion::CURRENT,
        device_id: device,
        mutations: vec![m],
        device_clock: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unsigned_foreign_and_altered_versions_are_refused_and_nothing_is_stored() {
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let site = fx.site("water1").id;
    let versions = || server.state.store.read().unwrap().count_versions().unwrap();

    // Unsigned.
    let i = water_body(site, vec![], None);
    let resp = a.push(&raw(da, submit(1, &i))).await.unwrap();
    assert_eq!(refusal(&resp), ErrorCode::SignatureInvalid);
    // Signed by another device's key.
    let mut m = submit(2, &i);
    let MutationOp::SubmitInspection { signature, .. } = &mut m.op else { unreachable!("a submission") };
    *signature = Some(sign(&test_key(DeviceId::new()), &i));
    assert_eq!(refusal(&a.push(&raw(da, m)).await.unwrap()), ErrorCode::SignatureInvalid);
    // Signed, then changed on the way.
    let mut m = submit(3, &i);
    let MutationOp::SubmitInspection { inspection, signature } = &mut m.op else {
        unreachable!("a submission")
    };
    *signature = Some(sign(&test_key(da), inspection));
    inspection.notes = "改过的内容".into();
    assert_eq!(refusal(&a.push(&raw(da, m)).await.unwrap()), ErrorCode::SignatureInvalid);
    // Garbage where the signature goes.
    let mut m = submit(4, &i);
    let MutationOp::SubmitInspection { signature, .. } = &mut m.op else { unreachable!("a submission") };
    *signature = Some("not base64!".into());
    assert_eq!(refusal(&a.push(&raw(da, m)).await.unwrap()), ErrorCode::SignatureInvalid);
    assert_eq!(versions(), 0, "nothing refused was stored");

    // Properly signed: applied, and the signature is kept with the version.
    let resp = a.push(&batch(da, vec![submit(5, &i)])).await.unwrap();
    assert!(matches!(resp.results[0].outcome, MutationOutcome::Applied { .. }), "{resp:?}");
    assert_eq!(versions(), 1);
    let report = verify_versions(server.state.store.as_ref()).unwrap();
    assert_eq!((report.checked, report.problems), (1, vec![]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_device_key_is_set_once_and_a_device_without_one_cannot_push() {
    let (server, fx) = setup().await;
    let a = login(&server, "inspector_a").await;
    let register = |device, key: Option<String>| RegisterDeviceRequest {
        device_id: device,
        name: "平板".into(),
        platform: "test".into(),
        public_key: key,
    };
    // Registered without a key (an app from before devices signed): its pushes are refused.
    let legacy = DeviceId::new();
    let info: shared::auth::DeviceInfo =
        a.send_json(reqwest::Method::POST, "/api/v1/devices", &register(legacy, None)).await.unwrap();
    assert_eq!(info.public_key, None);
    let i = water_body(fx.site("water1").id, vec![], None);
    assert_eq!(
        refusal(&a.push(&batch(legacy, vec![submit(1, &i)])).await.unwrap()),
        ErrorCode::SignatureInvalid
    );
    // It brings its key at the next registration; then it pushes.
    let info: shared::auth::DeviceInfo = a
        .send_json(reqwest::Method::POST, "/api/v1/devices", &register(legacy, Some(public_key(legacy))))
        .await
        .unwrap();
    assert_eq!(info.public_key, Some(public_key(legacy)));
    let resp = a.push(&batch(legacy, vec![submit(2, &i)])).await.unwrap();
    assert!(matches!(resp.results[0].outcome, MutationOutcome::Applied { .. }), "{resp:?}");
    // A different key for the same device is refused; so is one that is no key at all.
    let other = base64::engine::general_purpose::STANDARD
        .encode(test_key(DeviceId::new()).verifying_key().to_bytes());
    let json = Some("application/json");
    let (status, body) = a
        .raw(
            reqwest::Method::POST,
            "/api/v1/devices",
            json,
            serde_json::to_vec(&register(legacy, Some(other))).unwrap(),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{body}");
    let bad = serde_json::to_vec(&register(DeviceId::new(), Some("AAAA".into()))).unwrap();
    let (status, body) = a.raw(reqwest::Method::POST, "/api/v1/devices", json, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "public_key");
    // The key on file is still the first one.
    let resp = a
        .push(&batch(legacy, vec![submit(3, &water_body(fx.site("water1").id, vec![], None))]))
        .await
        .unwrap();
    assert!(matches!(resp.results[0].outcome, MutationOutcome::Applied { .. }), "{resp:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_signs_what_it_queues_and_verify_finds_an_edited_version() {
    let (server, fx) = setup().await;
    let (_dir, core, client) = tablet(&server.base, "inspector_a").await;
    let water = core.site(&fx.site("water1").id).unwrap().expect("site pulled");
    let mut ids: Vec<InspectionId> = Vec::new();
    for n in 0..3 {
        let mut i = water_body(water.id, vec![], None);
        i.notes = format!("第 {n} 条");
        core.save_draft(&i).unwrap();
        core.submit(&i.id).unwrap();
        ids.push(i.id);
    }
    let report = sync::sync_once(&core, &client, &mut |_| {}).await.unwrap();
    assert_eq!(report.pushed, 3);
    let store = server.state.store.as_ref();
    let checked = verify_versions(store).unwrap();
    assert_eq!((checked.checked, checked.problems), (3, vec![]));

    // A database administrator changes what an inspector recorded.
    let db = server.dba();
    let edited = ids[1].to_string();
    db.execute(
        if db.is_postgres() {
            "UPDATE versions SET data = jsonb_set(data::jsonb, '{notes}', '\"水质良好\"')::text WHERE record_id = ?1"
        } else {
            "UPDATE versions SET data = json_set(data, '$.notes', '水质良好') WHERE record_id = ?1"
        },
        &[edited.as_str().into()],
    );
    let problems = verify_versions(store).unwrap().problems;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(matches!(&problems[0], VersionProblem::Altered { record, version: 1, .. } if *record == edited));
}
