//! The field app's sync client (src-tauri core, no webview) against the real server: records
//! made offline reach the server once with byte-identical photos; a return comes back down; the
//! corrected version goes up as version 2.

use qingliu_app::AppCore;
use qingliu_app::sync::{self, SyncClient};
use qingliu_tests::fixture::PASSWORD;
use qingliu_tests::records::*;
use shared::app::LocalState;
use shared::review::ReviewDecision;

use crate::{login, setup, tablet};

fn jpeg_like(n: usize, salt: u8) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0];
    v.extend((0..n).map(|i| (i as u8).wrapping_mul(13).wrapping_add(salt)));
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn offline_record_syncs_once_with_identical_photos_and_review_comes_back() {
    let (server, fx) = setup().await;
    let (_dir, core, client) = tablet(&server.base, "inspector_a").await;
    let mut quiet = |_| {};
    let water = core.site(&fx.site("water1").id).unwrap().expect("site pulled");

    // Offline: a record with two photos (one larger than a chunk).
    let photos = [jpeg_like(600_000, 1), jpeg_like(40_000, 2)];
    let mut refs = Vec::new();
    for p in &photos {
        let r = photo_ref(p);
        core.keep_photo(p, &r, None).unwrap();
        refs.push(r);
    }
    let i = water_body(water.id, refs.clone(), None);
    core.save_draft(&i).unwrap();
    core.submit(&i.id).unwrap();
    assert_eq!(core.summary(&i.id).unwrap().state, LocalState::Queued);

    let mut progress = Vec::new();
    let report = sync::sync_once(&core, &client, &mut |p| progress.push(p)).await.unwrap();
    assert_eq!((report.pushed, report.photos_uploaded), (1, 2));
    assert!(progress.iter().flatten().any(|p| p.photos == 2 && p.bytes_sent > 0), "upload progress reported");
    assert_eq!(core.summary(&i.id).unwrap().state, LocalState::Submitted);
    assert_eq!(core.pending_count().unwrap(), 0);

    let reviewer = login(&server, "reviewer_1").await;
    let detail = reviewer.inspection(i.id).await.unwrap();
    let stored: shared::inspection::Inspection =
        serde_json::from_value(detail["record"]["inspection"].clone()).unwrap();
    assert_eq!(stored, i);
    for (p, r) in photos.iter().zip(&refs) {
        assert_eq!(&reviewer.download(&r.sha256).await.unwrap(), p, "byte-identical photo");
    }
    // Syncing again sends nothing and changes nothing.
    let again = sync::sync_once(&core, &client, &mut quiet).await.unwrap();
    assert_eq!((again.pushed, again.photos_uploaded), (0, 0));
    assert_eq!(server.state.store.read().unwrap().count_versions().unwrap(), 1);

    // Returned with a comment: it reaches the device.
    reviewer.review(i.id, 1, ReviewDecision::Return, "请补充水深测量").await.unwrap();
    sync::sync_once(&core, &client, &mut quiet).await.unwrap();
    let s = core.summary(&i.id).unwrap();
    assert_eq!(s.state, LocalState::Returned);
    assert_eq!(s.review.unwrap().comment, "请补充水深测量");

    // Corrected and resubmitted: the server holds version 2 naming version 1.
    let mut v2 = core.start_correction(&i.id).unwrap();
    if let shared::inspection::InspectionBody::WaterBody(w) = &mut v2.body {
        w.water_depth_cm = Some(85.0);
    }
    core.save_draft(&v2).unwrap();
    core.submit(&v2.id).unwrap();
    sync::sync_once(&core, &client, &mut quiet).await.unwrap();
    let detail = reviewer.inspection(i.id).await.unwrap();
    assert_eq!(detail["record"]["inspection"]["version"], 2);
    assert_eq!(detail["record"]["inspection"]["replaces_version"], 1);
    assert_eq!(detail["record"]["inspection"]["body"]["water_depth_cm"], 85.0);
    assert_eq!(core.summary(&i.id).unwrap().state, LocalState::Submitted);

    reviewer.review(i.id, 2, ReviewDecision::Approve, "").await.unwrap();
    sync::sync_once(&core, &client, &mut quiet).await.unwrap();
    assert_eq!(core.summary(&i.id).unwrap().state, LocalState::Approved);
}

