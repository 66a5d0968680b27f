//! Webhooks (issue 15) against a real receiver on a real port: deliveries signed with the
//! subscription's secret, every wanted change once in feed order, a receiver that is down for a
//! while gets everything when it comes back (the push path never waits for it), one that stays
//! down is given up on after the configured time, visibly.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use qingliu_app::sync;
use qingliu_tests::process::wait_until;
use qingliu_tests::records::*;
use qingliu_tests::{ApiClient, TestServer};
use reqwest::Method;
use sha2::{Digest, Sha256};
use shared::integration::{ChangeKind, CreatedWebhook, WebhookDelivery, WebhookState, WebhookView};
use shared::review::ReviewDecision;

use crate::{login, tablet};

/// What the receiver accepted: the signature header and the body of each delivery.
type Accepted = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A receiver that keeps what it accepts and answers 503 while "down".
#[derive(Clone, Default)]
struct Receiver {
    up: Arc<AtomicBool>,
    got: Accepted,
    refused: Arc<std::sync::atomic::AtomicUsize>,
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: axum::body::Bytes) -> StatusCode {
    if !r.up.load(Ordering::SeqCst) {
        r.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let sig = headers.get("x-qingliu-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    r.got.lock().unwrap().push((sig, body.to_vec()));
    StatusCode::NO_CONTENT
}

async fn start_receiver() -> (Receiver, String) {
    let r = Receiver::default();
    r.up.store(true, Ordering::SeqCst);
    let app = axum::Router::new().route("/hook", axum::routing::post(hook)).with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (r, url)
}

/// HMAC-SHA256, written here again from RFC 2104 so that the test does not trust the server's.
fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut k = key.to_vec();
    if k.len() > 64 {
        k = Sha256::digest(&k).to_vec();
    }
    k.resize(64, 0);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new().chain_update(&ipad).chain_update(msg).finalize();
    Sha256::new().chain_update(&opad).chain_update(inner).finalize().to_vec()
}

fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let Some((t, v1)) = header.strip_prefix("t=").and_then(|h| h.split_once(",v1=")) else { return false };
    let mut msg = format!("{t}.").into_bytes();
    msg.extend_from_slice(body);
    hex::encode(hmac(secret.as_bytes(), &msg)) == v1
}

