//! Compression on the wire (issue 12): pull pages and other JSON answers compressed when the
//! client asks, push bodies read compressed, body limits counted after decompression, photos
//! passed as they are, and the field app's client compressing its pushes by itself.

use qingliu_tests::client::sha256_hex;
use qingliu_tests::records::*;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE};
use shared::sync::{MutationOutcome, PushResponse};

use crate::{inspector, login, setup};

/// A client that leaves encodings to the test: nothing asked for or decoded behind its back.
fn raw() -> reqwest::Client {
    reqwest::Client::builder().no_gzip().no_zstd().build().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_pages_are_compressed_when_asked_and_decode_to_the_same_page() {
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let records: Vec<_> = (0..200).map(|_| water_body(fx.site("water1").id, vec![], None)).collect();
    a.push(&batch(da, records.iter().enumerate().map(|(n, i)| submit(n as u64 + 1, i)).collect()))
        .await
        .unwrap();
    let r1 = login(&server, "reviewer_1").await;
    let url = r1.url("/api/v1/sync/pull?scope=review&limit=200");
    let token = r1.token.clone().unwrap();
    let plain = raw().get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::OK);
    assert!(plain.headers().get(CONTENT_ENCODING).is_none(), "not asked, not compressed");
    assert_eq!(plain.headers()[ACCEPT_ENCODING], "zstd, gzip", "the answer says what requests may use");
    let plain = plain.bytes().await.unwrap();

    let z = raw().get(&url).bearer_auth(&token).header(ACCEPT_ENCODING, "zstd").send().await.unwrap();
    assert_eq!(z.headers()[CONTENT_ENCODING], "zstd");
    let z = z.bytes().await.unwrap();
    let decoded = zstd::decode_all(&z[..]).unwrap();
    let (a, b): (serde_json::Value, serde_json::Value) =
        (serde_json::from_slice(&plain).unwrap(), serde_json::from_slice(&decoded).unwrap());
    assert_eq!(a["changes"].as_array().unwrap().len(), 200, "a full page");
    assert_eq!(a, b, "the same page");
    assert!(
        z.len() * 100 <= plain.len() * 40,
        "zstd page {} B against {} B plain: over 40 %",
        z.len(),
        plain.len()
    );

    let g = raw().get(&url).bearer_auth(&token).header(ACCEPT_ENCODING, "gzip").send().await.unwrap();
    assert_eq!(g.headers()[CONTENT_ENCODING], "gzip");
}

#[tokio::test(flavor = "multi_thread")]
async fn photos_pass_as_they_are_whatever_the_client_accepts() {
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    // Highly compressible bytes: if anything were to compress them, it would.
    let data = vec![7u8; 300_000];
    a.upload(&data, 65_536).await.unwrap();
    let i = water_body(fx.site("water1").id, vec![photo_ref(&data)], None);
    a.push(&batch(da, vec![submit(1, &i)])).await.unwrap();
    let resp = raw()
        .get(a.url(&format!("/api/v1/blobs/{}", sha256_hex(&data))))
        .bearer_auth(a.token.clone().unwrap())
        .header(ACCEPT_ENCODING, "zstd, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get(CONTENT_ENCODING).is_none());
    assert_eq!(resp.bytes().await.unwrap().to_vec(), data);
}

#[tokio::test(flavor = "multi_thread")]
async fn compressed_pushes_are_read_and_limits_count_the_decompressed_bytes() {
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let push = |body: Vec<u8>, encoding: &'static str| {
        raw()
            .post(a.url("/api/v1/sync/push"))
            .bearer_auth(a.token.clone().unwrap())
            .header(CONTENT_TYPE, "application/json")
            .header(CONTENT_ENCODING, encoding)
            .body(body)
    };
    let i = water_body(fx.site("water1").id, vec![], None);
    let json = serde_json::to_vec(&batch(da, vec![submit(1, &i)])).unwrap();
    let resp = push(zstd::encode_all(&json[..], 3).unwrap(), "zstd").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let r: PushResponse = resp.json().await.unwrap();
    assert!(matches!(r.results[0].outcome, MutationOutcome::Applied { .. }), "{:?}", r.results[0].outcome);

    let count = || server.state.store.read().unwrap().count_versions().unwrap();
    let errors = |v: serde_json::Value| v["code"].as_str().unwrap().to_string();
    // A bomb: 40 MiB of spaces inside a valid JSON prefix, a few KiB compressed.
    let mut bomb = br#"{"device_id":""#.to_vec();
    bomb.extend(std::iter::repeat_n(b' ', 40 << 20));
    let z = zstd::encode_all(&bomb[..], 19).unwrap();
    assert!(z.len() < 64 * 1024, "the bomb is small on the wire ({} B)", z.len());
    let resp = push(z, "zstd").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(errors(resp.json().await.unwrap()), "body_too_large");

    // Not what it says it is.
    let resp = push(b"definitely not zstd".to_vec(), "zstd").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(errors(resp.json().await.unwrap()), "invalid_body");

    // An encoding the server does not read: a JSON 415 naming the ones it does.
    let resp = push(json.clone(), "br").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(resp.headers()[ACCEPT_ENCODING], "zstd, gzip");
    assert_eq!(errors(resp.json().await.unwrap()), "unsupported_media_type");
    assert_eq!(count(), 1, "nothing of the refused bodies was stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_field_app_compresses_its_pushes_to_a_server_that_reads_them() {
    use qingliu_app::sync;
    use qingliu_tests::faultproxy::FaultProxy;
    let (server, fx) = setup().await;
    let proxy = FaultProxy::start(server.addr()).await;
    let (_dir, core, client) = qingliu_tests::tablet(&proxy.base(), "inspector_a").await;
    let water = core.site(&fx.site("water1").id).unwrap().expect("site pulled");
    let records: Vec<_> = (0..40)
        .map(|n| {
            let mut i = water_body(water.id, vec![], None);
            i.notes = format!("第{n}次巡查：水面无漂浮物，岸边无垃圾堆放，排口无污水直排。");
            core.save_draft(&i).unwrap();
            core.submit(&i.id).unwrap();
            i
        })
        .collect();
    let plain: usize = records.iter().map(|i| serde_json::to_vec(i).unwrap().len()).sum();
    let before = proxy.upstream_bytes();
    let report = sync::sync_once(&core, &client, &mut |_| {}).await.unwrap();
    assert_eq!(report.pushed, 40);
    let sent = (proxy.upstream_bytes() - before) as usize;
    assert!(client.compresses_pushes());
    // Everything the sync sent (push, pull requests, headers) in less than half the records'
    // own JSON: the push went compressed.
    assert!(sent * 2 < plain, "{sent} B sent for {plain} B of records");
    assert_eq!(server.state.store.read().unwrap().count_versions().unwrap(), 40);
}
