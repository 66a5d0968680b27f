//! A table of malformed and out-of-scope requests: each gets a 4xx with a stable code and
//! changes nothing in the database.

use qingliu_tests::records::*;
use reqwest::Method;
use serde_json::json;

use crate::{fingerprint, inspector, login, setup};

struct Case {
    name: &'static str,
    who: &'static str,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
}

fn case(
    name: &'static str,
    who: &'static str,
    method: Method,
    path: impl Into<String>,
    content_type: Option<&'static str>,
    body: impl Into<Vec<u8>>,
) -> Case {
    Case { name, who, method, path: path.into(), content_type, body: body.into(), status: 0, code: "" }
}

impl Case {
    fn expect(mut self, status: u16, code: &'static str) -> Case {
        self.status = status;
        self.code = code;
        self
    }
}

const JSON: Option<&str> = Some("application/json");
const OCTETS: Option<&str> = Some("application/octet-stream");

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_get_4xx_codes_and_change_nothing() {
    let (server, fx) = setup().await;
    let (a, device) = inspector(&server, "inspector_a").await;
    let existing = water_body(fx.site("water1").id, vec![], None);
    a.push(&batch(device, vec![submit(1, &existing)])).await.unwrap();
    let r1 = login(&server, "reviewer_1").await;
    let county = login(&server, "county_1").await;
    let b = login(&server, "inspector_b").await;
    let anon = server.client();
    let mut garbage = server.client();
    garbage.token = Some("not-a-real-token".into());
    let hash = "ab".repeat(32);

    let valid = |seq: u64| {
        serde_json::to_value(batch(
            device,
            vec![submit(seq, &water_body(fx.site("water1").id, vec![], None))],
        ))
        .unwrap()
    };
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = valid(2);
        f(&mut v);
        serde_json::to_vec(&v).unwrap()
    };
    let push = "/api/v1/sync/push";
    let too_many: Vec<_> =
        (2..=502).map(|s| submit(s, &water_body(fx.site("water1").id, vec![], None))).collect();
    let big = vec![b' '; server.state.config.max_push_bytes + 10];
    let deep = format!("{}1{}", r#"{"x":"#.repeat(5000), "}".repeat(5000));
    let unregistered =
        serde_json::to_vec(&batch(shared::DeviceId::new(), vec![submit(2, &existing)])).unwrap();
    let review_path = format!("/api/v1/inspections/{}/review", existing.id);

    let cases = vec![
        case("push: broken JSON", "a", Method::POST, push, JSON, "{").expect(400, "malformed_json"),
        case("push: empty body", "a", Method::POST, push, JSON, "").expect(400, "malformed_json"),
        case(
            "push: not JSON content type",
            "a",
            Method::POST,
            push,
            Some("text/plain"),
            serde_json::to_vec(&valid(2)).unwrap(),
        )
        .expect(415, "unsupported_media_type"),
        case("push: nested 5000 deep", "a", Method::POST, push, JSON, deep).expect(400, "invalid_body"),
        case(
            "push: mutations not a list",
            "a",
            Method::POST,
            push,
            JSON,
            with(&|v| v["mutations"] = json!("x")),
        )
        .expect(400, "invalid_body"),
        case(
            "push: device_id missing",
            "a",
            Method::POST,
            push,
            JSON,
            with(&|v| {
                v.as_object_mut().unwrap().remove("device_id");
            }),
        )
        .expect(400, "invalid_body"),
        case(
            "push: device_id not a UUID",
            "a",
            Method::POST,
            push,
            JSON,
            with(&|v| v["device_id"] = json!("tablet-1")),
        )
        .expect(400, "invalid_body"),
        case(
            "push: unknown major protocol",
            "a",
            Method::POST,
            push,
            JSON,
            with(&|v| v["protocol"] = json!("2.0")),
        )
        .expect(400, "unsupported_protocol"),
        case(
            "push: protocol not a version",
            "a",
            Method::POST,
            push,
            JSON,
            with(&|v| v["protocol"] = json!("latest")),
        )
        .expect(400, "invalid_body"),
        case(
            "push: unknown operation",
            "a",
            Method::POST,
            push,
            JSON,
            with(&|v| v["mutations"][0]["op"]["type"] = json!("delete_everything")),
        )
        .expect(400, "invalid_body"),
        case(
            "push: negative seq",
            "a",
            Method::POST,
            push,
            JSON,
            with(&|v| v["mutations"][0]["seq"] = json!(-1)),
        )
        .expect(400, "invalid_body"),
        case(
            "push: site id not a UUID",
            "a",
            Method::POST,
            push,
            JSON,
            with(&|v| v["mutations"][0]["op"]["inspection"]["site_id"] = json!("../site")),
        )
        .expect(400, "invalid_body"),
        case(
            "push: unknown inspection kind",
            "a",
            Method::POST,
            push,
            JSON,
            with(&|v| v["mutations"][0]["op"]["inspection"]["body"]["kind"] = json!("ufo")),
        )
        .expect(400, "invalid_body"),
        case(
            "push: device time not a time",
            "a",
            Method::POST,
            push,
            JSON,
            with(&|v| v["mutations"][0]["op"]["inspection"]["device_time"] = json!("yesterday")),
        )
        .expect(400, "invalid_body"),
        case(
            "push: latitude as text",
            "a",
            Method::POST,
            push,
            JSON,
            with(&|v| v["mutations"][0]["op"]["inspection"]["position"]["point"]["lat"] = json!("thirty")),
        )
        .expect(400, "invalid_body"),
        case(
            "push: sequence zero",
            "a",
            Method::POST,
            push,
            JSON,
            with(&|v| v["mutations"][0]["seq"] = json!(0)),
        )
        .expect(422, "out_of_range"),
        case(
            "device: id not UUIDv7",
            "a",
            Method::POST,
            "/api/v1/devices",
            JSON,
            serde_json::to_vec(
                &json!({"device_id": "6f1c3b8e-2a4d-4c6b-9e1f-0a2b3c4d5e6f", "name": "旧平板"}),
            )
            .unwrap(),
        )
        .expect(422, "invalid_format"),
        case("push: unregistered device", "a", Method::POST, push, JSON, unregistered)
            .expect(403, "device_not_registered"),
        case(
            "push: another user's device",
            "b",
            Method::POST,
            push,
            JSON,
            serde_json::to_vec(&valid(2)).unwrap(),
        )
        .expect(403, "device_owned_by_other_user"),
        case(
            "push: a county viewer cannot push",
            "county",
            Method::POST,
            push,
            JSON,
            serde_json::to_vec(&valid(2)).unwrap(),
        )
        .expect(403, "forbidden"),
        case(
            "push: too many mutations",
            "a",
            Method::POST,
            push,
            JSON,
            serde_json::to_vec(&batch(device, too_many)).unwrap(),
        )
        .expect(422, "too_many"),
        case("push: body over the limit", "a", Method::POST, push, JSON, big).expect(413, "body_too_large"),
        case("push: no token", "anon", Method::POST, push, JSON, serde_json::to_vec(&valid(2)).unwrap())
            .expect(401, "unauthenticated"),
        case(
            "push: unknown token",
            "garbage",
            Method::POST,
            push,
            JSON,
            serde_json::to_vec(&valid(2)).unwrap(),
        )
        .expect(401, "unauthenticated"),
        case("pull: scope missing", "a", Method::GET, "/api/v1/sync/pull", None, "")
            .expect(400, "invalid_query"),
        case("pull: unknown scope", "a", Method::GET, "/api/v1/sync/pull?scope=everything", None, "")
            .expect(400, "invalid_query"),
        case("pull: limit zero", "a", Method::GET, "/api/v1/sync/pull?scope=inspector&limit=0", None, "")
            .expect(422, "out_of_range"),
        case(
            "pull: limit huge",
            "a",
            Method::GET,
            "/api/v1/sync/pull?scope=inspector&limit=100000",
            None,
            "",
        )
        .expect(422, "out_of_range"),
        case(
            "pull: limit not a number",
            "a",
            Method::GET,
            "/api/v1/sync/pull?scope=inspector&limit=ten",
            None,
            "",
        )
        .expect(400, "invalid_query"),
        case(
            "pull: garbage cursor",
            "a",
            Method::GET,
            "/api/v1/sync/pull?scope=inspector&cursor=abc",
            None,
            "",
        )
        .expect(400, "cursor_invalid"),
        case(
            "pull: unknown protocol",
            "a",
            Method::GET,
            "/api/v1/sync/pull?scope=inspector&protocol=9.0",
            None,
            "",
        )
        .expect(400, "unsupported_protocol"),
        case(
            "pull: unknown parameter",
            "a",
            Method::GET,
            "/api/v1/sync/pull?scope=inspector&drop=1",
            None,
            "",
        )
        .expect(400, "invalid_query"),
        case(
            "login: password missing",
            "anon",
            Method::POST,
            "/api/v1/auth/login",
            JSON,
            r#"{"username":"inspector_a"}"#,
        )
        .expect(400, "invalid_body"),
        case(
            "login: absurd username",
            "anon",
            Method::POST,
            "/api/v1/auth/login",
            JSON,
            serde_json::to_vec(&json!({"username": "x".repeat(10_000), "password": "y"})).unwrap(),
        )
        .expect(401, "invalid_credentials"),
        case(
            "device: empty name",
            "a",
            Method::POST,
            "/api/v1/devices",
            JSON,
            serde_json::to_vec(&json!({"device_id": shared::DeviceId::new(), "name": "  "})).unwrap(),
        )
        .expect(422, "invalid_value"),
        case(
            "device: name too long",
            "a",
            Method::POST,
            "/api/v1/devices",
            JSON,
            serde_json::to_vec(&json!({"device_id": shared::DeviceId::new(), "name": "平".repeat(101)}))
                .unwrap(),
        )
        .expect(422, "invalid_value"),
        case(
            "blob: upper-case hash",
            "a",
            Method::POST,
            format!("/api/v1/blobs/{}", "AB".repeat(32)),
            JSON,
            r#"{"size":10}"#,
        )
        .expect(400, "invalid_path"),
        case(
            "blob: path traversal",
            "a",
            Method::POST,
            "/api/v1/blobs/..%2F..%2Fetc%2Fpasswd",
            JSON,
            r#"{"size":10}"#,
        )
        .expect(400, "invalid_path"),
        case("blob: zero size", "a", Method::POST, format!("/api/v1/blobs/{hash}"), JSON, r#"{"size":0}"#)
            .expect(422, "out_of_range"),
        case(
            "blob: size as text",
            "a",
            Method::POST,
            format!("/api/v1/blobs/{hash}"),
            JSON,
            r#"{"size":"big"}"#,
        )
        .expect(400, "invalid_body"),
        case(
            "blob: chunk with no upload",
            "a",
            Method::PATCH,
            format!("/api/v1/blobs/{hash}?offset=0"),
            OCTETS,
            "abc",
        )
        .expect(404, "not_found"),
        case(
            "blob: chunk without offset",
            "a",
            Method::PATCH,
            format!("/api/v1/blobs/{hash}"),
            OCTETS,
            "abc",
        )
        .expect(400, "invalid_query"),
        case(
            "blob: chunk over the limit",
            "a",
            Method::PATCH,
            format!("/api/v1/blobs/{hash}?offset=0"),
            OCTETS,
            vec![0u8; server.state.config.max_chunk_bytes + 1],
        )
        .expect(413, "body_too_large"),
        case("blob: download unknown", "a", Method::GET, format!("/api/v1/blobs/{hash}"), None, "")
            .expect(404, "not_found"),
        case(
            "review: inspector reviews own record",
            "a",
            Method::POST,
            review_path.clone(),
            JSON,
            r#"{"version":1,"decision":"approve"}"#,
        )
        .expect(403, "forbidden"),
        case(
            "review: unknown decision",
            "r1",
            Method::POST,
            review_path.clone(),
            JSON,
            r#"{"version":1,"decision":"maybe"}"#,
        )
        .expect(400, "invalid_body"),
        case(
            "review: comment too long",
            "r1",
            Method::POST,
            review_path.clone(),
            JSON,
            serde_json::to_vec(&json!({"version":1,"decision":"return","comment":"长".repeat(2001)}))
                .unwrap(),
        )
        .expect(422, "too_long"),
        case(
            "review: stale version",
            "r1",
            Method::POST,
            review_path.clone(),
            JSON,
            r#"{"version":7,"decision":"approve"}"#,
        )
        .expect(409, "stale_version"),
        case(
            "review: id not a UUID",
            "r1",
            Method::POST,
            "/api/v1/inspections/42/review",
            JSON,
            r#"{"version":1,"decision":"approve"}"#,
        )
        .expect(400, "invalid_path"),
        case(
            "review: unknown record",
            "r1",
            Method::POST,
            format!("/api/v1/inspections/{}/review", uuid::Uuid::now_v7()),
            JSON,
            r#"{"version":1,"decision":"approve"}"#,
        )
        .expect(404, "not_found"),
        case(
            "inspection: other inspector's record",
            "b",
            Method::GET,
            format!("/api/v1/inspections/{}", existing.id),
            None,
            "",
        )
        .expect(404, "not_found"),
        case("progress: invalid region code", "r1", Method::GET, "/api/v1/progress/42xx", None, "")
            .expect(422, "invalid_format"),
        case("progress: inspector has no rollups", "a", Method::GET, "/api/v1/progress/420000", None, "")
            .expect(404, "not_found"),
        case("unknown route", "a", Method::GET, "/api/v1/nothing-here", None, "").expect(404, "not_found"),
        case("wrong method", "a", Method::DELETE, push, None, "").expect(405, "invalid_path"),
    ];
    assert!(cases.len() >= 30);

    let before = fingerprint(&server);
    let pending_before = server.state.blobs.pending_uploads().unwrap();
    for c in &cases {
        let client = match c.who {
            "a" => &a,
            "b" => &b,
            "r1" => &r1,
            "county" => &county,
            "garbage" => &garbage,
            _ => &anon,
        };
        let (status, body) = client.raw(c.method.clone(), &c.path, c.content_type, c.body.clone()).await;
        assert_eq!(status.as_u16(), c.status, "{}: body {body}", c.name);
        assert_eq!(body["code"], c.code, "{}: body {body}", c.name);
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{}: message", c.name);
    }
    assert_eq!(fingerprint(&server), before, "a rejected request changed the database");
    assert_eq!(server.state.blobs.pending_uploads().unwrap(), pending_before);
}
