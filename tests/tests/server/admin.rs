//! Province administration: targets with monthly plans and users with roles and scopes.

use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::sync::{Change, PullScope};

use qingliu_tests::fixture::PASSWORD;

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

#[tokio::test(flavor = "multi_thread")]
async fn users_are_listed_changed_and_disabled_which_ends_their_sessions() {
    let (server, fx) = setup().await;
    let admin = login(&server, "admin").await;
    let listed: Vec<serde_json::Value> = admin.get("/api/v1/users").await.unwrap();
    let names: Vec<&str> = listed.iter().map(|u| u["user"]["username"].as_str().unwrap()).collect();
    assert!(names.contains(&"inspector_a") && names.contains(&"county_2"), "{names:?}");
    assert!(
        listed.iter().all(|u| u.get("password_hash").is_none() && u["user"].get("password_hash").is_none())
    );
    let a = listed.iter().find(|u| u["user"]["username"] == "inspector_a").unwrap();
    assert_eq!(a["villages"].as_array().unwrap().len(), 3, "the fixture assigns three villages");
    let id = a["user"]["id"].as_str().unwrap().to_string();

    // Nobody else may list or change users.
    let county = login(&server, "county_1").await;
    assert_eq!(
        county.get::<serde_json::Value>("/api/v1/users").await.unwrap_err().error.code,
        shared::ErrorCode::Forbidden
    );

    // Reassign to one village and rename: the inspector keeps working, now on that village only.
    let inspector = login(&server, "inspector_a").await;
    let one = fx.site("village4").village.to_string();
    let patched: serde_json::Value = admin
        .send_json(
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            &json!({"display_name": "甲", "villages": [one]}),
        )
        .await
        .unwrap();
    assert_eq!(
        (patched["user"]["display_name"].as_str(), patched["villages"].as_array().unwrap().len()),
        (Some("甲"), 1)
    );
    let me: serde_json::Value = inspector.get("/api/v1/me").await.unwrap();
    assert_eq!(me["display_name"], "甲", "a rename does not end the session");

    // Invalid changes are refused with field errors and change nothing.
    let before = crate::fingerprint(&server);
    for (body, field) in [
        (json!({"role": "county_viewer"}), "region"),
        (json!({"villages": ["421103101201"]}), "villages[0]"),
        (json!({"password": "short"}), "password"),
        (json!({"display_name": ""}), "display_name"),
    ] {
        let err = admin
            .send_json::<_, serde_json::Value>(Method::PATCH, &format!("/api/v1/users/{id}"), &body)
            .await
            .unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(err.error.fields.iter().any(|f| f.field == field), "{body}: {:?}", err.error.fields);
    }
    let err = admin
        .send_json::<_, serde_json::Value>(
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            &json!({"bogus": 1}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status, StatusCode::BAD_REQUEST, "unknown fields are refused, not ignored");
    assert_eq!(crate::fingerprint(&server), before);

    // One admin cannot reset, demote or disable another.
    let peer: serde_json::Value = admin
        .send_json(
            Method::POST,
            "/api/v1/users",
            &json!({"username": "admin2", "display_name": "二号管理员", "role": "province_admin",
                    "region": "420000", "password": "a long enough password"}),
        )
        .await
        .unwrap();
    let peer_id = peer["user"]["id"].as_str().unwrap().to_string();
    for body in
        [json!({"password": "taken over password"}), json!({"disabled": true}), json!({"display_name": "x"})]
    {
        let err = admin
            .send_json::<_, serde_json::Value>(Method::PATCH, &format!("/api/v1/users/{peer_id}"), &body)
            .await
            .unwrap_err();
        assert_eq!(
            (err.status, err.error.code),
            (StatusCode::FORBIDDEN, shared::ErrorCode::Forbidden),
            "{body}"
        );
    }

    // The admin cannot disable themselves.
    let admin_id = listed.iter().find(|u| u["user"]["username"] == "admin").unwrap()["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let err = admin
        .send_json::<_, serde_json::Value>(
            Method::PATCH,
            &format!("/api/v1/users/{admin_id}"),
            &json!({"disabled": true}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Disabling ends every session at once and stops new logins.
    let _: serde_json::Value = admin
        .send_json(Method::PATCH, &format!("/api/v1/users/{id}"), &json!({"disabled": true}))
        .await
        .unwrap();
    assert_eq!(
        inspector.get::<serde_json::Value>("/api/v1/me").await.unwrap_err().status,
        StatusCode::UNAUTHORIZED
    );
    let mut again = server.client();
    assert_eq!(
        again.login("inspector_a", PASSWORD).await.unwrap_err().error.code,
        shared::ErrorCode::InvalidCredentials
    );
    // Enabled with a new password: the old one no longer works, the new one does.
    let _: serde_json::Value = admin
        .send_json(
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            &json!({"disabled": false, "password": "another long password"}),
        )
        .await
        .unwrap();
    assert!(again.login("inspector_a", PASSWORD).await.is_err());
    again.login("inspector_a", "another long password").await.unwrap();
    let audit: i64 = {
        let mut tx = server.state.store.read().unwrap();
        tx.audit_for(&id).unwrap().iter().filter(|a| a.action == "update_user").count() as i64
    };
    assert_eq!(audit, 3, "every accepted change is audited");
}
