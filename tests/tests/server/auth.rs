use qingliu_tests::fixture::PASSWORD;
use reqwest::StatusCode;
use shared::ErrorCode;

use crate::{login, setup};

#[tokio::test(flavor = "multi_thread")]
async fn tokens_expire_and_are_revocable() {
    let (server, fx) = setup().await;
    let c = login(&server, "inspector_a").await;
    let me: shared::auth::UserInfo = c.get("/api/v1/me").await.unwrap();
    assert_eq!(me.username, "inspector_a");
    assert_eq!(me.region, fx.t1);

    // Logout revokes this token only.
    let other = login(&server, "inspector_a").await;
    c.logout().await.unwrap();
    assert_eq!(
        c.get::<serde_json::Value>("/api/v1/me").await.unwrap_err().error.code,
        ErrorCode::Unauthenticated
    );
    assert!(other.get::<serde_json::Value>("/api/v1/me").await.is_ok());

    // Expiry, by moving the server's clock past the lifetime.
    server
        .clock
        .advance(time::Duration::hours(server.state.config.token_ttl_hours) + time::Duration::seconds(1));
    let err = other.get::<serde_json::Value>("/api/v1/me").await.unwrap_err();
    assert_eq!((err.status, err.error.code), (StatusCode::UNAUTHORIZED, ErrorCode::TokenExpired));
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_revokes_all_tokens_of_a_user() {
    let (server, fx) = setup().await;
    let a1 = login(&server, "inspector_a").await;
    let a2 = login(&server, "inspector_a").await;
    let b = login(&server, "inspector_b").await;
    // Not the admin: another user's id does not exist for them.
    let path = format!("/api/v1/users/{}/revoke-tokens", fx.user("inspector_a").id);
    let err = b
        .send_json::<_, serde_json::Value>(reqwest::Method::POST, &path, &serde_json::json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.status, StatusCode::NOT_FOUND);
    let admin = login(&server, "admin").await;
    let r: serde_json::Value =
        admin.send_json(reqwest::Method::POST, &path, &serde_json::json!({})).await.unwrap();
    assert_eq!(r["revoked"], 2);
    for c in [&a1, &a2] {
        assert_eq!(
            c.get::<serde_json::Value>("/api/v1/me").await.unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert!(b.get::<serde_json::Value>("/api/v1/me").await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn login_failures_are_rate_limited_and_uniform() {
    let (server, _fx) = setup().await;
    let mut c = server.client();
    let unknown = c.login("nobody", "x").await.unwrap_err();
    let wrong = c.login("inspector_a", "wrong").await.unwrap_err();
    assert_eq!(unknown.error.code, ErrorCode::InvalidCredentials);
    assert_eq!(unknown.error.message, wrong.error.message, "no hint whether the user exists");
    for _ in 1..server.state.config.login_max_failures {
        assert_eq!(
            c.login("inspector_a", "wrong").await.unwrap_err().error.code,
            ErrorCode::InvalidCredentials
        );
    }
    // Locked now, even with the right password.
    let err = c.login("inspector_a", PASSWORD).await.unwrap_err();
    assert_eq!((err.status, err.error.code), (StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited));
    // Other users are unaffected; the lock lifts after the window.
    assert!(c.login("inspector_b", PASSWORD).await.is_ok());
    server.clock.advance(time::Duration::minutes(server.state.config.login_window_minutes));
    assert!(c.login("inspector_a", PASSWORD).await.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn counting_windows_that_ran_out_are_forgotten() {
    let (server, _fx) = setup().await;
    let c = server.client();
    let rows = || {
        server
            .dba()
            .query_text("SELECT CAST(COUNT(*) AS TEXT) FROM login_attempts", &[])
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    // Guessed usernames that do not exist: each is counted within the window ...
    for n in 0..12 {
        c.clone().login(&format!("guess{n}"), "x").await.unwrap_err();
    }
    assert_eq!(rows(), 12);
    // ... and forgotten once its window has run out, at the next attempt of anyone.
    server.clock.advance(
        time::Duration::minutes(server.state.config.login_window_minutes) + time::Duration::seconds(1),
    );
    c.clone().login("guess-late", "x").await.unwrap_err();
    assert_eq!(rows(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn passwords_are_stored_as_argon2id() {
    let (server, _fx) = setup().await;
    let row = server.state.store.read().unwrap().user_by_username("inspector_a").unwrap().unwrap();
    assert!(row.password_hash.starts_with("$argon2id$"), "{}", row.password_hash);
    assert!(!row.password_hash.contains(PASSWORD));
}