async fn views(c: &ApiClient) -> Vec<WebhookView> {
    c.get("/api/v1/webhooks").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_are_signed_in_order_survive_a_receiver_outage_and_give_up_visibly() {
    let server = TestServer::start_with(|c| {
        c.webhook_retry_base_ms = 50;
        c.webhook_retry_max_secs = 1;
    })
    .await;
    let fx = qingliu_tests::fixture::install(server.state.store.as_ref());
    let admin = login(&server, "admin").await;
    let made: shared::integration::CreatedServiceAccount = admin
        .send_json(
            Method::POST,
            "/api/v1/service-accounts",
            &serde_json::json!({"username": "platform", "display_name": "省平台", "purpose": "测试",
                "role": "prefecture_viewer", "region": "421100"}),
        )
        .await
        .unwrap();
    let mut system = server.client();
    system.token = Some(made.key.key);
    let (receiver, url) = start_receiver().await;

    // Bad subscriptions are refused with the field named.
    let e = system
        .send_json::<_, CreatedWebhook>(
            Method::POST,
            "/api/v1/webhooks",
            &serde_json::json!({"url": "ftp://x/", "events": ["version"]}),
        )
        .await
        .unwrap_err();
    assert_eq!((e.status.as_u16(), e.error.fields[0].field.as_str()), (422, "url"));
    let hook: CreatedWebhook = system
        .send_json(
            Method::POST,
            "/api/v1/webhooks",
            &serde_json::json!({"url": url, "events": ["version", "review"]}),
        )
        .await
        .unwrap();
    assert!(hook.secret.starts_with("whsec_"));
    assert!(
        !serde_json::to_string(&views(&system).await).unwrap().contains(&hook.secret),
        "the secret is shown once"
    );

    // Records arrive; the receiver gets them.
    let (_dir, core, client) = tablet(&server.base, "inspector_a").await;
    let mut submitted = Vec::new();
    let mut submit_some = |n: usize| {
        for k in 0..n {
            let mut i = water_body(fx.site("water1").id, vec![], None);
            i.notes = format!("第 {k} 条");
            core.save_draft(&i).unwrap();
            core.submit(&i.id).unwrap();
            submitted.push(i.id);
        }
    };
    submit_some(3);
    sync::sync_once(&core, &client, &mut |_| {}).await.unwrap();
    let got = receiver.got.clone();
    wait_until(20, "the first three versions delivered", || {
        let got = got.clone();
        async move { deliveries(&got).iter().filter(|c| c.kind == ChangeKind::Version).count() == 3 }
    })
    .await;

    // Down: pushes and reviews go on as if nothing were wrong; the subscription shows failing.
    receiver.up.store(false, Ordering::SeqCst);
    submit_some(3);
    let started = std::time::Instant::now();
    sync::sync_once(&core, &client, &mut |_| {}).await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "the push does not wait for receivers");
    let reviewer = login(&server, "reviewer_1").await;
    reviewer.review(submitted[0], 1, ReviewDecision::Return, "请补充照片").await.unwrap();
    reviewer.review(submitted[4], 1, ReviewDecision::Approve, "").await.unwrap();
    wait_until(20, "the subscription shows failing", || {
        let system = system.clone();
        async move {
            let v = views(&system).await;
            v[0].state == WebhookState::Failing && v[0].attempts >= 2 && v[0].last_status == Some(503)
        }
    })
    .await;
    let refused = receiver.refused.load(Ordering::SeqCst);
    assert!(refused >= 2, "retried while down ({refused})");

    // Back up: everything wanted arrives, once each after removing repeats, in feed order.
    receiver.up.store(true, Ordering::SeqCst);
    wait_until(20, "everything delivered after the outage", || {
        let got = got.clone();
        async move { deliveries(&got).len() == 8 }
    })
    .await;
    let bodies = got.lock().unwrap().clone();
    let mut last_seq = 0;
    for (sig, body) in &bodies {
        assert!(verify(&hook.secret, sig, body), "signature verifies: {sig}");
        assert!(!verify("whsec_not-the-secret", sig, body));
        let d: WebhookDelivery = serde_json::from_slice(body).unwrap();
        assert_eq!(d.webhook_id, hook.webhook.id);
        for c in &d.changes {
            assert!(c.seq > last_seq, "in feed order, each once");
            last_seq = c.seq;
        }
    }
    let all = deliveries(&got);
    let versions: BTreeSet<String> =
        all.iter().filter(|c| c.kind == ChangeKind::Version).map(|c| c.entity_id.clone()).collect();
    assert_eq!(versions, submitted.iter().map(|i| i.to_string()).collect());
    let reviews: Vec<_> = all.iter().filter(|c| c.kind == ChangeKind::Review).collect();
    assert_eq!(reviews.len(), 2);
    assert!(all.iter().all(|c| c.kind != ChangeKind::Site), "only the kinds subscribed to");
    // The server records the delivery once the receiver's answer is in.
    wait_until(20, "the subscription shows everything delivered", || {
        let system = system.clone();
        async move { views(&system).await[0].delivered == 8 }
    })
    .await;
    let v = &views(&system).await[0];
    assert_eq!((v.state, v.delivered, v.given_up, v.attempts), (WebhookState::Delivering, 8, 0, 0));

    // A receiver that never comes back: given up on after the configured time (24 h by
    // default; the server's clock is moved), counted, and visible to the province admin.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dead: CreatedWebhook = system
        .send_json(
            Method::POST,
            "/api/v1/webhooks",
            &serde_json::json!({"url": format!("http://{closed}/hook"), "events": ["version"], "from_start": true}),
        )
        .await
        .unwrap();
    let id = dead.webhook.id.clone();
    wait_until(20, "the dead receiver's subscription failing", || {
        let (system, id) = (system.clone(), id.clone());
        async move { views(&system).await.iter().any(|v| v.id == id && v.state == WebhookState::Failing) }
    })
    .await;
    server.clock.advance(time::Duration::hours(25));
    wait_until(20, "the dead receiver's changes given up", || {
        let (system, id) = (system.clone(), id.clone());
        async move { views(&system).await.iter().any(|v| v.id == id && v.given_up == 6) }
    })
    .await;
    let seen_by_admin = views(&admin).await;
    let d = seen_by_admin.iter().find(|v| v.id == id).expect("the admin sees every subscription");
    assert!(d.last_error.as_deref().unwrap_or("").contains("已放弃"), "{d:?}");
    assert_eq!(d.delivered, 0);
    assert_eq!(seen_by_admin.iter().find(|v| v.id == hook.webhook.id).unwrap().delivered, 8);

    // Deleted: gone from the list; another caller cannot delete what is not theirs.
    let (status, _) =
        reviewer.raw(Method::DELETE, &format!("/api/v1/webhooks/{}", hook.webhook.id), None, vec![]).await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
    let (status, _) = system.raw(Method::DELETE, &format!("/api/v1/webhooks/{id}"), None, vec![]).await;
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT);
    assert_eq!(views(&system).await.len(), 1);
}

