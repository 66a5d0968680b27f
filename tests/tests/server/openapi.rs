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
        ("GET", "/api/v1/console-config"),
        ("GET", "/api/v1/users"),
        ("PATCH", "/api/v1/users/{id}"),
        ("GET", "/api/v1/exports/sites.geojson"),
        ("GET", "/api/v1/exports/supervision.csv"),
        ("GET", "/api/v1/exports/inspections.jsonl"),
        ("GET", "/readyz"),
        ("GET", "/api/v1/feed"),
        ("POST", "/api/v1/service-accounts"),
        ("GET", "/api/v1/service-accounts"),
        ("POST", "/api/v1/service-accounts/{id}/keys"),
        ("DELETE", "/api/v1/service-accounts/{id}/keys/{key_id}"),
    ] {
        assert!(ops.iter().any(|(m, p)| m == expected.0 && p == expected.1), "{expected:?} not documented");
    }
    // Parameters are where the server reads them: a path parameter is a `{name}` of the path,
    // everything else is the query, required only where the server requires it.
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let (name, place) = (p["name"].as_str().unwrap(), p["in"].as_str().unwrap());
                match place {
                    "path" => assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{method} {path}: {name} is not in the path"
                    ),
                    "query" => {}
                    other => panic!("{method} {path}: {name} in {other}"),
                }
            }
        }
    }
    let pull = &paths["/api/v1/sync/pull"]["get"]["parameters"];
    let required = |name: &str| {
        pull.as_array().unwrap().iter().find(|p| p["name"] == name).map(|p| p["required"] == true).unwrap()
    };
    assert!(required("scope") && !required("cursor") && !required("limit"));
    // Served only when configured, and documented only then.
    assert!(!paths.contains_key("/metrics"));
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
    // The limits the server checks are in the schemas, and the main operations have examples.
    assert_eq!(schemas["NewUser"]["properties"]["password"]["minLength"], 10);
    assert_eq!(schemas["Target"]["properties"]["year"]["maximum"], 2100);
    assert_eq!(schemas["RegionCode"]["pattern"], "^[0-9]{6}([0-9]{6})?$");
    assert_eq!(schemas["ReviewRequest"]["properties"]["comment"]["maxLength"], 2000);
    // Tagged unions as generators read them: named variants behind a discriminator.
    for (union, tag) in [("InspectionBody", "kind"), ("SiteDetails", "kind")] {
        assert_eq!(schemas[union]["discriminator"]["propertyName"], tag);
        let variants = schemas[union]["oneOf"].as_array().unwrap();
        assert!(variants.len() >= 4);
        for v in variants {
            let name = v["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
            assert!(schemas.contains_key(name), "{name} is not a component");
        }
    }
    for name in ["LoginRequest", "ReviewRequest", "NewServiceAccount", "FeedPage"] {
        let s = &schemas[name];
        assert!(s.get("example").is_some() || s.get("examples").is_some(), "{name} has no example");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_reports_backend() {
    let (server, _fx) = setup().await;
    let h: serde_json::Value = server.client().get("/healthz").await.unwrap();
    assert_eq!(h["status"], "ok");
    let expected = if qingliu_tests::database::on_postgres() { "postgres" } else { "sqlite" };
    assert_eq!(h["backend"], expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_is_served_with_a_strict_policy_and_paths_stay_inside_its_directory() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "<!doctype html><title>控制台</title>").unwrap();
    std::fs::write(site.path().join("app.js"), "export {}").unwrap();
    let secret = site.path().parent().unwrap().join(format!("secret-{}.txt", std::process::id()));
    std::fs::write(&secret, "do not serve").unwrap();
    let dir = site.path().to_path_buf();
    let server = qingliu_tests::TestServer::start_with(move |c| {
        c.console_dir = Some(dir);
        c.map_tile_url = Some("https://t0.tianditu.gov.cn/vec_w/wmts?z={z}&x={x}&y={y}".into());
    })
    .await;
    let c = server.client();
    let (status, headers, body) = c.get_bytes("/").await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(String::from_utf8(body).unwrap().contains("控制台"));
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'")
            && csp.contains("img-src 'self' blob: data: https://t0.tianditu.gov.cn"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-cache", "browsers revalidate the fixed-name bundle");
    assert_eq!(c.get_bytes("/app.js").await.0, reqwest::StatusCode::OK);
    // Escapes from the directory are not served, however spelled.
    let name = secret.file_name().unwrap().to_str().unwrap();
    for path in [format!("/../{name}"), format!("/%2e%2e/{name}"), format!("/..%2f{name}")] {
        let (status, _, body) = c.get_bytes(&path).await;
        assert!(!String::from_utf8_lossy(&body).contains("do not serve"), "{path} served the file");
        assert!(status.is_client_error(), "{path}: {status}");
    }
    // Unknown API paths still answer the JSON error, whatever the method.
    let r = reqwest::Client::new().post(format!("{}/api/v1/nope", server.base)).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
    let e: shared::ApiError = r.json().await.unwrap();
    assert_eq!(e.code, shared::ErrorCode::NotFound);
    // The console's settings need a login (a tile URL may carry a provider key).
    assert_eq!(
        c.get::<serde_json::Value>("/api/v1/console-config").await.unwrap_err().status,
        reqwest::StatusCode::UNAUTHORIZED
    );
    qingliu_tests::fixture::install(server.state.store.as_ref());
    let mut c = c;
    c.login("admin", qingliu_tests::fixture::PASSWORD).await.unwrap();
    let cfg: serde_json::Value = c.get("/api/v1/console-config").await.unwrap();
    assert_eq!(cfg["tile_gcj02"], false);
    assert!(cfg["tile_url"].as_str().unwrap().contains("{z}"));
    let _ = std::fs::remove_file(secret);
}

/// Every answer carries a request id (issue 15): a fresh one when the caller sent none, the
/// caller's when it is a plain token (a balancer's), a fresh one instead of one that could
/// forge log lines; refusals and unknown paths too.
#[tokio::test(flavor = "multi_thread")]
async fn every_answer_carries_a_request_id() {
    let (server, _fx) = setup().await;
    let http = reqwest::Client::new();
    let id_of = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_string();
    let fresh = |id: &str| id.len() == 36 && id.chars().filter(|c| *c == '-').count() == 4;
    let a = http.get(format!("{}/healthz", server.base)).send().await.unwrap();
    let b = http.get(format!("{}/healthz", server.base)).send().await.unwrap();
    let (ia, ib) = (id_of(&a), id_of(&b));
    assert!(fresh(&ia) && fresh(&ib) && ia != ib, "{ia} {ib}");
    let kept = http
        .get(format!("{}/api/v1/review/queue", server.base))
        .header("x-request-id", "lb-42.a_b")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(id_of(&kept), "lb-42.a_b");
    for bad in ["two words", &"x".repeat(65)] {
        let r = http
            .get(format!("{}/api/v1/nothing-here", server.base))
            .header("x-request-id", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert!(fresh(&id_of(&r)), "{bad:?} replaced: {}", id_of(&r));
    }
}
