//! Several servers on one database, as the scale-out deployment runs them (on PostgreSQL; on
//! SQLite the same holds for two servers on one file). What one server commits, the others
//! serve; the change sequence is handed out in commit order, so a reader pulling while two
//! servers write never skips a record that commits later; the same mutation sent to two servers
//! at once is applied once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use qingliu_tests::records::*;
use qingliu_tests::{ApiClient, TestServer};
use shared::InspectionId;
use shared::sync::{Change, MutationOutcome, PullScope};

use crate::{assert_counters_match_recount, inspector, login, setup};

fn on(server: &TestServer, c: &ApiClient) -> ApiClient {
    ApiClient { base: server.base.clone(), ..c.clone() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_pulling_while_two_servers_write_sees_every_record_exactly_once() {
    let (a, fx) = setup().await;
    let b = TestServer::start_sharing(&a).await;
    let (ca, da) = inspector(&a, "inspector_a").await;
    let (cb_a, db) = inspector(&a, "inspector_a").await;
    let cb = on(&b, &cb_a);
    let site = fx.site("water1").id;
    const PER_DEVICE: usize = 40;

    let writer = |client: ApiClient, device: shared::DeviceId| async move {
        let mut ids = Vec::new();
        for n in 0..PER_DEVICE {
            let mut i = water_body(site, vec![], None);
            i.notes = format!("第 {n} 条");
            let r = client.push(&batch(device, vec![submit(n as u64 + 1, &i)])).await.expect("push");
            assert!(matches!(r.results[0].outcome, MutationOutcome::Applied { .. }), "{:?}", r.results[0]);
            ids.push(i.id);
        }
        ids
    };

    // The reader alternates between the servers, following its cursor, until the writers are
    // done and one last pull comes back empty.
    let done = Arc::new(AtomicBool::new(false));
    let reviewer = login(&a, "reviewer_1").await;
    let readers = [reviewer.clone(), on(&b, &reviewer)];
    let reader_done = done.clone();
    let reader = tokio::spawn(async move {
        let mut seen: BTreeMap<InspectionId, u32> = BTreeMap::new();
        let mut cursor: Option<String> = None;
        let mut pulls = 0usize;
        loop {
            let finished = reader_done.load(Ordering::SeqCst);
            let page =
                readers[pulls % 2].pull(PullScope::Review, cursor.as_deref(), Some(7)).await.expect("pull");
            pulls += 1;
            for ch in &page.changes {
                if let Change::Inspection { record } = ch {
                    *seen.entry(record.inspection.id).or_default() += 1;
                }
            }
            cursor = Some(page.next_cursor.clone());
            if finished && !page.has_more {
                return (seen, pulls);
            }
        }
    });
    // A system follows the change feed the same way, through both servers, with an API key.
    let admin = login(&a, "admin").await;
    let made: shared::integration::CreatedServiceAccount = admin
        .send_json(
            reqwest::Method::POST,
            "/api/v1/service-accounts",
            &serde_json::json!({"username": "feed", "display_name": "feed", "purpose": "test",
                "role": "province_viewer", "region": "420000"}),
        )
        .await
        .expect("service account");
    let mut system = a.client();
    system.token = Some(made.key.key);
    let systems = [system.clone(), on(&b, &system)];
    let feed_done = done.clone();
    let feed_reader = tokio::spawn(async move {
        let (mut after, mut reads, mut changes) = (0u64, 0usize, Vec::new());
        loop {
            let finished = feed_done.load(Ordering::SeqCst);
            let page: shared::integration::FeedPage =
                systems[reads % 2].get(&format!("/api/v1/feed?after={after}&limit=5")).await.expect("feed");
            reads += 1;
            changes.extend(page.changes);
            after = page.cursor;
            if finished && !page.more {
                return (changes, reads);
            }
        }
    });
    let (ids_a, ids_b) = tokio::join!(writer(ca, da), writer(cb, db));
    done.store(true, Ordering::SeqCst);
    let (seen, pulls) = reader.await.unwrap();
    let (changes, reads) = feed_reader.await.unwrap();
    assert!(changes.windows(2).all(|w| w[0].seq < w[1].seq), "the feed in order, each change once");
    let mut fed: Vec<String> = changes.iter().map(|c| c.entity_id.clone()).collect();
    fed.sort();
    let mut want: Vec<String> = ids_a.iter().chain(&ids_b).map(|i| i.to_string()).collect();
    want.sort();
    assert_eq!(fed, want, "every version once in the feed ({reads} reads)");

    let mut expected: Vec<InspectionId> = ids_a.into_iter().chain(ids_b).collect();
    expected.sort();
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "seen more than once: {twice:?}");
    let got: Vec<InspectionId> = seen.keys().copied().collect();
    let missing: Vec<_> = expected.iter().filter(|id| !seen.contains_key(id)).collect();
    assert!(missing.is_empty(), "never pulled ({} pulls): {missing:?}", pulls);
    assert_eq!(got, expected);
    assert!(pulls > 2, "the reader pulled while the servers wrote ({pulls} pulls)");
    assert_counters_match_recount(a.state.store.as_ref());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_mutation_sent_to_two_servers_at_once_is_applied_once() {
    let (a, fx) = setup().await;
    let b = TestServer::start_sharing(&a).await;
    let (ca, device) = inspector(&a, "inspector_a").await;
    let cb = on(&b, &ca);
    let mut ids = Vec::new();
    for round in 0..12u64 {
        let mut i = water_body(fx.site("water1").id, vec![], None);
        i.notes = format!("第 {round} 轮");
        let req = batch(device, vec![submit(round + 1, &i)]);
        let (ra, rb) = tokio::join!(ca.push(&req), cb.push(&req));
        let (ra, rb) = (ra.expect("push to a"), rb.expect("push to b"));
        for r in [&ra, &rb] {
            assert_eq!(r.last_applied_seq, round + 1);
            assert!(matches!(r.results[0].outcome, MutationOutcome::Applied { .. }), "{:?}", r.results[0]);
        }
        // Exactly one of the two applied it; the other answered with the stored result.
        let duplicates = [ra.results[0].duplicate, rb.results[0].duplicate];
        assert_eq!(duplicates.iter().filter(|d| **d).count(), 1, "round {round}: {duplicates:?}");
        assert_eq!(ra.results[0].outcome, rb.results[0].outcome);
        ids.push(i.id);
    }
    let store = a.state.store.as_ref();
    let mut tx = store.read().unwrap();
    assert_eq!(tx.count_versions().unwrap(), ids.len() as u64);
    for id in &ids {
        assert_eq!(tx.versions(id).unwrap().len(), 1);
        let pushes = tx.audit_for(&id.to_string()).unwrap();
        assert_eq!(pushes.len(), 1, "one audit entry per applied submission: {pushes:?}");
    }
    drop(tx);
    assert_counters_match_recount(store);
}

/// The database goes away under a running server and comes back: requests meanwhile fail as
/// `unavailable` (503, which tablets retry), nothing is lost or applied twice, and the server
/// serves again without being restarted. On a PostgreSQL server of the test's own, so that
/// restarting it disturbs no other test.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_costs_retried_requests_never_a_record() {
    use qingliu_app::sync;
    use qingliu_tests::pgserver::PrivatePostgres;

    let pg = Arc::new(PrivatePostgres::start().expect("PostgreSQL server binaries (apt: postgresql)"));
    let url = pg.create_database("qingliu");
    let server = TestServer::start_with(|c| c.database_url = Some(url.clone())).await;
    assert_eq!(server.state.store.backend_name(), "postgres");
    let fx = qingliu_tests::fixture::install(server.state.store.as_ref());
    let (_dir, core, client) = qingliu_tests::tablet(&server.base, "inspector_a").await;
    let site = fx.site("water1").id;
    let mut quiet = |_| {};
    let mut submitted = Vec::new();
    let new_record = |n: usize| {
        let mut i = water_body(site, vec![], None);
        i.notes = format!("第 {n} 条");
        core.save_draft(&i).unwrap();
        core.submit(&i.id).unwrap();
        i.id
    };

    // Stopped: the push is answered 503 `unavailable`, and the tablet keeps the record.
    submitted.push(new_record(0));
    pg.stop();
    let mut direct = server.client();
    direct.token = core.meta("token").unwrap();
    let failure = direct.pull(PullScope::Inspector, None, None).await.unwrap_err();
    assert_eq!((failure.status.as_u16(), failure.error.code), (503, shared::ErrorCode::Unavailable));
    let err = sync::sync_once(&core, &client, &mut quiet).await.unwrap_err();
    assert_eq!(err.code(), shared::ErrorCode::Unavailable);
    assert_eq!(core.pending_count().unwrap(), 1);
    // Not ready, naming the database (a balancer takes the server out of rotation on it).
    let e = server.client().get::<serde_json::Value>("/readyz").await.unwrap_err();
    assert_eq!((e.status.as_u16(), e.error.code), (503, shared::ErrorCode::Unavailable));
    assert_eq!(e.error.fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["database"]);
    pg.resume();
    let report = sync::sync_once(&core, &client, &mut quiet).await.unwrap();
    assert_eq!(report.pushed, 1);
    let ready: serde_json::Value = server.client().get("/readyz").await.unwrap();
    assert_eq!(ready["status"], "ready");

    // Restarted twice while the tablet keeps submitting and syncing.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let restarter = {
        let pg = pg.clone();
        std::thread::spawn(move || {
            for _ in rx {
                pg.restart();
            }
        })
    };
    let mut unavailable = 0;
    for n in 1..=30 {
        submitted.push(new_record(n));
        if n == 8 || n == 20 {
            tx.send(()).unwrap();
        }
        loop {
            match sync::sync_once(&core, &client, &mut quiet).await {
                Ok(_) => break,
                Err(e) if e.code() == shared::ErrorCode::Unavailable => {
                    unavailable += 1;
                    assert!(unavailable < 500, "the server did not recover: {e:?}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("sync failed with {e:?}"),
            }
        }
    }
    drop(tx);
    restarter.join().unwrap();
    let report = sync::sync_once(&core, &client, &mut quiet).await.unwrap();
    assert_eq!(report.pushed, 0);
    assert_eq!(core.pending_count().unwrap(), 0);

    let store = server.state.store.as_ref();
    let mut tx = store.read().unwrap();
    assert_eq!(tx.count_versions().unwrap(), submitted.len() as u64, "nothing lost, nothing twice");
    for id in &submitted {
        assert_eq!(tx.versions(id).unwrap().len(), 1);
    }
    drop(tx);
    assert_counters_match_recount(store);
    let checked = sync_server::domain::integrity::verify_versions(store).unwrap();
    assert_eq!((checked.checked, checked.problems.len()), (submitted.len() as u64, 0));
}

/// Nothing one server needs lives only in another: a token issued by one is honoured (and
/// revoked) on the other, and failed logins spread across both meet one limit.
#[tokio::test(flavor = "multi_thread")]
async fn tokens_and_the_login_limit_are_shared_by_the_servers() {
    use qingliu_tests::fixture::PASSWORD;
    use reqwest::StatusCode;
    use shared::ErrorCode;

    let (a, _fx) = setup().await;
    let b = TestServer::start_sharing(&a).await;
    let on_a = login(&a, "reviewer_1").await;
    let on_b = on(&b, &on_a);
    assert!(on_b.get::<serde_json::Value>("/api/v1/me").await.is_ok(), "a's token works on b");
    on_b.logout().await.unwrap();
    let err = on_a.get::<serde_json::Value>("/api/v1/me").await.unwrap_err();
    assert_eq!(err.error.code, ErrorCode::Unauthenticated, "revoked on b, refused on a");

    let (mut ca, mut cb) = (a.client(), b.client());
    let max = a.state.config.login_max_failures;
    for n in 0..max {
        let c = if n % 2 == 0 { &mut ca } else { &mut cb };
        assert_eq!(
            c.login("inspector_a", "wrong").await.unwrap_err().error.code,
            ErrorCode::InvalidCredentials
        );
    }
    for c in [&mut ca, &mut cb] {
        let err = c.login("inspector_a", PASSWORD).await.unwrap_err();
        assert_eq!((err.status, err.error.code), (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited));
    }
    a.clock.advance(time::Duration::minutes(a.state.config.login_window_minutes));
    assert!(ca.login("inspector_a", PASSWORD).await.is_ok());
}

/// A tablet whose link to one server breaks mid-photo resumes against another from where the
/// first left off (upload state lives in the shared blob store, not in a server), and the
/// finished photo is the same bytes on both.
#[tokio::test(flavor = "multi_thread")]
async fn an_upload_broken_on_one_server_resumes_on_the_other() {
    use qingliu_tests::client::sha256_hex;

    let (a, fx) = setup().await;
    let b = TestServer::start_sharing(&a).await;
    let (ca, device) = inspector(&a, "inspector_a").await;
    let cb = on(&b, &ca);
    let bytes: Vec<u8> = (0..300_000u32).map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let hash = sha256_hex(&bytes);
    let size = bytes.len() as u64;

    assert_eq!(ca.blob_start(&hash, size).await.unwrap().offset, 0);
    assert_eq!(ca.blob_append(&hash, 0, bytes[..100_000].to_vec()).await.unwrap().offset, 100_000);
    // The link to a breaks; b knows where the upload stands.
    let st = cb.blob_start(&hash, size).await.unwrap();
    assert_eq!((st.offset, st.complete), (100_000, false));
    let err = cb.blob_append(&hash, 0, bytes[..10].to_vec()).await.unwrap_err();
    assert_eq!(err.error.code, shared::ErrorCode::OffsetMismatch);
    let done = cb.blob_append(&hash, 100_000, bytes[100_000..].to_vec()).await.unwrap();
    assert!(done.complete);
    // a sees it complete too, and a record pushed through a may name it.
    assert!(ca.blob_start(&hash, size).await.unwrap().complete);
    assert!(a.state.blobs.pending_uploads().unwrap().is_empty());
    let i = water_body(fx.site("water1").id, vec![photo_ref(&bytes)], None);
    let r = ca.push(&batch(device, vec![submit(1, &i)])).await.unwrap();
    assert!(matches!(r.results[0].outcome, MutationOutcome::Applied { .. }), "{:?}", r.results[0]);
    let reviewer = login(&b, "reviewer_1").await;
    assert_eq!(reviewer.download(&hash).await.unwrap(), bytes);
    assert_eq!(on(&a, &reviewer).download(&hash).await.unwrap(), bytes);
}
