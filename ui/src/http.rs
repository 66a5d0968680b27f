//! The console's typed client for the server's HTTP API: one function per endpoint, the same
//! shape as `api` (the field app's Tauri commands), another transport. The bearer token lives in
//! `sessionStorage` (gone with the tab); a 401 clears it and the shell returns to login.

use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::auth::{LoginRequest, LoginResponse, UserInfo};
use shared::console::{
    AuditHead, BulkResult, BulkReview, ConsoleConfig, Dispatch, FlagStats, FlagStatsBy, NewUser, QueuePage,
    RecordDetail, SupervisionRow, Tracking, UserUpdate, UserView,
};
use shared::region::{RegionCode, RegionLevel};
use shared::sync::{InspectionRecord, ReviewRequest};
use shared::target::Target;
use shared::{ApiError, ErrorCode, InspectionId, UserId};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

const TOKEN_KEY: &str = "qingliu.console.token";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

pub fn token() -> Option<String> {
    storage()?.get_item(TOKEN_KEY).ok()?
}

fn set_token(t: Option<&str>) {
    if let Some(s) = storage() {
        let _ = match t {
            Some(t) => s.set_item(TOKEN_KEY, t),
            None => s.remove_item(TOKEN_KEY),
        };
    }
}

fn js_err(e: JsValue) -> ApiError {
    let msg = e.as_string().or_else(|| e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())));
    ApiError::new(ErrorCode::Unavailable, format!("无法连接服务器：{}", msg.unwrap_or_default()))
}

/// Percent-encode a query value (region codes and enums are plain, dates carry `:` and `+`).
pub fn enc(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

async fn send(method: &str, path: &str, body: Option<String>) -> Result<Response, ApiError> {
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(b) = &body {
        init.set_body(&JsValue::from_str(b));
    }
    let req = Request::new_with_str_and_init(path, &init).map_err(js_err)?;
    let h = req.headers();
    if body.is_some() {
        let _ = h.set("content-type", "application/json");
    }
    if let Some(t) = token() {
        let _ = h.set("authorization", &format!("Bearer {t}"));
    }
    let window = web_sys::window().ok_or_else(|| ApiError::new(ErrorCode::Internal, "no window"))?;
    let resp: Response =
        JsFuture::from(window.fetch_with_request(&req)).await.map_err(js_err)?.unchecked_into();
    if resp.ok() {
        return Ok(resp);
    }
    let status = resp.status();
    let text = match resp.text() {
        Ok(p) => JsFuture::from(p).await.ok().and_then(|v| v.as_string()).unwrap_or_default(),
        Err(_) => String::new(),
    };
    let err = serde_json::from_str::<ApiError>(&text)
        .unwrap_or_else(|_| ApiError::new(ErrorCode::Internal, format!("服务器错误 {status}")));
    if status == 401 {
        set_token(None);
    }
    Err(err)
}

async fn text(resp: Response) -> Result<String, ApiError> {
    let p = resp.text().map_err(js_err)?;
    Ok(JsFuture::from(p).await.map_err(js_err)?.as_string().unwrap_or_default())
}

async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    let body = text(send("GET", path, None).await?).await?;
    serde_json::from_str(&body).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
}

async fn with_body<B: Serialize, T: DeserializeOwned>(
    method: &str,
    path: &str,
    b: &B,
) -> Result<T, ApiError> {
    let json = serde_json::to_string(b).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    let body = text(send(method, path, Some(json)).await?).await?;
    serde_json::from_str(&body).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
}

pub async fn console_config() -> Result<ConsoleConfig, ApiError> {
    get("/api/v1/console-config").await
}

pub async fn login(username: &str, password: &str) -> Result<UserInfo, ApiError> {
    let req = LoginRequest { username: username.into(), password: password.into() };
    let r: LoginResponse = with_body("POST", "/api/v1/auth/login", &req).await?;
    set_token(Some(&r.token));
    Ok(r.user)
}

pub async fn logout() {
    let _ = send("POST", "/api/v1/auth/logout", None).await;
    set_token(None);
}

