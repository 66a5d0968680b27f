//! `sync-server migrate-data`: the embedded default (SQLite and its photo directory) moves to
//! PostgreSQL and the configured photo store (the S3 bucket when the suite runs with one). The
//! copy verifies, an interrupted copy leaves nothing behind and the re-run finishes it, a
//! finished copy is recognised, a target holding other data is refused, and a tablet pointed
//! at the new deployment goes on syncing without logging in, registering or sending again.
//! Runs in the PostgreSQL pass of the suite (it needs a PostgreSQL server to migrate to).

use std::sync::Arc;

use qingliu_app::sync;
use qingliu_tests::records::*;
use qingliu_tests::{TestServer, database, fixture};
use shared::review::ReviewDecision;
use sync_server::blobs::BlobStore;
use sync_server::migrate_data::{Source, Target, migrate};

use crate::{assert_counters_match_recount, login, tablet};

fn photo(n: usize, salt: u8) -> Vec<u8> {
    (0..n).map(|k| ((k * 17 + salt as usize * 13) % 253) as u8).collect()
}

fn count(dba: &database::Dba, table: &str) -> i64 {
    dba.query_text(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}"), &[])
        .expect("a count")
        .parse()
        .expect("a number")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_embedded_default_moves_to_postgres_and_tablets_keep_syncing() {
    if !database::on_postgres() {
        return; // the PostgreSQL pass of scripts/test.sh runs it
    }
    let addr = "127.0.0.1:0".parse().unwrap();
    let server = TestServer::start_embedded(tempfile::tempdir().unwrap(), addr).await;
    let fx = fixture::install(server.state.store.as_ref());
    let site = fx.site("water1").id;

    // A tablet with a photographed record, another device's records, and a review outcome.
    let (_tablet_dir, core, client) = tablet(&server.base, "inspector_a").await;
    let mut quiet = |_| {};
    let bytes = photo(150_000, 3);
    let r = photo_ref(&bytes);
    core.keep_photo(&bytes, &r, None).unwrap();
    let a = water_body(site, vec![r.clone()], None);
    core.save_draft(&a).unwrap();
    core.submit(&a.id).unwrap();
    sync::sync_once(&core, &client, &mut quiet).await.unwrap();
    let (other, device) = crate::inspector(&server, "inspector_a").await;
    let mut others = Vec::new();
    for n in 0..12u64 {
        let i = water_body(site, vec![], None);
        let resp = other.push(&batch(device, vec![submit(n + 1, &i)])).await.unwrap();
        assert!(matches!(resp.results[0].outcome, shared::sync::MutationOutcome::Applied { .. }));
        others.push(i.id);
    }
    let reviewer = login(&server, "reviewer_1").await;
    reviewer.review(a.id, 1, ReviewDecision::Return, "照片不清楚，请补拍").await.unwrap();
    let source_dba = server.dba();
    let records = count(&source_dba, "records");
    let audit = count(&source_dba, "audit");
    drop(source_dba);
    let (old_dir, addr) = server.stop();

    // The cluster's database and photo store: fresh, bound to a directory like a test server's.
    let target_dir = tempfile::tempdir().unwrap();
    let url = database::database_for(target_dir.path()).expect("on PostgreSQL");
    let photos: Arc<dyn BlobStore> = match database::blob_prefix_for(target_dir.path()) {
        Some(prefix) => database::s3_blob_store(&database::s3_endpoint().unwrap(), &prefix, 50 << 20),
        None => Arc::new(
            sync_server::blobs::FsBlobStore::open(&target_dir.path().join("data").join("blobs"), 50 << 20)
                .unwrap(),
        ),
    };
    let data = old_dir.path().join("data");
    let db = data.join("qingliu.db");
    let source = Source { database: &db, blobs: data.join("blobs") };
    let target = Target { database_url: &url, blobs: Some(photos.as_ref()) };
    let target_dba = || {
        database::Dba::open(&sync_server::config::Config {
            database_url: Some(url.clone()),
            ..Default::default()
        })
    };

    // Interrupted after the records table was copied: nothing of the copy is left.
    let mut lines = Vec::new();
    let interrupted = migrate(&source, &target, &mut |line| {
        lines.push(line.to_string());
        if line.starts_with("records:") {
            return Err(sync_server::error::AppError::Internal("interrupted".into()));
        }
        Ok(())
    });
    assert!(
        matches!(&interrupted, Err(e) if e.to_string().contains("interrupted")),
        "{:?}",
        interrupted.err()
    );
    assert!(lines.iter().any(|l| l.starts_with("users:")), "{lines:?}");
    for table in ["records", "users", "devices", "audit", "mutations"] {
        assert_eq!(count(&target_dba(), table), 0, "{table} after the interruption");
    }

    // The re-run finishes and verifies; a third run finds nothing to do.
    let report = migrate(&source, &target, &mut |_| Ok(())).unwrap();
    assert!(!report.already_migrated);
    assert_eq!(report.tables["records"].rows, records as u64);
    assert_eq!(report.tables["audit"].rows, audit as u64);
    assert_eq!(report.photos + report.photos_present, 1);
    assert_eq!(count(&target_dba(), "records"), records);
    let again = migrate(&source, &target, &mut |_| Ok(())).unwrap();
    assert!(again.already_migrated);
    assert_eq!((again.fingerprint(), again.photos, again.photos_present), (report.fingerprint(), 0, 1));

    // The cluster serves on the old address (as a balancer taking over the name would).
    let server = TestServer::start_in(target_dir, addr, |_| {}).await;
    assert_eq!(server.state.store.backend_name(), "postgres");
    let store = server.state.store.as_ref();
    let versions = sync_server::domain::integrity::verify_versions(store).unwrap();
    assert!(versions.problems.is_empty(), "{:?}", versions.problems);
    let blobs = sync_server::domain::integrity::verify_blobs(store, server.state.blobs.as_ref()).unwrap();
    assert_eq!((blobs.checked, blobs.problems.len()), (1, 0));
    let chain = sync_server::domain::audit::verify(store, None).unwrap();
    assert!(chain.problems.is_empty(), "{:?}", chain.problems);
    assert_counters_match_recount(store);

    // The tablet: same token, same device; it receives the return, sends only its new record.
    let b = water_body(site, vec![], None);
    core.save_draft(&b).unwrap();
    core.submit(&b.id).unwrap();
    let sent = sync::sync_once(&core, &client, &mut quiet).await.unwrap();
    assert_eq!(sent.pushed, 1, "{sent:?}");
    let local = core.summary(&a.id).unwrap();
    assert_eq!(local.review.map(|n| n.comment).as_deref(), Some("照片不清楚，请补拍"));
    // The other device continues its sequence where it was.
    let next = water_body(site, vec![], None);
    let resp = other.push(&batch(device, vec![submit(13, &next)])).await.unwrap();
    assert!(matches!(resp.results[0].outcome, shared::sync::MutationOutcome::Applied { .. }), "{resp:?}");
    let repeat = other.push(&batch(device, vec![submit(1, &water_body(site, vec![], None))])).await.unwrap();
    assert!(matches!(repeat.results[0].outcome, shared::sync::MutationOutcome::Rejected { .. }));
    let reviewer = login(&server, "reviewer_1").await;
    assert_eq!(reviewer.download(&r.sha256).await.unwrap(), bytes);
    for id in others.iter().chain([&a.id, &b.id, &next.id]) {
        assert_eq!(store.read().unwrap().versions(id).unwrap().len(), 1, "{id} once");
    }
    assert_eq!(count(&server.dba(), "records"), records + 2);

    // Now in use: migrating again is refused, whatever the source says.
    let refused = migrate(&source, &Target { database_url: &url, blobs: None }, &mut |_| Ok(()));
    let message = refused.unwrap_err().to_string();
    assert!(message.contains("already holds other data"), "{message}");
    assert_eq!(count(&server.dba(), "records"), records + 2, "nothing overwritten");
}
