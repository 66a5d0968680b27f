use reqwest::{Method, StatusCode};

use crate::setup;

/// Every operation in the document is served (no route falls through to the 404/405
/// fallbacks), and every route the clients use is in the document. (Routes are registered
/// through utoipa-axum's `routes!`, which takes path and method from the same annotation that
/// documents them, so an undocumented API route cannot be registered that way.)
#[tokio::test(flavor = "multi_thread")]
async fn document_matches_the_routes() {
    let (server, _fx) = setup().await;
    let c = server.client();
    let doc: serde_json::Value = c.get("/api/openapi.json").await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let mut ops = Vec::new();
    for (path, item) in paths {
        for method in ["get", "post", "patch", "put", "delete"] {
            if item.get(method).is_some() {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    for expected in [
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/logout"),
        ("POST", "/api/v1/devices"),
        ("POST", "/api/v1/sync/push"),
        ("GET", "/api/v1/sync/pull"),
        ("POST", "/api/v1/blobs/{sha256}"),
        ("PATCH", "/api/v1/blobs/{sha256}"),
        ("GET", "/api/v1/blobs/{sha256}"),
        ("GET", "/api/v1/inspections/{id}"),
        ("POST", "/api/v1/inspections/{id}/review"),
        ("GET", "/api/v1/progress/{region}"),
        ("GET", "/healthz"),
    ] {
        assert!(ops.iter().any(|(m, p)| m == expected.0 && p == expected.1), "{expected:?} not documented");
    }
    for (method, path) in &ops {
        let concrete = path
            .replace("{sha256}", &"a".repeat(64))
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{region}", "420000");
        let (status, body) =
            c.raw(Method::from_bytes(method.as_bytes()).unwrap(), &concrete, None, vec![]).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(
            !(status == StatusCode::NOT_FOUND && body["message"] == "接口不存在"),
            "{method} {path} is documented but not routed"
        );
    }
    // The schemas the app relies on are in the document.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in
        ["PushRequest", "PushResponse", "MutationOutcome", "Inspection", "PullPage", "ApiError", "ErrorCode"]
    {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_reports_backend() {
    let (server, _fx) = setup().await;
    let h: serde_json::Value = server.client().get("/healthz").await.unwrap();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["backend"], "sqlite");
}
