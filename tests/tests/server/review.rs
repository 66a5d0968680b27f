use qingliu_tests::records::*;
use reqwest::StatusCode;
use shared::ErrorCode;
use shared::inspection::FacilityRunningState;
use shared::review::{ReviewDecision, ReviewStatus};
use shared::site::SiteStatus;
use shared::sync::{Change, MutationOutcome, PullScope};

use crate::{assert_counters_match_recount, fingerprint, inspector, login, setup};

fn progress_of(v: &serde_json::Value, key: &str) -> i64 {
    v[key].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn approval_applies_status_and_moves_counters() {
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let vi = village(fx.site("village1").id, Some(SiteStatus::Completed), Some(true));
    let wi = water_body(fx.site("water1").id, vec![], Some(SiteStatus::Eliminated));
    let fi = facility(fx.site("facility1").id, FacilityRunningState::Faulty);
    a.push(&batch(da, vec![submit(1, &vi), submit(2, &wi), submit(3, &fi)])).await.unwrap();

    let admin = login(&server, "admin").await;
    let before = admin.get::<serde_json::Value>("/api/v1/progress/420000?year=2026").await.unwrap();
    let r1 = login(&server, "reviewer_1").await;
    for id in [vi.id, wi.id, fi.id] {
        let rec = r1.review(id, 1, ReviewDecision::Approve, "").await.unwrap();
        assert_eq!(rec.status, ReviewStatus::Approved);
    }
    let after = admin.get::<serde_json::Value>("/api/v1/progress/420000?year=2026").await.unwrap();
    assert_eq!(progress_of(&after, "task_villages_done"), progress_of(&before, "task_villages_done") + 1);
    assert_eq!(
        progress_of(&after, "villages_sewage_treated"),
        progress_of(&before, "villages_sewage_treated") + 1
    );
    assert_eq!(progress_of(&after, "water_bodies_done"), progress_of(&before, "water_bodies_done") + 1);
    assert_eq!(progress_of(&after, "facilities_running"), progress_of(&before, "facilities_running") - 1);
    // The same at township level, and unchanged in the other county.
    let t1 = admin.get::<serde_json::Value>(&format!("/api/v1/progress/{}?year=2026", fx.t1)).await.unwrap();
    assert_eq!(progress_of(&t1, "task_villages_done"), 1);
    let t3 = admin.get::<serde_json::Value>(&format!("/api/v1/progress/{}?year=2026", fx.t3)).await.unwrap();
    assert_eq!(progress_of(&t3, "task_villages_done"), 0);
    assert_counters_match_recount(server.state.store.as_ref());

    // The inspector's device sees the new site status and the outcome.
    let (changes, _) = a.pull_all(PullScope::Inspector, None).await.unwrap();
    let site = changes.iter().find_map(|c| match c {
        Change::Site { site } if site.id == fx.site("village1").id => Some(site.clone()),
        _ => None,
    });
    assert_eq!(site.unwrap().status, Some(SiteStatus::Completed));
    // Final states do not move again.
    let err = r1.review(vi.id, 1, ReviewDecision::Reject, "改判").await.unwrap_err();
    assert_eq!((err.status, err.error.code), (StatusCode::CONFLICT, ErrorCode::IllegalTransition));
    // Audit: who did what, from which device.
    let detail = r1.inspection(vi.id).await.unwrap();
    let actions: Vec<_> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, ["submit", "approve"]);
    assert_eq!(detail["history"][0]["device_id"], da.to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn return_reaches_device_and_resubmission_is_version_two() {
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let v1 = water_body(fx.site("water1").id, vec![], None);
    a.push(&batch(da, vec![submit(1, &v1)])).await.unwrap();
    let r1 = login(&server, "reviewer_1").await;

    // Return needs a comment.
    let fp = fingerprint(&server);
    let err = r1.review(v1.id, 1, ReviewDecision::Return, "  ").await.unwrap_err();
    assert_eq!(err.error.code, ErrorCode::Required);
    assert_eq!(err.error.fields[0].field, "comment");
    assert_eq!(fingerprint(&server), fp);

    r1.review(v1.id, 1, ReviewDecision::Return, "照片不清晰，请补拍").await.unwrap();
    let (changes, cursor) = a.pull_all(PullScope::Inspector, None).await.unwrap();
    let rec = changes
        .iter()
        .find_map(|c| if let Change::Inspection { record } = c { Some(record.clone()) } else { None })
        .unwrap();
    assert_eq!(rec.status, ReviewStatus::Returned);
    assert_eq!(rec.review.as_ref().unwrap().comment, "照片不清晰，请补拍");

    // Resubmitting v1's content as v1 again is stale; v2 naming v1 is accepted.
    let v2 = next_version(&v1);
    let r = a.push(&batch(da, vec![submit(2, &v2)])).await.unwrap();
    assert!(matches!(r.results[0].outcome, MutationOutcome::Applied { .. }), "{:?}", r.results[0]);
    let detail = r1.inspection(v1.id).await.unwrap();
    assert_eq!(detail["record"]["status"], "submitted");
    assert_eq!(detail["record"]["inspection"]["version"], 2);
    assert_eq!(detail["record"]["inspection"]["replaces_version"], 1);
    assert_eq!(detail["versions"].as_array().unwrap().len(), 2);

    // Reviewing the old version is a conflict; the new one can be rejected with a reason.
    assert_eq!(
        r1.review(v1.id, 1, ReviewDecision::Approve, "").await.unwrap_err().error.code,
        ErrorCode::StaleVersion
    );
    assert_eq!(
        r1.review(v1.id, 2, ReviewDecision::Reject, "").await.unwrap_err().error.code,
        ErrorCode::Required
    );
    r1.review(v1.id, 2, ReviewDecision::Reject, "与现场不符").await.unwrap();
    let page = a.pull(PullScope::Inspector, Some(&cursor), None).await.unwrap();
    let rec = page
        .changes
        .iter()
        .find_map(|c| if let Change::Inspection { record } = c { Some(record.clone()) } else { None })
        .unwrap();
    assert_eq!(rec.status, ReviewStatus::Rejected);
    assert_eq!(rec.review.unwrap().comment, "与现场不符");

    // A rejected record cannot be resubmitted.
    let v3 = next_version(&v2);
    let r = a.push(&batch(da, vec![submit(3, &v3)])).await.unwrap();
    match &r.results[0].outcome {
        MutationOutcome::Conflict { error, server } => {
            assert_eq!(error.code, ErrorCode::IllegalTransition);
            assert_eq!(server.as_ref().unwrap().status, ReviewStatus::Rejected);
        }
        o => panic!("{o:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn illegal_proposed_transition_is_refused() {
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    // water1 is remediating; "accepted" skips "eliminated".
    let bad = water_body(fx.site("water1").id, vec![], Some(SiteStatus::Accepted));
    let r = a.push(&batch(da, vec![submit(1, &bad)])).await.unwrap();
    match &r.results[0].outcome {
        MutationOutcome::Rejected { error } => {
            assert!(
                error
                    .fields
                    .iter()
                    .any(|f| f.field == "proposed_status" && f.code == ErrorCode::IllegalTransition)
            )
        }
        o => panic!("{o:?}"),
    }
    // Two approvals racing for one site: the second finds the site already moved.
    let x = village(fx.site("village2").id, Some(SiteStatus::Completed), None);
    let y = village(fx.site("village2").id, Some(SiteStatus::Completed), None);
    a.push(&batch(da, vec![submit(2, &x), submit(3, &y)])).await.unwrap();
    let r1 = login(&server, "reviewer_1").await;
    r1.review(x.id, 1, ReviewDecision::Approve, "").await.unwrap();
    // Completed → completed is no change: approving y is fine and moves nothing.
    let fp = fingerprint(&server);
    r1.review(y.id, 1, ReviewDecision::Approve, "").await.unwrap();
    assert_eq!(fingerprint(&server)["counters"], fp["counters"]);
    assert_counters_match_recount(server.state.store.as_ref());
}

#[tokio::test(flavor = "multi_thread")]
async fn approval_that_became_illegal_changes_nothing() {
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    // Both propose completed while the village is in progress: legal when submitted.
    let first = village(fx.site("village3").id, Some(SiteStatus::Completed), None);
    let second = village(fx.site("village3").id, Some(SiteStatus::Completed), None);
    a.push(&batch(da, vec![submit(1, &first), submit(2, &second)])).await.unwrap();
    let r1 = login(&server, "reviewer_1").await;
    r1.review(first.id, 1, ReviewDecision::Approve, "").await.unwrap();
    // Accepted next (completed → accepted), so `second`'s completed is now a step back.
    let accept = village(fx.site("village3").id, Some(SiteStatus::Accepted), None);
    a.push(&batch(da, vec![submit(3, &accept)])).await.unwrap();
    r1.review(accept.id, 1, ReviewDecision::Approve, "").await.unwrap();

    let fp = fingerprint(&server);
    let err = r1.review(second.id, 1, ReviewDecision::Approve, "").await.unwrap_err();
    assert_eq!((err.status, err.error.code), (StatusCode::CONFLICT, ErrorCode::IllegalTransition));
    assert_eq!(
        fingerprint(&server),
        fp,
        "a failed approval leaves record, site, counters and audit untouched"
    );
    // It can still be returned.
    r1.review(second.id, 1, ReviewDecision::Return, "点位已验收，请核实").await.unwrap();
    assert_counters_match_recount(server.state.store.as_ref());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_version_cannot_move_to_another_site() {
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let v1 = village(fx.site("village1").id, None, None);
    a.push(&batch(da, vec![submit(1, &v1)])).await.unwrap();
    let r1 = login(&server, "reviewer_1").await;
    r1.review(v1.id, 1, ReviewDecision::Return, "改").await.unwrap();
    let mut v2 = next_version(&v1);
    v2.site_id = fx.site("village2").id;
    let r = a.push(&batch(da, vec![submit(2, &v2)])).await.unwrap();
    match &r.results[0].outcome {
        MutationOutcome::Rejected { error } => {
            assert!(error.fields.iter().any(|f| f.field == "site_id" && f.code == ErrorCode::Inconsistent))
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(r1.inspection(v1.id).await.unwrap()["versions"].as_array().unwrap().len(), 1);
}
