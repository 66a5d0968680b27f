//! The app core's sync client through a fault-injecting proxy: a link cut in the middle of a
//! photo upload resumes with at most one chunk sent again; an answer lost after the server
//! committed is retried without a duplicate.

use qingliu_app::AppCore;
use qingliu_app::sync;
use qingliu_tests::faultproxy::FaultProxy;
use qingliu_tests::fixture::PASSWORD;
use qingliu_tests::records::*;
use shared::app::LocalState;

use crate::{login, setup, tablet};

fn photo(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1]).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_upload_resumes_and_resends_at_most_one_chunk() {
    let (server, fx) = setup().await;
    let proxy = FaultProxy::start(server.addr()).await;
    let dir = tempfile::tempdir().unwrap();
    let core = AppCore::open(dir.path()).unwrap();
    sync::login(&core, &proxy.base(), "inspector_a", PASSWORD).await.unwrap();
    let chunk = 64 * 1024;
    let mut client = sync::client_for(&core).unwrap();
    client.chunk = chunk;
    let mut quiet = |_| {};
    sync::sync_once(&core, &client, &mut quiet).await.unwrap();

    let bytes = photo(1_000_000);
    let r = photo_ref(&bytes);
    core.keep_photo(&bytes, &r, None).unwrap();
    let i = water_body(fx.site("water1").id, vec![r.clone()], None);
    core.save_draft(&i).unwrap();
    core.submit(&i.id).unwrap();

    // The link drops after 40 % of the photo has gone up.
    let start = proxy.upstream_bytes();
    proxy.cut_after_upstream_bytes(400_000);
    let err = sync::sync_once(&core, &client, &mut quiet).await.unwrap_err();
    assert_eq!(err.code(), shared::ErrorCode::Unavailable, "{err}");
    assert_eq!(proxy.cuts(), 1);
    assert_eq!(core.summary(&i.id).unwrap().state, LocalState::Uploading);

    sync::sync_once(&core, &client, &mut quiet).await.unwrap();
    assert_eq!(core.summary(&i.id).unwrap().state, LocalState::Submitted);
    let reviewer = login(&server, "reviewer_1").await;
    assert_eq!(reviewer.download(&r.sha256).await.unwrap(), bytes, "byte-identical after the cut");
    // Everything the client sent for this record: the photo once, at most one chunk again,
    // and the requests' own headers and JSON.
    let sent = proxy.upstream_bytes() - start;
    let overhead = 40 * 1024;
    assert!(
        sent <= bytes.len() as u64 + chunk as u64 + overhead,
        "sent {sent} bytes for a {} byte photo (chunk {chunk})",
        bytes.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_acknowledgement_is_retried_without_a_duplicate() {
    let (server, fx) = setup().await;
    let proxy = FaultProxy::start(server.addr()).await;
    let (_dir, core, client) = tablet(&proxy.base(), "inspector_a").await;
    let mut quiet = |_| {};
    let i = water_body(fx.site("water1").id, vec![], None);
    core.save_draft(&i).unwrap();
    core.submit(&i.id).unwrap();

    proxy.drop_answer_to("POST /api/v1/sync/push");
    let err = sync::sync_once(&core, &client, &mut quiet).await.unwrap_err();
    assert_eq!(err.code(), shared::ErrorCode::Unavailable, "{err}");
    assert_eq!(proxy.dropped_answers(), 1);
    assert_eq!(server.state.store.read().unwrap().count_versions().unwrap(), 1, "the server committed");
    assert_eq!(core.pending_count().unwrap(), 1, "the device does not know yet");

    let report = sync::sync_once(&core, &client, &mut quiet).await.unwrap();
    assert_eq!(report.pushed, 1);
    assert_eq!(core.pending_count().unwrap(), 0);
    assert_eq!(core.summary(&i.id).unwrap().state, LocalState::Submitted);
    assert_eq!(server.state.store.read().unwrap().count_versions().unwrap(), 1, "exactly one copy");
}
