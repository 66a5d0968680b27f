//! `sync-server backup` and `restore` of the embedded default: a backup taken while the server
//! runs and tablets push holds a consistent database and every photo it names; restored into an
//! empty directory it verifies, and the tablets send again what arrived after the backup, once.

use qingliu_app::sync;
use qingliu_tests::TestServer;
use qingliu_tests::records::*;

use crate::{login, setup, tablet};

fn photo(n: usize, salt: u8) -> Vec<u8> {
    (0..n).map(|k| ((k * 31 + salt as usize * 7) % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_taken_while_tablets_push_restores_and_they_resend_what_came_after() {
    if qingliu_tests::database::on_postgres() || qingliu_tests::database::s3_endpoint().is_some() {
        // Backup covers the embedded default; PostgreSQL and S3 have their own tools.
        return;
    }
    let (server, fx) = setup().await;
    let (_dir, core, client) = tablet(&server.base, "inspector_a").await;
    let mut quiet = |_| {};
    let site = fx.site("water1").id;
    let bytes = photo(120_000, 1);
    let r = photo_ref(&bytes);
    core.keep_photo(&bytes, &r, None).unwrap();
    let a = water_body(site, vec![r.clone()], None);
    core.save_draft(&a).unwrap();
    core.submit(&a.id).unwrap();
    sync::sync_once(&core, &client, &mut quiet).await.unwrap();

    // Another inspector keeps pushing while the backup is taken.
    let (other, other_device) = crate::inspector(&server, "inspector_a").await;
    let file = tempfile::tempdir().unwrap();
    let to = file.path().join("qingliu-backup.zip");
    let (db, blob_root, to2) = (server.state.config.db_path(), server.state.config.blob_dir(), to.clone());
    let backup = tokio::task::spawn_blocking(move || {
        sync_server::backup::backup(&db, &blob_root, &to2, time::OffsetDateTime::now_utc())
    });
    let mut during = Vec::new();
    for n in 0..10u64 {
        let i = water_body(site, vec![], None);
        let resp = other.push(&batch(other_device, vec![submit(n + 1, &i)])).await.unwrap();
        assert!(matches!(resp.results[0].outcome, shared::sync::MutationOutcome::Applied { .. }));
        during.push(i.id);
    }
    let manifest = backup.await.unwrap().unwrap();
    assert_eq!(manifest.photos, 1);
    assert_eq!(manifest.photo_bytes, bytes.len() as u64);

    // After the backup: one more record from the tablet.
    let b = water_body(site, vec![], None);
    core.save_draft(&b).unwrap();
    core.submit(&b.id).unwrap();
    sync::sync_once(&core, &client, &mut quiet).await.unwrap();

    // The server is lost; its backup is restored into an empty directory on the same address.
    let (_old, addr) = server.stop();
    let fresh = tempfile::tempdir().unwrap();
    let restored = sync_server::backup::restore(&to, &fresh.path().join("data")).unwrap();
    assert_eq!(restored, manifest);
    assert!(sync_server::backup::restore(&to, &fresh.path().join("data")).is_err(), "never over a database");
    let server = TestServer::start_in(fresh, addr, |_| {}).await;
    let store = server.state.store.as_ref();
    let versions = sync_server::domain::integrity::verify_versions(store).unwrap();
    assert!(versions.problems.is_empty(), "{:?}", versions.problems);
    let blobs = sync_server::domain::integrity::verify_blobs(store, server.state.blobs.as_ref()).unwrap();
    assert_eq!((blobs.checked, blobs.problems.len()), (1, 0));
    crate::assert_counters_match_recount(store);
    // A consistent snapshot: the records pushed during the backup are there as a prefix (those
    // committed before the copy), never half of one.
    let mut tx = store.read().unwrap();
    let kept = during.iter().take_while(|id| tx.record(id).unwrap().is_some()).count();
    assert!(during[kept..].iter().all(|id| tx.record(id).unwrap().is_none()), "a prefix of the pushes");
    assert!(tx.record(&b.id).unwrap().is_none(), "b came after the backup");
    drop(tx);

    // The tablet notices the server lacks b and sends it again; a and its photo are intact.
    let report = sync::sync_once(&core, &client, &mut quiet).await.unwrap();
    assert_eq!(report.pushed, 1);
    let reviewer = login(&server, "reviewer_1").await;
    for id in [a.id, b.id] {
        assert_eq!(reviewer.inspection(id).await.unwrap()["record"]["inspection"]["version"], 1);
    }
    assert_eq!(reviewer.download(&r.sha256).await.unwrap(), bytes);
    assert_eq!(store.read().unwrap().versions(&b.id).unwrap().len(), 1);
}
