use qingliu_tests::client::sha256_hex;
use qingliu_tests::records::*;
use reqwest::StatusCode;
use shared::ErrorCode;
use shared::sync::MutationOutcome;
use tokio::io::AsyncWriteExt;

use crate::{inspector, login, setup};

fn photo(n: usize, salt: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt)).collect()
}

/// Send a PATCH whose body is cut after `send` of its `declared` bytes.
async fn cut_upload(
    server: &qingliu_tests::TestServer,
    token: &str,
    hash: &str,
    offset: u64,
    bytes: &[u8],
    send: usize,
) {
    let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let head = format!(
        "PATCH /api/v1/blobs/{hash}?offset={offset} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        bytes.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&bytes[..send]).await.unwrap();
    s.flush().await.unwrap();
    s.shutdown().await.unwrap();
    drop(s);
}

#[tokio::test(flavor = "multi_thread")]
async fn cut_connection_resumes_from_server_offset() {
    let (server, _fx) = setup().await;
    let (c, _) = inspector(&server, "inspector_a").await;
    let data = photo(300_000, 7);
    let hash = sha256_hex(&data);
    let chunk = 100_000;
    let st = c.blob_start(&hash, data.len() as u64).await.unwrap();
    assert_eq!((st.offset, st.complete), (0, false));
    let st = c.blob_append(&hash, 0, data[..chunk].to_vec()).await.unwrap();
    assert_eq!(st.offset, chunk as u64);

    // The link drops halfway through the second chunk.
    cut_upload(&server, c.token.as_deref().unwrap(), &hash, chunk as u64, &data[chunk..2 * chunk], chunk / 2)
        .await;

    // Asking again gives the last whole chunk's end: a cut chunk is never half-appended, so
    // at most that one chunk is sent again.
    let mut st = c.blob_start(&hash, data.len() as u64).await.unwrap();
    assert_eq!(st.offset, chunk as u64, "offset after a cut chunk");
    while !st.complete {
        let to = (st.offset as usize + chunk).min(data.len());
        st = c.blob_append(&hash, st.offset, data[st.offset as usize..to].to_vec()).await.unwrap();
    }
    assert_eq!(st.offset, data.len() as u64);
    let stored = server.state.blobs.stored_hashes().unwrap();
    assert_eq!(stored.iter().map(|h| h.as_str().to_string()).collect::<Vec<_>>(), vec![hash.clone()]);
    assert_eq!(stored_bytes(&server, &hash), data, "reassembled bytes are identical");
    assert!(server.state.blobs.pending_uploads().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_offset_is_409_with_current_offset() {
    let (server, _fx) = setup().await;
    let (c, _) = inspector(&server, "inspector_a").await;
    let data = photo(10_000, 1);
    let hash = sha256_hex(&data);
    c.blob_start(&hash, data.len() as u64).await.unwrap();
    c.blob_append(&hash, 0, data[..4000].to_vec()).await.unwrap();
    for wrong in [0u64, 3999, 4001, 9000] {
        let err = c.blob_append(&hash, wrong, data[4000..5000].to_vec()).await.unwrap_err();
        assert_eq!(err.status, StatusCode::CONFLICT);
        assert_eq!(err.error.code, ErrorCode::OffsetMismatch);
        assert_eq!(err.error.detail.as_ref().unwrap()["offset"], 4000);
    }
    // Bytes past the declared size are refused too.
    let err = c.blob_append(&hash, 4000, photo(7000, 1)).await.unwrap_err();
    assert_eq!(err.error.code, ErrorCode::SizeMismatch);
    let st = c.blob_append(&hash, 4000, data[4000..].to_vec()).await.unwrap();
    assert!(st.complete);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_hash_discards_the_upload() {
    let (server, _fx) = setup().await;
    let (c, _) = inspector(&server, "inspector_a").await;
    let data = photo(5000, 2);
    let claimed = sha256_hex(b"something else entirely");
    c.blob_start(&claimed, data.len() as u64).await.unwrap();
    let err = c.blob_append(&claimed, 0, data.clone()).await.unwrap_err();
    assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err.error.code, ErrorCode::HashMismatch);
    // Nothing was kept: a new start begins at zero and the blob is absent.
    let st = c.blob_start(&claimed, data.len() as u64).await.unwrap();
    assert_eq!((st.offset, st.complete), (0, false));
    assert_eq!(server.state.store.read().unwrap().count_blobs().unwrap(), 0);
    // Abandon it: it is the only pending upload.
    let pending = server.state.blobs.pending_uploads().unwrap();
    assert_eq!(pending.len(), 1);
    assert!(pending[0].starts_with(&claimed));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_records_naming_one_photo_store_it_once() {
    let (server, fx) = setup().await;
    let (c, device) = inspector(&server, "inspector_a").await;
    let data = photo(50_000, 3);
    c.upload(&data, 16_384).await.unwrap();
    // Uploading again is answered "complete" without sending bytes.
    let st = c.blob_start(&sha256_hex(&data), data.len() as u64).await.unwrap();
    assert!(st.complete);
    let a = water_body(fx.site("water1").id, vec![photo_ref(&data)], None);
    let b = water_body(fx.site("water1").id, vec![photo_ref(&data)], None);
    let r = c.push(&batch(device, vec![submit(1, &a), submit(2, &b)])).await.unwrap();
    assert!(r.results.iter().all(|x| matches!(x.outcome, MutationOutcome::Applied { .. })));
    assert_eq!(server.state.store.read().unwrap().count_blobs().unwrap(), 1);
    assert_eq!(server.state.blobs.stored_hashes().unwrap().len(), 1);
    assert_eq!(stored_bytes(&server, &sha256_hex(&data)), data);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_photo_finished_by_someone_else_leaves_no_half_upload_behind() {
    let (server, _fx) = setup().await;
    let (a, _) = inspector(&server, "inspector_a").await;
    let (b, _) = inspector(&server, "inspector_b").await;
    let data = photo(120_000, 9);
    let hash = sha256_hex(&data);
    // A sends half, then its link goes; B sends the same photo whole.
    a.blob_start(&hash, data.len() as u64).await.unwrap();
    a.blob_append(&hash, 0, data[..60_000].to_vec()).await.unwrap();
    assert_eq!(server.state.blobs.pending_uploads().unwrap().len(), 1);
    b.upload(&data, 40_000).await.unwrap();
    // A comes back: the photo is there, and what A left of it is gone with the answer.
    let st = a.blob_start(&hash, data.len() as u64).await.unwrap();
    assert!(st.complete);
    assert_eq!(server.state.blobs.pending_uploads().unwrap(), Vec::<String>::new());
    assert_eq!(stored_bytes(&server, &hash), data);
}

/// A blob's bytes as the server's blob store (directory or bucket) holds them.
fn stored_bytes(server: &qingliu_tests::TestServer, hash: &str) -> Vec<u8> {
    let h = sync_server::blobs::BlobHash::parse(hash).unwrap();
    let (mut r, len) = server.state.blobs.open(&h).unwrap().expect("stored");
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut out).unwrap();
    assert_eq!(out.len() as u64, len);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn size_limit_and_download_scope() {
    let (server, fx) = setup().await;
    let (a, device) = inspector(&server, "inspector_a").await;
    let big = server.state.config.max_blob_bytes + 1;
    let err = a.blob_start(&sha256_hex(b"x"), big).await.unwrap_err();
    assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(err.error.code, ErrorCode::BlobTooLarge);

    let data = photo(2000, 9);
    a.upload(&data, 1000).await.unwrap();
    let hash = sha256_hex(&data);
    // Uploaded but named by no record: nobody can read it yet.
    assert_eq!(a.download(&hash).await.unwrap_err().status, StatusCode::NOT_FOUND);
    let i = water_body(fx.site("water1").id, vec![photo_ref(&data)], None);
    a.push(&batch(device, vec![submit(1, &i)])).await.unwrap();
    assert_eq!(a.download(&hash).await.unwrap(), data);
    assert_eq!(login(&server, "reviewer_1").await.download(&hash).await.unwrap(), data);
    assert_eq!(login(&server, "county_1").await.download(&hash).await.unwrap(), data);
    for outsider in ["inspector_b", "reviewer_2", "county_2"] {
        let err = login(&server, outsider).await.download(&hash).await.unwrap_err();
        assert_eq!(err.status, StatusCode::NOT_FOUND, "{outsider} must not read it");
    }
    // Reviewers cannot upload.
    let err = login(&server, "reviewer_1").await.blob_start(&sha256_hex(b"r"), 1).await.unwrap_err();
    assert_eq!(err.error.code, ErrorCode::Forbidden);
}

/// `sync-server verify`: photos swapped, truncated or deleted behind the server's back, and
/// files planted in the blob store, are each named; an untouched store verifies.
#[tokio::test(flavor = "multi_thread")]
async fn verify_finds_photos_changed_behind_the_servers_back() {
    use sync_server::domain::integrity::{BlobProblem, verify_blobs};
    let (server, _fx) = setup().await;
    let (c, _) = inspector(&server, "inspector_a").await;
    let photos: Vec<Vec<u8>> = (0..4).map(|n| photo(50_000 + n * 1000, n as u8)).collect();
    for p in &photos {
        c.upload(p, 64 * 1024).await.unwrap();
    }
    let hashes: Vec<String> = photos.iter().map(|p| sha256_hex(p)).collect();
    let (store, blobs) = (server.state.store.as_ref(), server.state.blobs.as_ref());
    let report = verify_blobs(store, blobs).unwrap();
    assert_eq!((report.checked, report.problems.clone()), (4, vec![]));
    assert_eq!(report.bytes, photos.iter().map(|p| p.len() as u64).sum::<u64>());

    // Swapped for another picture of the same size, truncated, deleted, and one planted.
    let swapped = photo(photos[0].len(), 99);
    server.tamper_blob(&hashes[0], Some(&swapped));
    server.tamper_blob(&hashes[1], Some(&photos[1][..1000]));
    server.tamper_blob(&hashes[2], None);
    let planted = sha256_hex(b"planted");
    server.tamper_blob(&planted, Some(b"planted"));

    let mut problems = verify_blobs(store, blobs).unwrap().problems;
    problems.sort_by_key(|p| format!("{p:?}"));
    let mut expected = vec![
        BlobProblem::Altered { sha256: hashes[0].clone(), actual: sha256_hex(&swapped) },
        BlobProblem::WrongSize { sha256: hashes[1].clone(), expected: photos[1].len() as u64, found: 1000 },
        BlobProblem::Altered { sha256: hashes[1].clone(), actual: sha256_hex(&photos[1][..1000]) },
        BlobProblem::Missing { sha256: hashes[2].clone() },
        BlobProblem::Unknown { sha256: planted },
    ];
    expected.sort_by_key(|p| format!("{p:?}"));
    assert_eq!(problems, expected);
}