/// Every change the receiver accepted, repeats removed (deliveries are at least once).
fn deliveries(got: &Mutex<Vec<(String, Vec<u8>)>>) -> Vec<shared::integration::Change> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (_, body) in got.lock().unwrap().iter() {
        let d: WebhookDelivery = serde_json::from_slice(body).unwrap();
        for c in d.changes {
            if seen.insert(c.seq) {
                out.push(c);
            }
        }
    }
    out
}

/// Two servers on one database both run the dispatcher: each subscription is delivered by one
/// at a time (its lease), so the receiver gets every change exactly once, in feed order, while
/// records arrive through both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_deliver_each_change_once_in_order() {
    let a = TestServer::start_with(|c| c.webhook_retry_base_ms = 50).await;
    let fx = qingliu_tests::fixture::install(a.state.store.as_ref());
    let b = TestServer::start_sharing(&a).await;
    let reviewer = login(&a, "reviewer_1").await;
    let (receiver, url) = start_receiver().await;
    let hook: CreatedWebhook = reviewer
        .send_json(Method::POST, "/api/v1/webhooks", &serde_json::json!({"url": url, "events": ["version"]}))
        .await
        .unwrap();
    let (ca, da) = crate::inspector(&a, "inspector_a").await;
    let (cb, db) = crate::inspector(&a, "inspector_a").await;
    let cb = ApiClient { base: b.base.clone(), ..cb };
    let site = fx.site("water1").id;
    let writer = |c: ApiClient, device: shared::DeviceId| async move {
        for n in 0..20u64 {
            c.push(&batch(device, vec![submit(n + 1, &water_body(site, vec![], None))])).await.unwrap();
        }
    };
    tokio::join!(writer(ca, da), writer(cb, db));
    let got = receiver.got.clone();
    wait_until(30, "every version delivered", || {
        let got = got.clone();
        async move { deliveries(&got).len() == 40 }
    })
    .await;
    let mut seqs = Vec::new();
    for (sig, body) in got.lock().unwrap().iter() {
        assert!(verify(&hook.secret, sig, body));
        let d: WebhookDelivery = serde_json::from_slice(body).unwrap();
        seqs.extend(d.changes.iter().map(|c| c.seq));
    }
    assert_eq!(seqs.len(), 40, "no change delivered twice");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in feed order: {seqs:?}");
}
