use qingliu_tests::records::*;
use reqwest::StatusCode;
use shared::ErrorCode;
use shared::review::ReviewDecision;
use shared::sync::{Change, MutationOutcome, PullScope};

use crate::{fingerprint, inspector, login, setup};

#[tokio::test(flavor = "multi_thread")]
async fn inspectors_see_only_their_own_records_and_assigned_sites() {
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let (b, db) = inspector(&server, "inspector_b").await;
    let ia = water_body(fx.site("water1").id, vec![], None);
    let ib = water_body(fx.site("water2").id, vec![], None);
    a.push(&batch(da, vec![submit(1, &ia)])).await.unwrap();
    b.push(&batch(db, vec![submit(1, &ib)])).await.unwrap();

    assert_eq!(b.inspection(ia.id).await.unwrap_err().status, StatusCode::NOT_FOUND);
    assert_eq!(a.inspection(ib.id).await.unwrap_err().status, StatusCode::NOT_FOUND);

    let (changes, _) = a.pull_all(PullScope::Inspector, None).await.unwrap();
    let mut records = 0;
    for ch in &changes {
        match ch {
            Change::Inspection { record } => {
                records += 1;
                assert_eq!(record.inspection.id, ia.id, "only A's own record");
            }
            Change::Site { site } => {
                assert!(fx.t1.contains(&site.village), "site outside A's villages: {}", site.village)
            }
        }
    }
    assert_eq!(records, 1);
    let site_ids: Vec<_> = changes
        .iter()
        .filter_map(|c| if let Change::Site { site } = c { Some(site.id) } else { None })
        .collect();
    for name in ["village1", "water1", "facility1", "enterprise1"] {
        assert!(site_ids.contains(&fx.site(name).id), "{name} missing from A's sites");
    }
    for name in ["village4", "water_unassigned", "water2"] {
        assert!(!site_ids.contains(&fx.site(name).id), "{name} is not in A's assigned villages");
    }
    // Inside A's township but not assigned: refused like a missing site.
    let r = a
        .push(&batch(da, vec![submit(2, &water_body(fx.site("water_unassigned").id, vec![], None))]))
        .await
        .unwrap();
    match &r.results[0].outcome {
        MutationOutcome::Rejected { error } => assert_eq!(error.code, ErrorCode::NotFound),
        o => panic!("{o:?}"),
    }

    // A cannot submit for B's site: answered as not found, nothing stored.
    let fp = fingerprint(&server);
    let r =
        a.push(&batch(da, vec![submit(3, &water_body(fx.site("water2").id, vec![], None))])).await.unwrap();
    match &r.results[0].outcome {
        MutationOutcome::Rejected { error } => assert_eq!(error.code, ErrorCode::NotFound),
        o => panic!("{o:?}"),
    }
    let after = fingerprint(&server);
    assert_eq!(after["versions"], fp["versions"]);

    // A cannot push through B's device.
    let err = a.push(&batch(db, vec![submit(4, &ia)])).await.unwrap_err();
    assert_eq!(err.error.code, ErrorCode::DeviceOwnedByOtherUser);
    // And cannot register it.
    assert_eq!(a.register_device(db, "x").await.unwrap_err().error.code, ErrorCode::DeviceOwnedByOtherUser);
}

#[tokio::test(flavor = "multi_thread")]
async fn reviewers_are_confined_to_their_township() {
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let ia = water_body(fx.site("water1").id, vec![], None);
    a.push(&batch(da, vec![submit(1, &ia)])).await.unwrap();

    let r2 = login(&server, "reviewer_2").await;
    let fp = fingerprint(&server);
    let err = r2.review(ia.id, 1, ReviewDecision::Approve, "").await.unwrap_err();
    assert_eq!(err.status, StatusCode::NOT_FOUND, "another township's record does not exist for them");
    assert_eq!(fingerprint(&server), fp);
    let (changes, _) = r2.pull_all(PullScope::Review, None).await.unwrap();
    assert!(changes.iter().all(|c| !matches!(c, Change::Inspection { .. })));

    let r1 = login(&server, "reviewer_1").await;
    let (changes, _) = r1.pull_all(PullScope::Review, None).await.unwrap();
    assert_eq!(changes.iter().filter(|c| matches!(c, Change::Inspection { .. })).count(), 1);

    // Viewers read within their county only and never review.
    let c1 = login(&server, "county_1").await;
    assert!(c1.inspection(ia.id).await.is_ok());
    assert_eq!(
        c1.review(ia.id, 1, ReviewDecision::Approve, "").await.unwrap_err().error.code,
        ErrorCode::Forbidden
    );
    let c2 = login(&server, "county_2").await;
    assert_eq!(c2.inspection(ia.id).await.unwrap_err().status, StatusCode::NOT_FOUND);
    assert_eq!(
        c2.get::<serde_json::Value>(&format!("/api/v1/progress/{}", fx.t1)).await.unwrap_err().status,
        StatusCode::NOT_FOUND
    );
    assert!(c1.get::<serde_json::Value>(&format!("/api/v1/progress/{}", fx.t1)).await.is_ok());
    // Inspectors and reviewers cannot pull each other's scopes.
    assert_eq!(a.pull(PullScope::Review, None, None).await.unwrap_err().error.code, ErrorCode::Forbidden);
    assert_eq!(r1.pull(PullScope::Inspector, None, None).await.unwrap_err().error.code, ErrorCode::Forbidden);
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_pages_advance_and_bad_cursors_restart() {
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let muts: Vec<_> = (1..=7).map(|n| submit(n, &water_body(fx.site("water1").id, vec![], None))).collect();
    a.push(&batch(da, muts)).await.unwrap();
    // Page through with limit 2 and collect everything exactly once.
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let page = a.pull(PullScope::Inspector, cursor.as_deref(), Some(2)).await.unwrap();
        assert!(page.changes.len() <= 2);
        seen.extend(page.changes.iter().map(|c| match c {
            Change::Inspection { record } => record.inspection.id.to_string(),
            Change::Site { site } => site.id.to_string(),
        }));
        cursor = Some(page.next_cursor);
        if !page.has_more {
            break;
        }
    }
    let total = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), total, "no change delivered twice");
    assert_eq!(total, 7 + 3 + 3, "7 records, 3 village sites and 3 other sites of A's assigned villages");
    // Nothing new: an empty page, and the cursor still valid.
    let page = a.pull(PullScope::Inspector, cursor.as_deref(), None).await.unwrap();
    assert!(page.changes.is_empty() && !page.has_more);
    // Changes elsewhere advance the cursor even though A sees none of them.
    let (b, db) = inspector(&server, "inspector_b").await;
    b.push(&batch(db, vec![submit(1, &water_body(fx.site("water2").id, vec![], None))])).await.unwrap();
    let page2 = a.pull(PullScope::Inspector, Some(&page.next_cursor), None).await.unwrap();
    assert!(page2.changes.is_empty());
    assert_ne!(page2.next_cursor, page.next_cursor, "empty pages still advance");
    // Cursors from before scope fingerprints, or issued for another scope (another user's),
    // make the client fetch its scope again.
    let other = b.pull(PullScope::Inspector, None, None).await.unwrap().next_cursor;
    for bad in ["garbage", "c1.999999", "c1.-3", "c1.0", other.as_str()] {
        let err = a.pull(PullScope::Inspector, Some(bad), None).await.unwrap_err();
        assert_eq!(err.error.code, ErrorCode::CursorInvalid, "{bad}");
    }
}
