//! Province administration: targets with monthly plans and users with roles and scopes.

use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::sync::{Change, PullScope};

use crate::{login, setup};

#[tokio::test(flavor = "multi_thread")]
async fn targets_are_data_set_by_the_province_admin() {
    let (server, _fx) = setup().await;
    let admin = login(&server, "admin").await;
    let plan: Vec<f64> = (1..=12).map(|m| m as f64 / 12.0).collect();
    let t = json!({"year": 2026, "region": "421102", "metric": "villages_remediated", "value": 5.0, "monthly_plan": plan});
    let saved: serde_json::Value = admin.send_json(Method::PUT, "/api/v1/targets", &t).await.unwrap();
    assert_eq!(saved["region"], "421102000000");
    let listed: serde_json::Value = admin.get("/api/v1/targets/421102?year=2026").await.unwrap();
    assert_eq!(listed[0]["value"], 5.0);
    let tracking: serde_json::Value = admin.get("/api/v1/tracking/421102?year=2026&month=12").await.unwrap();
    assert_eq!(tracking["region"]["villages"]["target"], 5.0, "tracking reads the target");

    let mut bad = t.clone();
    bad["monthly_plan"] = json!([0.5, 1.0]);
    let err =
        admin.send_json::<_, serde_json::Value>(Method::PUT, "/api/v1/targets", &bad).await.unwrap_err();
    assert_eq!(
        (err.status, err.error.code),
        (StatusCode::UNPROCESSABLE_ENTITY, shared::ErrorCode::InvalidValue)
    );
    let county = login(&server, "county_1").await;
    let err = county.send_json::<_, serde_json::Value>(Method::PUT, "/api/v1/targets", &t).await.unwrap_err();
    assert_eq!(err.error.code, shared::ErrorCode::Forbidden);
}

#[tokio::test(flavor = "multi_thread")]
async fn users_get_roles_scopes_and_assigned_villages() {
    let (server, fx) = setup().await;
    let admin = login(&server, "admin").await;
    let village = fx.site("village2").village.to_string();
    let new = json!({
        "username": "new_inspector", "display_name": "新检查员", "role": "inspector",
        "region": fx.t1.to_string(), "password": "a long enough password", "villages": [village]
    });
    let created: serde_json::Value = admin.send_json(Method::POST, "/api/v1/users", &new).await.unwrap();
    assert_eq!(created["user"]["role"], "inspector");
    let err = admin.send_json::<_, serde_json::Value>(Method::POST, "/api/v1/users", &new).await.unwrap_err();
    assert_eq!((err.status, err.error.code), (StatusCode::CONFLICT, shared::ErrorCode::Conflict));

    // The new inspector sees exactly the assigned village's sites.
    let mut c = server.client();
    c.login("new_inspector", "a long enough password").await.unwrap();
    let (changes, _) = c.pull_all(PullScope::Inspector, None).await.unwrap();
    let villages: std::collections::BTreeSet<String> = changes
        .iter()
        .filter_map(|ch| if let Change::Site { site } = ch { Some(site.village.to_string()) } else { None })
        .collect();
    assert_eq!(villages.into_iter().collect::<Vec<_>>(), vec![village.clone()]);

    for (field, value, code) in [
        ("region", json!("421102"), "inconsistent"),
        ("password", json!("short"), "validation_failed"),
        ("villages", json!([fx.site("village_t2").village.to_string()]), "validation_failed"),
    ] {
        let mut bad = new.clone();
        bad["username"] = json!(format!("bad_{field}"));
        bad[field] = value;
        let err =
            admin.send_json::<_, serde_json::Value>(Method::POST, "/api/v1/users", &bad).await.unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert!(
            err.error.code.as_str() == code || err.error.fields.iter().any(|f| f.code.as_str() == code),
            "{field}: {:?}",
            err.error
        );
    }
    let reviewer = login(&server, "reviewer_1").await;
    let err =
        reviewer.send_json::<_, serde_json::Value>(Method::POST, "/api/v1/users", &new).await.unwrap_err();
    assert_eq!(err.error.code, shared::ErrorCode::Forbidden);
}
