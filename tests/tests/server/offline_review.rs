//! Review on the tablet, offline (the app core and its sync client against the real server):
//! two reviewers of one township decide the same record without a link; whichever syncs first
//! stands, the other is a visible conflict carrying the server's side; counters move once; the
//! inspector's tablet receives exactly the decision that stands.

use qingliu_app::AppCore;
use qingliu_app::sync;
use qingliu_tests::invariants::counters_match_recount;
use qingliu_tests::records::*;
use reqwest::Method;
use shared::app::LocalState;
use shared::auth::Role;
use shared::console::NewUser;
use shared::offline_review::{DecisionRequest, DecisionState, QueueFilter, QueueView};
use shared::review::{ReviewDecision, ReviewStatus};
use shared::sync::{Mutation, MutationOp, MutationOutcome};
use shared::{ErrorCode, MutationId};

use crate::{inspector, login, setup, tablet};

fn jpeg_like(n: usize, salt: u8) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0];
    v.extend((0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt)));
    v
}

/// A second reviewer of township t1, made by the province admin as in production.
async fn second_reviewer(server: &qingliu_tests::TestServer, fx: &qingliu_tests::fixture::Fixture) {
    let admin = login(server, "admin").await;
    let _: serde_json::Value = admin
        .send_json(
            Method::POST,
            "/api/v1/users",
            &NewUser {
                username: "reviewer_1b".into(),
                display_name: "第二审核员".into(),
                role: Role::TownshipReviewer,
                region: fx.t1,
                password: qingliu_tests::fixture::PASSWORD.into(),
                villages: vec![],
            },
        )
        .await
        .expect("second reviewer created");
}

/// A submitted water-body record of inspector_a with two photos, made on their tablet, proposing
/// that the water body is eliminated (approval moves the site and the province's counters).
async fn submitted_record(
    core: &AppCore,
    client: &sync::SyncClient,
    site: shared::SiteId,
    salt: u8,
) -> shared::InspectionId {
    let mut refs = Vec::new();
    for (n, size) in [(0u8, 90_000), (1, 30_000)] {
        let bytes = jpeg_like(size, salt.wrapping_add(n));
        let r = photo_ref(&bytes);
        core.keep_photo(&bytes, &r, None).unwrap();
        refs.push(r);
    }
    let i = water_body(site, refs, Some(shared::site::SiteStatus::Eliminated));
    core.save_draft(&i).unwrap();
    core.submit(&i.id).unwrap();
    assert_eq!(sync::sync_once(core, client, &mut |_| {}).await.unwrap().pushed, 1);
    i.id
}

fn req(
    record_id: shared::InspectionId,
    version: u32,
    decision: ReviewDecision,
    comment: &str,
) -> DecisionRequest {
    DecisionRequest { record_id, version, decision, comment: comment.into() }
}

