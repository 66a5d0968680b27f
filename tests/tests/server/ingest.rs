use qingliu_tests::records::*;
use shared::review::ReviewStatus;
use shared::sync::{Change, MutationOutcome, PullScope};

use crate::{fingerprint, inspector, setup};

#[tokio::test(flavor = "multi_thread")]
async fn submission_round_trip_with_photo() {
    let (server, fx) = setup().await;
    let (c, device) = inspector(&server, "inspector_a").await;
    let photo = b"\xFF\xD8\xFF\xE0 not really a jpeg but bytes are bytes".repeat(100);
    let i = water_body(fx.site("water1").id, vec![photo_ref(&photo)], None);

    // Without the photo on the server, nothing is applied and the hash is named.
    let r = c.push(&batch(device, vec![submit(1, &i)])).await.unwrap();
    assert_eq!(r.last_applied_seq, 0);
    match &r.results[0].outcome {
        MutationOutcome::MissingBlobs { hashes } => {
            assert_eq!(hashes, &vec![photo_ref(&photo).sha256])
        }
        other => panic!("expected missing_blobs, got {other:?}"),
    }
    assert!(c.inspection(i.id).await.is_err());

    let st = c.upload(&photo, 1000).await.unwrap();
    assert!(st.complete);
    let r = c.push(&batch(device, vec![submit(1, &i)])).await.unwrap();
    assert!(matches!(r.results[0].outcome, MutationOutcome::Applied { .. }), "{:?}", r.results[0]);
    assert_eq!(r.last_applied_seq, 1);

    let detail = c.inspection(i.id).await.unwrap();
    assert_eq!(detail["record"]["status"], "submitted");
    let stored: shared::inspection::Inspection =
        serde_json::from_value(detail["record"]["inspection"].clone()).unwrap();
    assert_eq!(stored, i, "the server holds exactly what was sent");
    assert_eq!(c.download(&photo_ref(&photo).sha256).await.unwrap(), photo, "photo bytes identical");

    // Pull gives the record back to its author with its status.
    let (changes, _) = c.pull_all(PullScope::Inspector, None).await.unwrap();
    let mine: Vec<_> = changes
        .iter()
        .filter_map(|ch| match ch {
            Change::Inspection { record } => Some(record),
            _ => None,
        })
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].status, ReviewStatus::Submitted);
    assert_eq!(mine[0].inspection.id, i.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn all_kinds_are_accepted() {
    let (server, fx) = setup().await;
    let (c, device) = inspector(&server, "inspector_a").await;
    let batch_ = batch(
        device,
        vec![
            submit(1, &water_body(fx.site("water1").id, vec![], None)),
            submit(2, &facility(fx.site("facility1").id, shared::inspection::FacilityRunningState::Faulty)),
            submit(3, &enforcement(fx.site("enterprise1").id)),
            submit(
                4,
                &village(fx.site("village1").id, Some(shared::site::SiteStatus::Completed), Some(true)),
            ),
        ],
    );
    let r = c.push(&batch_).await.unwrap();
    for res in &r.results {
        assert!(matches!(res.outcome, MutationOutcome::Applied { .. }), "{res:?}");
    }
    assert_eq!(r.last_applied_seq, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn same_batch_twice_is_one_copy() {
    let (server, fx) = setup().await;
    let (c, device) = inspector(&server, "inspector_a").await;
    let a = water_body(fx.site("water1").id, vec![], None);
    let b = village(fx.site("village2").id, None, None);
    let req = batch(device, vec![submit(1, &a), submit(2, &b)]);
    let first = c.push(&req).await.unwrap();
    let fp = fingerprint(&server);
    let second = c.push(&req).await.unwrap();
    assert_eq!(fingerprint(&server), fp, "a repeat changes nothing");
    for (x, y) in first.results.iter().zip(&second.results) {
        assert!(!x.duplicate);
        assert!(y.duplicate, "repeat is marked duplicate");
        assert_eq!(x.outcome, y.outcome, "repeat answers with the original result");
    }
    let records = server.state.store.read().unwrap().count_records().unwrap();
    assert_eq!(records, vec![(ReviewStatus::Submitted, 2)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn lost_response_then_retry_is_one_copy() {
    let (server, fx) = setup().await;
    let (c, device) = inspector(&server, "inspector_a").await;
    let a = water_body(fx.site("water1").id, vec![], None);
    let req = batch(device, vec![submit(1, &a)]);
    // Send the push over a raw connection and close it without reading the answer: the server
    // commits, the device never learns.
    lose_response(&server, c.token.as_deref().unwrap(), &serde_json::to_vec(&req).unwrap()).await;
    // The device retries the same queue entry, plus its next one.
    let b = water_body(fx.site("water1").id, vec![], None);
    let retry = batch(device, vec![req.mutations[0].clone(), submit(2, &b)]);
    let r = c.push(&retry).await.unwrap();
    assert!(r.results[0].duplicate);
    assert!(matches!(r.results[0].outcome, MutationOutcome::Applied { .. }));
    assert!(matches!(r.results[1].outcome, MutationOutcome::Applied { .. }) && !r.results[1].duplicate);
    assert_eq!(server.state.store.read().unwrap().count_versions().unwrap(), 2);
}

/// Write a push request on a raw TCP connection, wait until the server has answered (so it
/// has committed), then drop the connection unread.
async fn lose_response(server: &qingliu_tests::TestServer, token: &str, body: &[u8]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let head = format!(
        "POST /api/v1/sync/push HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    // One byte of the answer proves the handler finished; the rest is never read.
    let mut one = [0u8; 1];
    s.read_exact(&mut one).await.unwrap();
    drop(s);
}

#[tokio::test(flavor = "multi_thread")]
async fn gap_is_refused_and_nothing_after_it_applies() {
    let (server, fx) = setup().await;
    let (c, device) = inspector(&server, "inspector_a").await;
    let a = water_body(fx.site("water1").id, vec![], None);
    let b = water_body(fx.site("water1").id, vec![], None);
    let fp = fingerprint(&server);
    let r = c.push(&batch(device, vec![submit(2, &a), submit(3, &b)])).await.unwrap();
    assert_eq!(r.results.len(), 1, "processing stops at the gap");
    assert_eq!(r.results[0].outcome, MutationOutcome::Gap { expected_seq: 1 });
    assert_eq!(r.last_applied_seq, 0);
    assert_eq!(fingerprint(&server), fp);
    // A gap inside a batch: the prefix applies, the rest does not.
    let r = c.push(&batch(device, vec![submit(1, &a), submit(3, &b)])).await.unwrap();
    assert!(matches!(r.results[0].outcome, MutationOutcome::Applied { .. }));
    assert_eq!(r.results[1].outcome, MutationOutcome::Gap { expected_seq: 2 });
    assert_eq!(r.last_applied_seq, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn reused_sequence_number_is_refused() {
    let (server, fx) = setup().await;
    let (c, device) = inspector(&server, "inspector_a").await;
    let a = water_body(fx.site("water1").id, vec![], None);
    c.push(&batch(device, vec![submit(1, &a)])).await.unwrap();
    let other = water_body(fx.site("water1").id, vec![], None);
    let r = c.push(&batch(device, vec![submit(1, &other)])).await.unwrap();
    match &r.results[0].outcome {
        MutationOutcome::Rejected { error } => {
            assert_eq!(error.code, shared::ErrorCode::SequenceReused)
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(server.state.store.read().unwrap().count_versions().unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_mutation_does_not_block_the_queue() {
    let (server, fx) = setup().await;
    let (c, device) = inspector(&server, "inspector_a").await;
    let mut bad = enforcement(fx.site("enterprise1").id);
    if let shared::inspection::InspectionBody::Enforcement(e) = &mut bad.body {
        e.inspectors.truncate(1);
        e.inspector_signatures.truncate(1);
    }
    let good = water_body(fx.site("water1").id, vec![], None);
    let r = c.push(&batch(device, vec![submit(1, &bad), submit(2, &good)])).await.unwrap();
    match &r.results[0].outcome {
        MutationOutcome::Rejected { error } => {
            assert_eq!(error.code, shared::ErrorCode::ValidationFailed);
            assert!(
                error
                    .fields
                    .iter()
                    .any(|f| f.field == "body.inspectors" && f.code == shared::ErrorCode::TooFew)
            );
        }
        o => panic!("{o:?}"),
    }
    assert!(matches!(r.results[1].outcome, MutationOutcome::Applied { .. }));
    assert_eq!(r.last_applied_seq, 2);
    assert_eq!(server.state.store.read().unwrap().count_versions().unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn resent_content_under_new_sequence_is_not_duplicated() {
    let (server, fx) = setup().await;
    let (c, device) = inspector(&server, "inspector_a").await;
    let a = water_body(fx.site("water1").id, vec![], None);
    c.push(&batch(device, vec![submit(1, &a)])).await.unwrap();
    // A device that lost its acknowledgement and re-queued the same record under seq 2.
    let r = c.push(&batch(device, vec![submit(2, &a)])).await.unwrap();
    assert!(matches!(r.results[0].outcome, MutationOutcome::Applied { .. }));
    assert_eq!(server.state.store.read().unwrap().count_versions().unwrap(), 1);
    // Different content under the same id and version is a conflict with the server's side.
    let mut changed = a.clone();
    changed.notes = "改过的内容".into();
    let r = c.push(&batch(device, vec![submit(3, &changed)])).await.unwrap();
    match &r.results[0].outcome {
        MutationOutcome::Conflict { error, server } => {
            assert_eq!(error.code, shared::ErrorCode::StaleVersion);
            assert_eq!(server.as_ref().unwrap().inspection, a);
        }
        o => panic!("{o:?}"),
    }
}

/// One batch naming a record twice: the second mutation must see what the first applied in
/// the same write transaction, with the cross-record checks on (the product) and off (the
/// bulk-load switch), although the batch's look-ups were read on a snapshot before either.
#[tokio::test(flavor = "multi_thread")]
async fn a_record_named_twice_in_one_batch_sees_itself() {
    for checks in [true, false] {
        let server = qingliu_tests::TestServer::start_with(|c| c.flags.cross_record_checks = checks).await;
        let fx = qingliu_tests::fixture::install(server.state.store.as_ref());
        let (c, device) = inspector(&server, "inspector_a").await;
        let a = water_body(fx.site("water1").id, vec![], None);
        let mut next = a.clone();
        next.version = 2;
        next.replaces_version = Some(1);
        let r = c.push(&batch(device, vec![submit(1, &a), submit(2, &a), submit(3, &next)])).await.unwrap();
        assert!(
            matches!(r.results[0].outcome, MutationOutcome::Applied { .. }),
            "checks {checks}: {:?}",
            r.results[0]
        );
        assert!(
            matches!(r.results[1].outcome, MutationOutcome::Applied { .. }),
            "checks {checks}: {:?}",
            r.results[1]
        );
        // A second version of a record nobody returned is refused as a transition, not as a
        // record the server does not have.
        match &r.results[2].outcome {
            MutationOutcome::Conflict { error, .. } => {
                assert_eq!(error.code, shared::ErrorCode::IllegalTransition, "checks {checks}")
            }
            o => panic!("checks {checks}: {o:?}"),
        }
        assert_eq!(server.state.store.read().unwrap().count_versions().unwrap(), 1, "checks {checks}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_versions_and_photo_sizes_are_refused_without_harm() {
    let (server, fx) = setup().await;
    let (c, device) = inspector(&server, "inspector_a").await;
    // A replaced version at the top of the range must not overflow anything.
    let mut evil = water_body(fx.site("water1").id, vec![], None);
    evil.version = 2;
    evil.replaces_version = Some(u32::MAX);
    // A photo whose stated size differs from what the server holds.
    let photo = vec![7u8; 3000];
    c.upload(&photo, 1000).await.unwrap();
    let mut lying = photo_ref(&photo);
    lying.bytes = 10;
    let sized = water_body(fx.site("water1").id, vec![lying], None);
    let r = c.push(&batch(device, vec![submit(1, &evil), submit(2, &sized)])).await.unwrap();
    match &r.results[0].outcome {
        MutationOutcome::Rejected { error } => {
            assert!(error.fields.iter().any(|f| f.field == "replaces_version"), "{error:?}")
        }
        o => panic!("{o:?}"),
    }
    match &r.results[1].outcome {
        MutationOutcome::Rejected { error } => {
            assert!(error.fields.iter().any(|f| f.field == "photos[0].bytes"), "{error:?}")
        }
        o => panic!("{o:?}"),
    }
    // The server keeps working, and both refusals are in the audit log.
    let ok = water_body(fx.site("water1").id, vec![photo_ref(&photo)], None);
    let r = c.push(&batch(device, vec![submit(3, &ok)])).await.unwrap();
    assert!(matches!(r.results[0].outcome, MutationOutcome::Applied { .. }));
    assert!(server.state.store.read().unwrap().count_audit().unwrap() >= 5);
}
