//! Other systems connecting (issue 15): service accounts with API keys, and the change feed.

use std::collections::{BTreeMap, BTreeSet};

use qingliu_app::sync;
use qingliu_tests::client::ApiClient;
use qingliu_tests::records::*;
use reqwest::Method;
use shared::integration::{ChangeKind, CreatedServiceAccount, FeedPage, NewApiKey, ServiceAccountView};
use shared::review::ReviewDecision;
use shared::site::SiteStatus;

use crate::{login, setup, tablet};

fn with_token(c: &ApiClient, token: &str) -> ApiClient {
    let mut c = c.clone();
    c.token = Some(token.to_string());
    c
}

async fn create(
    admin: &ApiClient,
    body: serde_json::Value,
) -> Result<CreatedServiceAccount, qingliu_tests::client::Failure> {
    admin.send_json(Method::POST, "/api/v1/service-accounts", &body).await
}

/// Read the whole feed from `after`, `limit` at a time.
async fn read_feed(c: &ApiClient, mut after: u64, limit: u32) -> (Vec<shared::integration::Change>, u64) {
    let mut out = Vec::new();
    loop {
        let page: FeedPage = c.get(&format!("/api/v1/feed?after={after}&limit={limit}")).await.unwrap();
        assert!(page.changes.len() <= limit as usize);
        assert!(page.cursor >= after, "the cursor never goes back");
        out.extend(page.changes);
        after = page.cursor;
        if !page.more {
            return (out, after);
        }
    }
}

/// A system gets an account from the province admin (never a password), reads its region with
/// an API key, and a revoked key stops working on the next request; every step is audited.
#[tokio::test(flavor = "multi_thread")]
async fn service_accounts_read_their_region_with_keys_that_the_admin_revokes() {
    let (server, fx) = setup().await;
    let admin = login(&server, "admin").await;
    let account = |username: &str, role: &str, region: &str| {
        serde_json::json!({
            "username": username, "display_name": "省数字政府平台", "purpose": "数据共享（一套数），联系人 王工",
            "role": role, "region": region, "key_days": 30,
        })
    };

    // Only the province admin, only read-only roles, and the fields are checked.
    let reviewer = login(&server, "reviewer_1").await;
    assert_eq!(create(&reviewer, account("p", "county_viewer", "421103")).await.unwrap_err().status, 403);
    let e = create(&admin, account("p", "province_admin", "420000")).await.unwrap_err();
    assert_eq!((e.status.as_u16(), e.error.fields[0].field.as_str()), (422, "role"));
    let mut bad = account("p", "county_viewer", "421103");
    bad["key_days"] = 0.into();
    let e = create(&admin, bad).await.unwrap_err();
    assert_eq!((e.status.as_u16(), e.error.fields[0].field.as_str()), (422, "key_days"));
    let e = create(&admin, account("p", "county_viewer", "421100")).await.unwrap_err();
    assert_eq!(e.error.fields[0].field, "region");
    let e = create(&admin, account("reviewer_1", "county_viewer", "421103")).await.unwrap_err();
    assert_eq!((e.status.as_u16(), e.error.fields[0].field.as_str()), (409, "username"));

    let made = create(&admin, account("platform", "county_viewer", "421103")).await.unwrap();
    assert!(made.key.key.starts_with(shared::integration::API_KEY_PREFIX));
    let days = (made.key.view.expires_at - made.key.view.issued_at).whole_days();
    assert_eq!(days, 30);
    let system = with_token(&server.client(), &made.key.key);
    let me: shared::auth::UserInfo = system.get("/api/v1/me").await.unwrap();
    assert_eq!((me.username.as_str(), me.role), ("platform", shared::auth::Role::CountyViewer));
    // Its region and nothing else: its county's progress, not the neighbour's.
    assert!(system.get::<serde_json::Value>("/api/v1/progress/421103").await.is_ok());
    assert_eq!(system.get::<serde_json::Value>("/api/v1/progress/421102").await.unwrap_err().status, 404);
    // Read only: no review, no admin.
    assert_eq!(system.get::<serde_json::Value>("/api/v1/users").await.unwrap_err().status, 403);

    // No password logs it in, and none can be set.
    let mut guess = server.client();
    assert_eq!(guess.login("platform", "!service-account").await.unwrap_err().status, 401);
    let id = made.account.user.id;
    let e = admin
        .send_json::<_, serde_json::Value>(
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            &serde_json::json!({ "password": "a-long-enough-password" }),
        )
        .await
        .unwrap_err();
    assert_eq!((e.status.as_u16(), e.error.fields[0].field.as_str()), (403, "password"));
    assert_eq!(guess.login("platform", "a-long-enough-password").await.unwrap_err().status, 401);

    // Rotation: a second key, then the first revoked; the next request with it is refused.
    let second: NewApiKey = admin
        .send_json(Method::POST, &format!("/api/v1/service-accounts/{id}/keys"), &serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!((second.view.expires_at - second.view.issued_at).whole_days(), 365);
    let (status, _) = admin
        .raw(
            Method::DELETE,
            &format!("/api/v1/service-accounts/{id}/keys/{}", made.key.view.id),
            None,
            vec![],
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT);
    assert_eq!(system.get::<serde_json::Value>("/api/v1/me").await.unwrap_err().status, 401);
    assert!(with_token(&server.client(), &second.key).get::<serde_json::Value>("/api/v1/me").await.is_ok());
    let (status, _) =
        admin.raw(Method::DELETE, &format!("/api/v1/service-accounts/{id}/keys/nope"), None, vec![]).await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);
    // A person is not a service account.
    let person = fx.user("county_1").id;
    let (status, _) = admin
        .raw(
            Method::POST,
            &format!("/api/v1/service-accounts/{person}/keys"),
            Some("application/json"),
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::NOT_FOUND);

    // Listed with both keys, never the keys themselves.
    let listed: serde_json::Value = admin.get("/api/v1/service-accounts").await.unwrap();
    assert!(!listed.to_string().contains(&second.key) && !listed.to_string().contains(&made.key.key));
    let listed: Vec<ServiceAccountView> = serde_json::from_value(listed).unwrap();
    assert_eq!(listed.len(), 1);
    let revoked: Vec<bool> = listed[0].keys.iter().map(|k| k.revoked).collect();
    assert_eq!(revoked, [true, false]);
    // Disabling the account ends every key.
    admin
        .send_json::<_, serde_json::Value>(
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            &serde_json::json!({ "disabled": true }),
        )
        .await
        .unwrap();
    assert_eq!(
        with_token(&server.client(), &second.key)
            .get::<serde_json::Value>("/api/v1/me")
            .await
            .unwrap_err()
            .status,
        401
    );

    let audit = server.state.store.read().unwrap().audit_for(&id.to_string()).unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["create_service_account", "create_api_key", "revoke_api_key", "update_user"]);
    assert!(audit.iter().all(|a| a.user_id == Some(fx.user("admin").id)));
    assert!(
        !serde_json::to_string(&audit.iter().map(|a| &a.detail).collect::<Vec<_>>())
            .unwrap()
            .contains("qlk_")
    );
}