pub async fn me() -> Result<UserInfo, ApiError> {
    get("/api/v1/me").await
}

fn period(year: Option<i32>, month: Option<u8>) -> String {
    let mut q = Vec::new();
    if let Some(y) = year {
        q.push(format!("year={y}"));
    }
    if let Some(m) = month {
        q.push(format!("month={m}"));
    }
    q.join("&")
}

pub async fn tracking(
    region: &RegionCode,
    year: Option<i32>,
    month: Option<u8>,
    rows: Option<RegionLevel>,
) -> Result<Tracking, ApiError> {
    let level = rows.map(|l| format!("&level={}", l.as_str())).unwrap_or_default();
    get(&format!("/api/v1/tracking/{region}?{}{level}", period(year, month))).await
}

pub async fn dispatch(region: &RegionCode, year: Option<i32>) -> Result<Dispatch, ApiError> {
    get(&format!("/api/v1/dispatch/{region}?{}", period(year, None))).await
}

pub fn supervision_query(level: RegionLevel, year: Option<i32>, month: Option<u8>) -> String {
    format!("level={}&{}", level.as_str(), period(year, month))
}

pub async fn supervision(
    level: RegionLevel,
    year: Option<i32>,
    month: Option<u8>,
) -> Result<Vec<SupervisionRow>, ApiError> {
    get(&format!("/api/v1/supervision?{}", supervision_query(level, year, month))).await
}

/// The query string of the flag statistics.
pub fn flag_stats_query(by: FlagStatsBy, year: i32) -> String {
    let by = match by {
        FlagStatsBy::Township => "township",
        FlagStatsBy::Inspector => "inspector",
    };
    format!("by={by}&year={year}")
}

/// 疑点统计 in the caller's region.
pub async fn flag_stats(by: FlagStatsBy, year: i32) -> Result<FlagStats, ApiError> {
    get(&format!("/api/v1/flags/stats?{}", flag_stats_query(by, year))).await
}

/// The review queue; `query` is built by the queue screen (`status=…&kind=…`).
pub async fn queue(query: &str) -> Result<QueuePage, ApiError> {
    get(&format!("/api/v1/review/queue?{query}")).await
}

pub async fn record(id: InspectionId) -> Result<RecordDetail, ApiError> {
    get(&format!("/api/v1/inspections/{id}")).await
}

pub async fn review(id: InspectionId, req: &ReviewRequest) -> Result<InspectionRecord, ApiError> {
    with_body("POST", &format!("/api/v1/inspections/{id}/review"), req).await
}

pub async fn bulk_review(req: &BulkReview) -> Result<Vec<BulkResult>, ApiError> {
    with_body("POST", "/api/v1/review/bulk", req).await
}

pub async fn targets(region: &RegionCode, year: i32) -> Result<Vec<Target>, ApiError> {
    get(&format!("/api/v1/targets/{region}?year={year}")).await
}

pub async fn put_target(t: &Target) -> Result<Target, ApiError> {
    with_body("PUT", "/api/v1/targets", t).await
}

pub async fn audit_head() -> Result<AuditHead, ApiError> {
    get("/api/v1/audit/head").await
}

pub async fn users() -> Result<Vec<UserView>, ApiError> {
    get("/api/v1/users").await
}

pub async fn create_user(u: &NewUser) -> Result<UserView, ApiError> {
    with_body("POST", "/api/v1/users", u).await
}

pub async fn update_user(id: UserId, u: &UserUpdate) -> Result<UserView, ApiError> {
    with_body("PATCH", &format!("/api/v1/users/{id}"), u).await
}

pub async fn service_accounts() -> Result<Vec<shared::integration::ServiceAccountView>, ApiError> {
    get("/api/v1/service-accounts").await
}

pub async fn create_service_account(
    a: &shared::integration::NewServiceAccount,
) -> Result<shared::integration::CreatedServiceAccount, ApiError> {
    with_body("POST", "/api/v1/service-accounts", a).await
}