#[tokio::test(flavor = "multi_thread")]
async fn server_down_loses_nothing_and_refused_records_do_not_block() {
    let (server, fx) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let core = AppCore::open(dir.path()).unwrap();
    sync::login(&core, &server.base, "inspector_a", PASSWORD).await.unwrap();
    let mut quiet = |_| {};
    sync::sync_once(&core, &sync::client_for(&core).unwrap(), &mut quiet).await.unwrap();

    // A record whose site is out of the inspector's scope is refused by the server; it is
    // queued first and must not block the good one behind it.
    let foreign = water_body(fx.site("water2").id, vec![], None);
    let local_site = core.site(&fx.site("water1").id).unwrap().unwrap();
    // Make the foreign site known locally so the draft validates on the device.
    let mut fake = local_site.clone();
    fake.id = foreign.site_id;
    core.apply_page(
        &[shared::sync::Change::Site { site: Box::new(fake) }],
        &core.meta("cursor.inspector").unwrap().unwrap(),
    )
    .unwrap();
    core.save_draft(&foreign).unwrap();
    core.submit(&foreign.id).unwrap();
    let good = water_body(local_site.id, vec![], None);
    core.save_draft(&good).unwrap();
    core.submit(&good.id).unwrap();

    // The server is unreachable: the sync fails as unavailable and nothing is lost.
    let dead = SyncClient::new("http://127.0.0.1:9").with_token(core.meta("token").unwrap());
    let err = sync::sync_once(&core, &dead, &mut quiet).await.unwrap_err();
    assert_eq!(err.code(), shared::ErrorCode::Unavailable);
    assert_eq!(core.pending_count().unwrap(), 2);

    let report = sync::sync_once(&core, &sync::client_for(&core).unwrap(), &mut quiet).await.unwrap();
    assert_eq!((report.pushed, report.refused), (1, 1));
    let refused = core.summary(&foreign.id).unwrap();
    assert_eq!(refused.state, LocalState::Refused);
    assert_eq!(refused.last_error.unwrap().code, shared::ErrorCode::NotFound);
    assert_eq!(core.summary(&good.id).unwrap().state, LocalState::Submitted);
    assert_eq!(core.pending_count().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_restored_from_an_older_backup_gets_the_lost_records_again() {
    let (server, fx) = setup().await;
    let (_dir, core, client) = tablet(&server.base, "inspector_a").await;
    let mut quiet = |_| {};
    let site = core.site(&fx.site("water1").id).unwrap().unwrap();
    let a = water_body(site.id, vec![], None);
    let b = water_body(site.id, vec![], None);
    for i in [&a, &b] {
        core.save_draft(i).unwrap();
        core.submit(&i.id).unwrap();
    }
    sync::sync_once(&core, &client, &mut quiet).await.unwrap();
    assert_eq!(core.pending_count().unwrap(), 0);

    // The server loses its last mutation (restored from a backup taken before `b` arrived).
    {
        let c = server.dba();
        let device = core.device_id().unwrap().to_string();
        // As a restore does, around the server: no foreign-key checks while the rows go.
        c.execute(
            if c.is_postgres() {
                "SET session_replication_role = replica"
            } else {
                "PRAGMA foreign_keys = OFF"
            },
            &[],
        );
        let b_id = b.id.to_string();
        c.execute("DELETE FROM versions WHERE record_id = ?1", &[b_id.as_str().into()]);
        c.execute("DELETE FROM records WHERE id = ?1", &[b_id.as_str().into()]);
        c.execute("DELETE FROM mutations WHERE device_id = ?1 AND seq = 2", &[device.as_str().into()]);
        c.execute("UPDATE devices SET last_seq = 1 WHERE id = ?1", &[device.into()]);
    }
    // The device has nothing queued, yet the next sync notices and sends `b` again.
    let report = sync::sync_once(&core, &client, &mut quiet).await.unwrap();
    assert_eq!(report.pushed, 1);
    let reviewer = login(&server, "reviewer_1").await;
    assert_eq!(
        reviewer.inspection(b.id).await.unwrap()["record"]["inspection"],
        serde_json::to_value(&b).unwrap()
    );
    assert_eq!(server.state.store.read().unwrap().count_versions().unwrap(), 2, "each record exactly once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conflict_can_be_resolved_by_taking_the_server_version() {
    let (server, fx) = setup().await;
    let mut quiet = |_| {};
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (one, two) = (AppCore::open(d1.path()).unwrap(), AppCore::open(d2.path()).unwrap());
    for core in [&one, &two] {
        sync::login(core, &server.base, "inspector_a", PASSWORD).await.unwrap();
        sync::sync_once(core, &sync::client_for(core).unwrap(), &mut quiet).await.unwrap();
    }
    let site = one.site(&fx.site("water1").id).unwrap().unwrap();
    let v1 = water_body(site.id, vec![], None);
    one.save_draft(&v1).unwrap();
    one.submit(&v1.id).unwrap();
    sync::sync_once(&one, &sync::client_for(&one).unwrap(), &mut quiet).await.unwrap();
    login(&server, "reviewer_1").await.review(v1.id, 1, ReviewDecision::Return, "请补充").await.unwrap();
    // Both tablets of the same inspector learn of the return and both correct it.
    for core in [&one, &two] {
        sync::sync_once(core, &sync::client_for(core).unwrap(), &mut quiet).await.unwrap();
        assert_eq!(core.summary(&v1.id).unwrap().state, LocalState::Returned);
    }
    for (core, note) in [(&one, "一号平板的修改"), (&two, "二号平板的修改")] {
        let mut v2 = core.start_correction(&v1.id).unwrap();
        v2.notes = note.into();
        core.save_draft(&v2).unwrap();
        core.submit(&v2.id).unwrap();
    }
    sync::sync_once(&one, &sync::client_for(&one).unwrap(), &mut quiet).await.unwrap();
    sync::sync_once(&two, &sync::client_for(&two).unwrap(), &mut quiet).await.unwrap();
    let s = two.summary(&v1.id).unwrap();
    assert_eq!(s.state, LocalState::Conflict, "the second correction conflicts");
    assert_eq!(s.last_error.unwrap().code, shared::ErrorCode::StaleVersion);
    let resolved = two.accept_server_version(&v1.id).unwrap();
    assert_eq!(resolved.state, LocalState::Submitted);
    assert_eq!(
        two.inspection(&v1.id).unwrap().notes,
        "一号平板的修改",
        "the server's content is now the local one"
    );
    assert_eq!(server.state.store.read().unwrap().count_versions().unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_larger_than_the_body_limit_goes_in_smaller_batches() {
    let server = qingliu_tests::TestServer::start_with(|c| c.max_push_bytes = 24 * 1024).await;
    let fx = qingliu_tests::fixture::install(server.state.store.as_ref());
    let (_dir, core, client) = tablet(&server.base, "inspector_a").await;
    let mut quiet = |_| {};
    for _ in 0..60 {
        let i = water_body(fx.site("water1").id, vec![], None);
        core.save_draft(&i).unwrap();
        core.submit(&i.id).unwrap();
    }
    let report = sync::sync_once(&core, &client, &mut quiet).await.unwrap();
    assert_eq!(report.pushed, 60);
    assert_eq!(core.pending_count().unwrap(), 0);
    assert_eq!(server.state.store.read().unwrap().count_versions().unwrap(), 60);
}

/// Villages reassigned by the admin: the tablet's cursor no longer fits its scope, so it fetches
/// the scope again, gets the new village's sites (whose changes are older than its cursor) and
/// drops the sites it no longer covers, except one its own draft names.
#[tokio::test(flavor = "multi_thread")]
async fn reassigned_villages_reach_the_tablet_and_sites_out_of_scope_leave_it() {
    let (server, fx) = setup().await;
    let (_dir, core, client) = tablet(&server.base, "inspector_a").await;
    let local = |core: &AppCore| -> std::collections::BTreeSet<shared::SiteId> {
        core.search_sites("", None, None, 1000).unwrap().into_iter().map(|s| s.id).collect()
    };
    assert!(local(&core).contains(&fx.site("village1").id));
    assert!(!local(&core).contains(&fx.site("water_unassigned").id));
    // A draft at a site that is about to leave the scope.
    let draft = water_body(fx.site("water1").id, vec![], None);
    core.save_draft(&draft).unwrap();

    let admin = login(&server, "admin").await;
    let id = fx.user("inspector_a").id;
    let four = fx.site("water_unassigned").village.to_string();
    let _: serde_json::Value = admin
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{id}"),
            &serde_json::json!({"villages": [four]}),
        )
        .await
        .unwrap();
    sync::sync_once(&core, &client, &mut |_| {}).await.unwrap();
    let now = local(&core);
    let expected: std::collections::BTreeSet<shared::SiteId> = fx
        .sites
        .values()
        .filter(|s| s.village == fx.site("water_unassigned").village)
        .map(|s| s.id)
        .chain([fx.site("water1").id])
        .collect();
    assert_eq!(now, expected, "the new village's sites, plus the one the draft names");
    // Nothing lost on the way: the draft is still there.
    assert_eq!(core.summary(&draft.id).unwrap().state, LocalState::Draft);
    // A second sync is incremental again (no re-fetch, nothing pulled).
    let report = sync::sync_once(&core, &client, &mut |_| {}).await.unwrap();
    assert_eq!(report.pulled, 0);
}