/// The feed holds every version received, review decision and site status change once, in
/// commit order, while two tablets push and a reviewer decides; a reader resuming from any
/// cursor sees exactly the rest; a version's content is the record as the tablet signed it; a
/// system of another county sees none of it.
#[tokio::test(flavor = "multi_thread")]
async fn the_feed_holds_every_change_once_in_commit_order() {
    let (server, fx) = setup().await;
    let admin = login(&server, "admin").await;
    let made = |username: &'static str, role: &'static str, region: &'static str| {
        let admin = admin.clone();
        async move {
            let body = serde_json::json!({
                "username": username, "display_name": username, "purpose": "测试", "role": role, "region": region,
            });
            create(&admin, body).await.unwrap().key.key
        }
    };
    let prefecture = with_token(&server.client(), &made("pref-system", "prefecture_viewer", "421100").await);
    let elsewhere = with_token(&server.client(), &made("other-county", "county_viewer", "421103").await);

    let (_da, core_a, client_a) = tablet(&server.base, "inspector_a").await;
    let (_db, core_b, client_b) = tablet(&server.base, "inspector_b").await;
    let mut submitted = BTreeMap::new();
    // Rounds of records from both tablets, the reader following the feed in between.
    let mut seen = Vec::new();
    let mut cursor = 0;
    for round in 0..4 {
        for n in 0..5 {
            let mut i = if n % 2 == 0 {
                water_body(fx.site("water1").id, vec![], None)
            } else {
                village(fx.site("village1").id, None, Some(true))
            };
            i.notes = format!("第 {round}-{n} 条");
            core_a.save_draft(&i).unwrap();
            core_a.submit(&i.id).unwrap();
            submitted.insert(i.id, i);
            let mut j = water_body(fx.site("water2").id, vec![], None);
            j.notes = format!("乙 {round}-{n}");
            core_b.save_draft(&j).unwrap();
            core_b.submit(&j.id).unwrap();
            submitted.insert(j.id, j);
        }
        sync::sync_once(&core_a, &client_a, &mut |_| {}).await.unwrap();
        sync::sync_once(&core_b, &client_b, &mut |_| {}).await.unwrap();
        let (page, next) = read_feed(&prefecture, cursor, 3).await;
        seen.extend(page);
        cursor = next;
    }
    // Decisions: approvals (one of which moves water1 to 已消除), returns.
    let reviewer = login(&server, "reviewer_1").await;
    let mut decided = Vec::new();
    let mut eliminate = water_body(fx.site("water1").id, vec![], Some(SiteStatus::Eliminated));
    eliminate.notes = "已消除黑臭".into();
    core_a.save_draft(&eliminate).unwrap();
    core_a.submit(&eliminate.id).unwrap();
    submitted.insert(eliminate.id, eliminate.clone());
    sync::sync_once(&core_a, &client_a, &mut |_| {}).await.unwrap();
    sync::sync_once(&core_b, &client_b, &mut |_| {}).await.unwrap();
    for (n, id) in
        submitted.keys().filter(|id| fx.site("water2").id != submitted[*id].site_id).take(6).enumerate()
    {
        let decision = if n % 2 == 0 { ReviewDecision::Approve } else { ReviewDecision::Return };
        reviewer.review(*id, 1, decision, if n % 2 == 0 { "" } else { "请补充照片" }).await.unwrap();
        decided.push((*id, decision));
    }
    if !decided.iter().any(|(id, _)| *id == eliminate.id) {
        reviewer.review(eliminate.id, 1, ReviewDecision::Approve, "").await.unwrap();
        decided.push((eliminate.id, ReviewDecision::Approve));
    }
    let (page, end) = read_feed(&prefecture, cursor, 3).await;
    seen.extend(page);

    // Strictly increasing, nothing twice.
    assert!(seen.windows(2).all(|w| w[0].seq < w[1].seq), "in order, once each");
    // Every version once, as signed.
    let versions: BTreeMap<_, _> = seen
        .iter()
        .filter(|c| c.kind == ChangeKind::Version)
        .map(|c| (c.entity_id.clone(), c.data.clone()))
        .collect();
    assert_eq!(versions.len(), submitted.len());
    assert_eq!(seen.iter().filter(|c| c.kind == ChangeKind::Version).count(), submitted.len());
    for (id, i) in &submitted {
        let got: shared::inspection::Inspection =
            serde_json::from_value(versions[&id.to_string()].clone()).unwrap();
        assert_eq!(&got, i);
    }
    // Every decision once, after its version.
    let reviews: Vec<_> = seen.iter().filter(|c| c.kind == ChangeKind::Review).collect();
    assert_eq!(reviews.len(), decided.len());
    for (id, decision) in &decided {
        let r = reviews.iter().find(|c| c.entity_id == id.to_string()).expect("decision in the feed");
        assert_eq!(r.data["review"]["decision"], serde_json::to_value(decision).unwrap());
        let v = seen.iter().find(|c| c.kind == ChangeKind::Version && c.entity_id == id.to_string()).unwrap();
        assert!(v.seq < r.seq);
    }
    // The site change, with the record that caused it.
    let sites: Vec<_> = seen.iter().filter(|c| c.kind == ChangeKind::Site).collect();
    assert_eq!(sites.len(), 1, "{sites:?}");
    assert_eq!(sites[0].entity_id, fx.site("water1").id.to_string());
    assert_eq!(
        (sites[0].data["from"].as_str(), sites[0].data["to"].as_str()),
        (Some("remediating"), Some("eliminated"))
    );
    assert_eq!(sites[0].data["record_id"], eliminate.id.to_string());

    // Resuming from any cursor gives exactly the rest.
    for k in [0, 1, seen.len() / 2, seen.len() - 1] {
        let (rest, _) = read_feed(&prefecture, seen[k].seq, 1000).await;
        let want: Vec<u64> = seen[k + 1..].iter().map(|c| c.seq).collect();
        assert_eq!(rest.iter().map(|c| c.seq).collect::<Vec<_>>(), want);
    }
    let (none, cursor) = read_feed(&prefecture, end, 10).await;
    assert!(none.is_empty() && cursor == end);
    // Another county's system sees nothing of this county.
    let (other, _) = read_feed(&elsewhere, 0, 1000).await;
    assert!(other.is_empty(), "{other:?}");
    let villages: BTreeSet<_> = seen.iter().map(|c| c.village.as_str().to_string()).collect();
    assert!(villages.iter().all(|v| v.starts_with("421102")));
    // The same records as JSON Lines, the exchange format: one versioned DTO per line, the
    // current version as the tablet signed it and the review state it ended in.
    let (status, headers, body) = prefecture.get_bytes("/api/v1/exports/inspections.jsonl").await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/jsonl"));
    let text = String::from_utf8(body).unwrap();
    assert!(text.ends_with('\n'));
    let lines: Vec<shared::sync::InspectionRecord> =
        text.lines().map(|l| serde_json::from_str(l).expect("a record per line")).collect();
    assert_eq!(lines.len(), submitted.len());
    for r in &lines {
        assert_eq!(&r.inspection, &submitted[&r.inspection.id]);
        let decision = decided.iter().find(|(id, _)| *id == r.inspection.id).map(|(_, d)| *d);
        assert_eq!(r.review.as_ref().map(|n| n.decision), decision);
    }

    // Inspectors have their own pull, not the feed; limits are checked.
    let inspector = login(&server, "inspector_a").await;
    assert_eq!(inspector.get::<FeedPage>("/api/v1/feed").await.unwrap_err().status, 403);
    let e = prefecture.get::<FeedPage>("/api/v1/feed?limit=0").await.unwrap_err();
    assert_eq!((e.status.as_u16(), e.error.fields[0].field.as_str()), (422, "limit"));
}