fn pending(core: &AppCore) -> Vec<shared::offline_review::ReviewItem> {
    core.review_items(&QueueFilter::default(), 1000).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_offline_reviewers_disagree_and_the_first_to_sync_stands_in_either_order() {
    for approve_first in [true, false] {
        let (server, fx) = setup().await;
        second_reviewer(&server, &fx).await;
        let (_d0, field, field_client) = tablet(&server.base, "inspector_a").await;
        let id = submitted_record(&field, &field_client, fx.site("water1").id, 7).await;

        // Both reviewers sync while a link exists: the queue, its detail and its photos arrive.
        let (_d1, r1, c1) = tablet(&server.base, "reviewer_1").await;
        let (_d2, r2, c2) = tablet(&server.base, "reviewer_1b").await;
        for r in [&r1, &r2] {
            assert!(r.review_mode().unwrap());
            let q = pending(r);
            assert_eq!(q.len(), 1, "the township's one submitted record");
            assert_eq!(q[0].record.inspection.id, id);
            assert!(q[0].ready_offline(), "detail and both photos fetched: {:?}", q[0]);
            assert!(r.review_detail(&id).unwrap().is_some_and(|d| d.versions.len() == 1));
            // Photos arrive as the server holds them.
            for p in &q[0].record.inspection.photos {
                let local = std::fs::read(r.photo_path(&p.sha256).unwrap()).unwrap();
                assert_eq!(local, std::fs::read(field.photo_path(&p.sha256).unwrap()).unwrap());
            }
        }

        // Offline, they disagree.
        let approve = req(id, 1, ReviewDecision::Approve, "");
        let ret = req(id, 1, ReviewDecision::Return, "水深未测量，请补充");
        let d1 = r1.decide(&[approve]).unwrap();
        let d2 = r2.decide(&[ret]).unwrap();
        assert_eq!((d1[0].state, d2[0].state), (DecisionState::Queued, DecisionState::Queued));
        assert!(pending(&r1).is_empty() && pending(&r2).is_empty(), "decided offline: no longer pending");
        assert_eq!(r1.pending_count().unwrap(), 1);

        let (first, first_core, first_client, second, second_core, second_client) = if approve_first {
            (ReviewStatus::Approved, &r1, &c1, ReviewStatus::Returned, &r2, &c2)
        } else {
            (ReviewStatus::Returned, &r2, &c2, ReviewStatus::Approved, &r1, &c1)
        };
        let a = sync::sync_once(first_core, first_client, &mut |_| {}).await.unwrap();
        assert_eq!((a.pushed, a.conflicts), (1, 0));
        let b = sync::sync_once(second_core, second_client, &mut |_| {}).await.unwrap();
        assert_eq!((b.pushed, b.conflicts), (0, 1));

        // The first stands; the second is a conflict that shows the server's side.
        let won = first_core.review_item(&id).unwrap();
        assert_eq!(won.decision.as_ref().unwrap().state, DecisionState::Synced);
        assert_eq!(won.record.status, first, "the pull brought the outcome");
        let lost = second_core.review_item(&id).unwrap();
        let mine = lost.decision.clone().unwrap();
        assert_eq!(mine.state, DecisionState::Conflict);
        assert_eq!(mine.decision.outcome(), second);
        let theirs = mine.server.as_ref().expect("server's side");
        assert_eq!(theirs.status, first);
        assert_eq!(lost.record.status, first);
        assert_eq!(mine.error.as_ref().unwrap().code, ErrorCode::IllegalTransition);
        let conflicts = QueueFilter { view: QueueView::Conflicts, ..Default::default() };
        assert_eq!(second_core.review_items(&conflicts, 10).unwrap().len(), 1);
        assert_eq!(second_core.review_counts().unwrap().conflicts, 1);

        // The site moved only if the approval stood, once: counters equal a recount.
        let site = server.state.store.read().unwrap().site(&fx.site("water1").id).unwrap().unwrap();
        let expected_site = if approve_first {
            shared::site::SiteStatus::Eliminated
        } else {
            shared::site::SiteStatus::Remediating
        };
        assert_eq!(site.status, Some(expected_site));
        // Nothing applied twice: one decision in the audit log.
        let audit = server.state.store.read().unwrap().audit_for(&id.to_string()).unwrap();
        let decisions: Vec<_> =
            audit.iter().filter(|e| matches!(e.action.as_str(), "approve" | "return" | "reject")).collect();
        assert_eq!(decisions.len(), 1, "{audit:?}");
        assert!(decisions[0].device_id.is_some(), "the deciding tablet is in the audit entry");
        counters_match_recount(server.state.store.as_ref()).unwrap();

        // Syncing again sends nothing and the conflict stays visible until dropped.
        let again = sync::sync_once(second_core, second_client, &mut |_| {}).await.unwrap();
        assert_eq!((again.pushed, again.conflicts), (0, 0));
        let dropped = second_core.drop_decision(mine.seq).unwrap();
        assert_eq!(dropped.state, DecisionState::Dropped);
        assert_eq!(second_core.review_counts().unwrap().conflicts, 0);
        assert!(
            second_core.decide(&[req(id, 1, ReviewDecision::Approve, "")]).is_err(),
            "the record is decided: nothing to decide again"
        );

        // The inspector's tablet receives exactly the decision that stands.
        sync::sync_once(&field, &field_client, &mut |_| {}).await.unwrap();
        let s = field.summary(&id).unwrap();
        let expected = if approve_first { LocalState::Approved } else { LocalState::Returned };
        assert_eq!(s.state, expected);
        let note = s.review.unwrap();
        assert_eq!(note.decision.outcome(), first);
        if !approve_first {
            assert_eq!(note.comment, "水深未测量，请补充");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_decision_on_a_version_replaced_meanwhile_conflicts_and_can_be_made_again() {
    let (server, fx) = setup().await;
    let (_d0, field, field_client) = tablet(&server.base, "inspector_a").await;
    let id = submitted_record(&field, &field_client, fx.site("water1").id, 3).await;
    let (_d1, tab, client) = tablet(&server.base, "reviewer_1").await;

    // In the console, the record is returned and the inspector resubmits version 2 while the
    // tablet is offline holding version 1.
    let console = login(&server, "reviewer_1").await;
    console.review(id, 1, ReviewDecision::Return, "照片不清晰").await.unwrap();
    sync::sync_once(&field, &field_client, &mut |_| {}).await.unwrap();
    let v2 = field.start_correction(&id).unwrap();
    field.save_draft(&v2).unwrap();
    field.submit(&id).unwrap();
    sync::sync_once(&field, &field_client, &mut |_| {}).await.unwrap();

    tab.decide(&[req(id, 1, ReviewDecision::Approve, "")]).unwrap();
    let r = sync::sync_once(&tab, &client, &mut |_| {}).await.unwrap();
    assert_eq!(r.conflicts, 1);
    let item = tab.review_item(&id).unwrap();
    let mine = item.decision.clone().unwrap();
    assert_eq!(mine.state, DecisionState::Conflict);
    assert_eq!(mine.error.as_ref().unwrap().code, ErrorCode::StaleVersion);
    assert_eq!(mine.server.as_ref().unwrap().inspection.version, 2);
    assert_eq!((item.record.inspection.version, item.record.status), (2, ReviewStatus::Submitted));
    assert!(item.awaits_decision(), "version 2 waits for a decision");
    assert!(item.ready_offline(), "version 2's detail was fetched");

    // Decided again on what the server holds now: it stands.
    tab.decide(&[req(id, 2, ReviewDecision::Approve, "")]).unwrap();
    let r = sync::sync_once(&tab, &client, &mut |_| {}).await.unwrap();
    assert_eq!((r.pushed, r.conflicts), (1, 0));
    assert_eq!(tab.review_item(&id).unwrap().record.status, ReviewStatus::Approved);
    sync::sync_once(&field, &field_client, &mut |_| {}).await.unwrap();
    assert_eq!(field.summary(&id).unwrap().state, LocalState::Approved);
    counters_match_recount(server.state.store.as_ref()).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn bulk_decisions_are_all_or_none_and_checked_offline() {
    let (server, fx) = setup().await;
    let (_d0, field, field_client) = tablet(&server.base, "inspector_a").await;
    let a = submitted_record(&field, &field_client, fx.site("water1").id, 11).await;
    let b = submitted_record(&field, &field_client, fx.site("water1").id, 12).await;
    let (_d1, tab, client) = tablet(&server.base, "reviewer_1").await;
    assert_eq!(tab.review_counts().unwrap().pending, 2);

    // One return without a comment spoils the batch: nothing is queued.
    let err = tab
        .decide(&[req(a, 1, ReviewDecision::Approve, ""), req(b, 1, ReviewDecision::Return, " ")])
        .unwrap_err();
    assert_eq!(err.0.fields[0].field, "comment");
    assert_eq!(tab.pending_count().unwrap(), 0);
    assert_eq!(tab.review_counts().unwrap().pending, 2);

    let made = tab
        .decide(&[req(a, 1, ReviewDecision::Approve, ""), req(b, 1, ReviewDecision::Reject, "重复提交")])
        .unwrap();
    assert_eq!(made.len(), 2);
    assert_eq!(made[1].seq, made[0].seq + 1, "consecutive device sequence numbers");
    let r = sync::sync_once(&tab, &client, &mut |_| {}).await.unwrap();
    assert_eq!(r.pushed, 2);
    sync::sync_once(&field, &field_client, &mut |_| {}).await.unwrap();
    assert_eq!(field.summary(&a).unwrap().state, LocalState::Approved);
    assert_eq!(field.summary(&b).unwrap().state, LocalState::Rejected);
    counters_match_recount(server.state.store.as_ref()).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn each_role_pushes_only_its_own_kind_of_mutation_and_a_repeat_is_answered_from_the_first() {
    let (server, fx) = setup().await;
    let (insp, insp_device) = inspector(&server, "inspector_a").await;
    let i = water_body(fx.site("water1").id, vec![], None);
    let r = insp.push(&batch(insp_device, vec![submit(1, &i)])).await.unwrap();
    assert!(matches!(r.results[0].outcome, MutationOutcome::Applied { .. }));

    let review = |seq, decision, comment: &str| Mutation {
        seq,
        mutation_id: MutationId::new(),
        op: MutationOp::Review {
            record_id: i.id,
            version: 1,
            decision,
            comment: comment.into(),
            signature: None,
        },
    };
    // An inspector cannot review, not even their own record.
    let r = insp.push(&batch(insp_device, vec![review(2, ReviewDecision::Approve, "")])).await.unwrap();
    let MutationOutcome::Rejected { error } = &r.results[0].outcome else { panic!("{r:?}") };
    assert_eq!(error.code, ErrorCode::Forbidden);

    let reviewer = login(&server, "reviewer_1").await;
    let device = shared::DeviceId::new();
    reviewer.register_device(device, "审核平板").await.unwrap();
    // A reviewer cannot submit inspections.
    let other = water_body(fx.site("water1").id, vec![], None);
    let r = reviewer.push(&batch(device, vec![submit(1, &other)])).await.unwrap();
    let MutationOutcome::Rejected { error } = &r.results[0].outcome else { panic!("{r:?}") };
    assert_eq!(error.code, ErrorCode::Forbidden);
    // A return without a comment is refused for good, and names the field.
    let r = reviewer.push(&batch(device, vec![review(2, ReviewDecision::Return, "  ")])).await.unwrap();
    let MutationOutcome::Rejected { error } = &r.results[0].outcome else { panic!("{r:?}") };
    assert_eq!(error.fields[0].field, "comment");
    // A decision its device did not sign, or whose signature covers another decision, counts
    // for nothing (the device key is the test key of `device`).
    let unsigned = shared::sync::PushRequest {
        protocol: shared::sync::ProtocolVersion::CURRENT,
        device_id: device,
        mutations: vec![review(3, ReviewDecision::Approve, "")],
        device_clock: None,
    };
    let r = reviewer.push(&unsigned).await.unwrap();
    let MutationOutcome::Rejected { error } = &r.results[0].outcome else { panic!("{r:?}") };
    assert_eq!(error.code, ErrorCode::SignatureInvalid);
    let mut forged = batch(device, vec![review(4, ReviewDecision::Approve, "")]);
    if let MutationOp::Review { decision, .. } = &mut forged.mutations[0].op {
        // Signed as an approval, sent as a rejection.
        *decision = ReviewDecision::Reject;
    }
    if let MutationOp::Review { comment, .. } = &mut forged.mutations[0].op {
        *comment = "伪造".into();
    }
    let r = reviewer.push(&forged).await.unwrap();
    let MutationOutcome::Rejected { error } = &r.results[0].outcome else { panic!("{r:?}") };
    assert_eq!(error.code, ErrorCode::SignatureInvalid);
    // A reviewer of another township sees no such record.
    let far = login(&server, "reviewer_2").await;
    let far_device = shared::DeviceId::new();
    far.register_device(far_device, "审核平板").await.unwrap();
    let r = far.push(&batch(far_device, vec![review(1, ReviewDecision::Approve, "")])).await.unwrap();
    let MutationOutcome::Rejected { error } = &r.results[0].outcome else { panic!("{r:?}") };
    assert_eq!(error.code, ErrorCode::NotFound);

    // Applied once; the same mutation again (a lost answer) is answered from the first.
    let approve = review(5, ReviewDecision::Approve, "");
    let first = reviewer.push(&batch(device, vec![approve.clone()])).await.unwrap();
    assert!(matches!(first.results[0].outcome, MutationOutcome::Applied { .. }));
    let repeat = reviewer.push(&batch(device, vec![approve])).await.unwrap();
    assert!(repeat.results[0].duplicate);
    assert_eq!(repeat.results[0].outcome, first.results[0].outcome);
    let audit = server.state.store.read().unwrap().audit_for(&i.id.to_string()).unwrap();
    let approvals: Vec<_> = audit.iter().filter(|e| e.action == "approve").collect();
    assert_eq!(approvals.len(), 1);
    // The decision's signature is kept in its audit entry, and verifies against the device key.
    let sig = approvals[0].detail["signature"].as_str().expect("signature kept");
    assert!(sync_server::signatures::verifies_bytes(
        &public_key(device),
        &shared::signing::review_bytes(&i.id, 1, ReviewDecision::Approve, ""),
        sig
    ));
    counters_match_recount(server.state.store.as_ref()).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn viewers_are_sent_to_the_console_and_leave_no_session_behind() {
    let (server, _fx) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let core = AppCore::open(dir.path()).unwrap();
    let err =
        sync::login(&core, &server.base, "county_1", qingliu_tests::fixture::PASSWORD).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Forbidden);
    assert!(core.user().unwrap().is_none() && !core.review_mode().unwrap());
    assert_eq!(core.meta(qingliu_app::core::keys::TOKEN).unwrap(), None);
}
