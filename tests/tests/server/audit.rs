//! The tamper-evident audit log: entries written by real operations verify; an entry edited,
//! deleted or inserted around the server is found and named; a tail rewritten consistently is
//! caught by a head noted earlier; a database from before the chain is chained on open with the
//! same hashes the server would have written.

use qingliu_tests::fixture::PASSWORD;
use qingliu_tests::records::*;
use reqwest::StatusCode;
use sync_server::audit_chain::entry_hash;
use sync_server::domain::audit::{self, AuditHead, AuditProblem};
use sync_server::store::sqlite::SqliteStore;

use crate::{inspector, login, setup};

/// A direct connection to the server's database, as a database administrator has.
fn dba(server: &qingliu_tests::TestServer) -> qingliu_tests::database::Dba {
    server.dba()
}

async fn busy_server() -> (qingliu_tests::TestServer, qingliu_tests::fixture::Fixture) {
    let (server, fx) = setup().await;
    // Logins, a push, a review: each leaves audit entries.
    for u in ["reviewer_1", "county_1", "admin"] {
        login(&server, u).await;
    }
    let (a, da) = inspector(&server, "inspector_a").await;
    let i = water_body(fx.site("water1").id, vec![], None);
    a.push(&batch(da, vec![submit(1, &i)])).await.unwrap();
    let r = login(&server, "reviewer_1").await;
    r.review(i.id, 1, shared::review::ReviewDecision::Approve, "").await.unwrap();
    (server, fx)
}

#[tokio::test(flavor = "multi_thread")]
async fn entries_from_real_operations_verify_and_the_admin_sees_the_head() {
    let (server, _fx) = busy_server().await;
    let store = server.state.store.as_ref();
    let report = audit::verify(store, None).unwrap();
    let count = store.read().unwrap().count_audit().unwrap();
    assert!(count >= 6, "{count}");
    assert_eq!((report.entries, report.problems.clone()), (count, vec![]));
    let head = report.head.unwrap();
    assert_eq!(head.seq, count);

    let admin = login(&server, "admin").await;
    let seen: AuditHead = admin.get("/api/v1/audit/head").await.unwrap();
    // The admin's own login is one more entry, chained onto the head verified above.
    assert_eq!(seen.seq, head.seq + 1);
    let report = audit::verify(store, Some(&head)).unwrap();
    assert_eq!(report.problems, vec![]);
    assert_eq!(report.head.unwrap(), seen);
    let reviewer = login(&server, "reviewer_1").await;
    let (status, _, _) = reviewer.get_bytes("/api/v1/audit/head").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn edited_deleted_and_inserted_entries_are_found_where_they_are() {
    let (server, _fx) = busy_server().await;
    let store = server.state.store.as_ref();
    let noted = audit::verify(store, None).unwrap().head.unwrap();
    let db = dba(&server);

    // Edited: entry 3's detail changes; only entry 3 is reported.
    let original = db.query_text("SELECT detail FROM audit WHERE id = 3", &[]).unwrap();
    db.execute("UPDATE audit SET detail = '{\"forged\":true}' WHERE id = 3", &[]);
    assert_eq!(audit::verify(store, None).unwrap().problems, vec![AuditProblem::Altered { seq: 3 }]);
    db.execute("UPDATE audit SET detail = ?1 WHERE id = 3", &[original.into()]);
    assert_eq!(audit::verify(store, Some(&noted)).unwrap().problems, vec![]);

    // Back-dated.
    db.execute("UPDATE audit SET at = '2020-01-01T00:00:00Z' WHERE id = 2", &[]);
    assert_eq!(audit::verify(store, None).unwrap().problems, vec![AuditProblem::Altered { seq: 2 }]);

    // Deleted: entry 5 goes; the gap is named.
    let db2 = dba(&server);
    db2.execute("DELETE FROM audit WHERE id = 5", &[]);
    let problems = audit::verify(store, None).unwrap().problems;
    assert!(problems.contains(&AuditProblem::Missing { from: 5, to: 5 }), "{problems:?}");

    // Inserted at the end without going through the server: no hash, or a made-up one.
    let last = noted.seq;
    db.execute(
        "INSERT INTO audit (id, at, action, entity, entity_id, detail) VALUES (?1, '2026-12-01T00:00:00Z', 'approve', 'inspection', 'x', '{}')",
        &[(last as i64 + 1).into()],
    );
    let problems = audit::verify(store, None).unwrap().problems;
    assert!(problems.contains(&AuditProblem::Unchained { seq: last + 1 }), "{problems:?}");
    db.execute(
        "UPDATE audit SET hash = ?1 WHERE id = ?2",
        &["ab".repeat(32).into(), (last as i64 + 1).into()],
    );
    let problems = audit::verify(store, None).unwrap().problems;
    assert!(problems.contains(&AuditProblem::Altered { seq: last + 1 }), "{problems:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consistently_rewritten_tail_is_caught_by_a_noted_head() {
    let (server, _fx) = busy_server().await;
    let store = server.state.store.as_ref();
    let noted = audit::verify(store, None).unwrap().head.unwrap();
    // A careful forger edits entry 2 and recomputes every hash after it.
    let db = dba(&server);
    db.execute("UPDATE audit SET detail = '{\"forged\":true}' WHERE id = 2", &[]);
    let entries = store.read().unwrap().audit_page(0, 1000).unwrap();
    let mut prev = sync_server::audit_chain::GENESIS.to_string();
    for (seq, entry, _) in entries {
        let h = entry_hash(&prev, seq, &entry);
        db.execute("UPDATE audit SET hash = ?1 WHERE id = ?2", &[h.clone().into(), (seq as i64).into()]);
        prev = h;
    }
    // The chain holds together on its own…
    assert_eq!(audit::verify(store, None).unwrap().problems, vec![]);
    // …but not against the head written down before.
    let problems = audit::verify(store, Some(&noted)).unwrap().problems;
    assert!(
        matches!(&problems[..], [AuditProblem::HeadMismatch { seq, found: Some(_), .. }] if *seq == noted.seq),
        "{problems:?}"
    );
    assert!(audit::parse_head(&format!("{}:{}", noted.seq, noted.hash)).unwrap() == noted);
    assert!(audit::parse_head("12:xyz").is_err() && audit::parse_head("nope").is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn entries_from_before_the_chain_are_chained_on_open_with_the_same_hashes() {
    if qingliu_tests::database::on_postgres() {
        // An upgrade of the SQLite schema; the PostgreSQL schema was chained from its first version.
        return;
    }
    let (server, _fx) = busy_server().await;
    let noted = audit::verify(server.state.store.as_ref(), None).unwrap().head.unwrap();
    let path = server.state.config.db_path();
    // As a database of the previous version holds them: no hashes.
    dba(&server).execute("UPDATE audit SET hash = NULL", &[]);
    assert!(audit::verify(server.state.store.as_ref(), None).unwrap().problems.len() as u64 >= noted.seq);
    let reopened = SqliteStore::open(&path).unwrap();
    let report = audit::verify(&reopened, Some(&noted)).unwrap();
    assert_eq!((report.problems, report.head), (vec![], Some(noted)));
    // And a login after the upgrade chains on.
    let mut c = server.client();
    c.login("county_1", PASSWORD).await.unwrap();
    assert_eq!(audit::verify(&reopened, None).unwrap().problems, vec![]);
}