pub async fn create_api_key(id: UserId) -> Result<shared::integration::NewApiKey, ApiError> {
    with_body(
        "POST",
        &format!("/api/v1/service-accounts/{id}/keys"),
        &shared::integration::NewApiKeyRequest::default(),
    )
    .await
}

pub async fn revoke_api_key(id: UserId, key_id: &str) -> Result<(), ApiError> {
    let resp = send("DELETE", &format!("/api/v1/service-accounts/{id}/keys/{}", enc(key_id)), None).await?;
    text(resp).await.map(drop)
}

pub async fn webhooks() -> Result<Vec<shared::integration::WebhookView>, ApiError> {
    get("/api/v1/webhooks").await
}

pub async fn delete_webhook(id: &str) -> Result<(), ApiError> {
    let resp = send("DELETE", &format!("/api/v1/webhooks/{}", enc(id)), None).await?;
    text(resp).await.map(drop)
}

/// The console map's points: sites in scope (or in `region`) and records waiting for review.
pub async fn map_points(region: Option<&RegionCode>) -> Result<shared::console::MapPoints, ApiError> {
    match region {
        Some(r) => get(&format!("/api/v1/map/points?region={r}")).await,
        None => get("/api/v1/map/points").await,
    }
}

async fn blob_url(resp: Response) -> Result<String, ApiError> {
    let blob: web_sys::Blob =
        JsFuture::from(resp.blob().map_err(js_err)?).await.map_err(js_err)?.unchecked_into();
    web_sys::Url::create_object_url_with_blob(&blob).map_err(js_err)
}

/// A photo as an object URL (the download needs the bearer header, so no plain `<img src>`).
pub async fn photo_url(sha256: &str) -> Result<String, ApiError> {
    blob_url(send("GET", &format!("/api/v1/blobs/{sha256}"), None).await?).await
}

/// One official document of a record version: an object URL of the PDF and its SHA-256 (the
/// reviewer can compare it with the tablet's).
pub async fn document_url(
    id: shared::InspectionId,
    version: u32,
    kind: shared::documents::DocumentKind,
) -> Result<(String, String), ApiError> {
    use sha2::Digest;
    let path = format!("/api/v1/inspections/{id}/versions/{version}/documents/{}", kind.as_str());
    let resp = send("GET", &path, None).await?;
    let buf = JsFuture::from(resp.array_buffer().map_err(js_err)?).await.map_err(js_err)?;
    let bytes = js_sys::Uint8Array::new(&buf);
    let sha: String = sha2::Sha256::digest(bytes.to_vec()).iter().map(|b| format!("{b:02x}")).collect();
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type("application/pdf");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&js_sys::Array::of1(&bytes), &opts)
        .map_err(js_err)?;
    Ok((web_sys::Url::create_object_url_with_blob(&blob).map_err(js_err)?, sha))
}

/// Download an export (`path` under `/api/v1/exports/`) as a file named `filename`.
pub async fn download(path: &str, filename: &str) -> Result<(), ApiError> {
    let url = blob_url(send("GET", &format!("/api/v1/exports/{path}"), None).await?).await?;
    save_url(url, filename)
}

/// The documents of the records the queue filter `query` selects, as one ZIP download.
pub async fn download_documents(query: &str) -> Result<(), ApiError> {
    let url = blob_url(send("GET", &format!("/api/v1/documents/archive.zip?{query}"), None).await?).await?;
    save_url(url, "文书.zip")
}

/// Save an object URL as a file named `filename` (the browser's download).
pub fn save_url(url: String, filename: &str) -> Result<(), ApiError> {
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "no document"))?;
    let a: web_sys::HtmlAnchorElement = doc.create_element("a").map_err(js_err)?.unchecked_into();
    a.set_href(&url);
    a.set_download(filename);
    a.click();
    // Some browsers start the download after `click` returns: let the URL live a minute.
    let release = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    if let Some(w) = web_sys::window() {
        let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(release.unchecked_ref(), 60_000);
    }
    Ok(())
}
