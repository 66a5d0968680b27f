//! The typed client for the Tauri commands: one function per command, nothing else in the UI
//! calls `invoke`. Errors arrive as the shared `{code, message, fields}`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::app::{AppStatus, DeviceSettings, LocalState, RecordDetail, RecordSummary, SaveResult};
use shared::auth::UserInfo;
use shared::inspection::{Inspection, PhotoRef, Position};
use shared::offline_review::{DecisionRequest, LocalDecision, QueueFilter, ReviewItem, ReviewRecordView};
use shared::position::{CaptureMode, CaptureStart, CaptureStatus, Fix};
use shared::site::{Site, SiteKind, SiteStatus};
use shared::{ApiError, ErrorCode, InspectionId, SiteId};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"], js_name = invoke, catch)]
    async fn tauri_invoke(cmd: &str, args: JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"], js_name = invoke, catch)]
    async fn tauri_invoke_with(cmd: &str, args: JsValue, options: JsValue) -> Result<JsValue, JsValue>;
}

fn to_js<A: Serialize>(a: &A) -> Result<JsValue, ApiError> {
    a.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
}

fn from_js<T: DeserializeOwned>(v: JsValue) -> Result<T, ApiError> {
    serde_wasm_bindgen::from_value(v).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
}

fn error_from(e: JsValue) -> ApiError {
    serde_wasm_bindgen::from_value::<ApiError>(e.clone()).unwrap_or_else(|_| {
        ApiError::new(ErrorCode::Internal, e.as_string().unwrap_or_else(|| "应用内部错误".into()))
    })
}

async fn call<A: Serialize, T: DeserializeOwned>(cmd: &str, args: &A) -> Result<T, ApiError> {
    let v = tauri_invoke(cmd, to_js(args)?).await.map_err(error_from)?;
    from_js(v)
}

#[derive(Serialize)]
struct NoArgs {}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoginArgs<'a> {
    server_url: &'a str,
    username: &'a str,
    password: &'a str,
}

#[derive(Serialize)]
struct IdArg<T: Serialize> {
    id: T,
}

pub async fn status() -> Result<AppStatus, ApiError> {
    call("status", &NoArgs {}).await
}

pub async fn login(server_url: &str, username: &str, password: &str) -> Result<UserInfo, ApiError> {
    call("login", &LoginArgs { server_url, username, password }).await
}

pub async fn logout() -> Result<(), ApiError> {
    call("logout", &NoArgs {}).await
}

pub async fn sync_now() -> Result<AppStatus, ApiError> {
    call("sync_now", &NoArgs {}).await
}

#[derive(Serialize)]
struct SearchArgs<'a> {
    query: &'a str,
    kind: Option<SiteKind>,
    status: Option<SiteStatus>,
}

pub async fn search_sites(
    query: &str,
    kind: Option<SiteKind>,
    status: Option<SiteStatus>,
) -> Result<Vec<Site>, ApiError> {
    call("search_sites", &SearchArgs { query, kind, status }).await
}

pub async fn site(id: SiteId) -> Result<(Site, Vec<RecordSummary>), ApiError> {
    call("site", &IdArg { id }).await
}

#[derive(Serialize)]
struct StateArg {
    state: Option<LocalState>,
}

pub async fn records(state: Option<LocalState>) -> Result<Vec<RecordSummary>, ApiError> {
    call("records", &StateArg { state }).await
}

pub async fn record(id: InspectionId) -> Result<RecordDetail, ApiError> {
    call("record", &IdArg { id }).await
}

#[derive(Serialize)]
struct InspectionArg<'a> {
    inspection: &'a Inspection,
}

pub async fn save_draft(inspection: &Inspection) -> Result<SaveResult, ApiError> {
    call("save_draft", &InspectionArg { inspection }).await
}

pub async fn prepare_documents(id: InspectionId) -> Result<Inspection, ApiError> {
    call("prepare_documents", &IdArg { id }).await
}

#[derive(Serialize)]
struct SignArgs<'a> {
    id: InspectionId,
    role: shared::inspection::SignerRole,
    signer: &'a str,
    png: &'a str,
}

/// `png_base64`: the signature pad's image.
pub async fn sign_record(
    id: InspectionId,
    role: shared::inspection::SignerRole,
    signer: &str,
    png_base64: &str,
) -> Result<Inspection, ApiError> {
    call("sign_record", &SignArgs { id, role, signer, png: png_base64 }).await
}

#[derive(Serialize)]
struct DocumentArgs {
    id: InspectionId,
    kind: shared::documents::DocumentKind,
}

pub async fn document(
    id: InspectionId,
    kind: shared::documents::DocumentKind,
) -> Result<shared::app::DocumentFile, ApiError> {
    call("document", &DocumentArgs { id, kind }).await
}

/// Open the kept document in the system's PDF viewer (print, share).
pub async fn open_document(id: InspectionId, kind: shared::documents::DocumentKind) -> Result<(), ApiError> {
    call("open_document", &DocumentArgs { id, kind }).await
}

pub async fn submit(id: InspectionId) -> Result<RecordSummary, ApiError> {
    call("submit", &IdArg { id }).await
}

pub async fn start_correction(id: InspectionId) -> Result<Inspection, ApiError> {
    call("start_correction", &IdArg { id }).await
}

pub async fn accept_server_version(id: InspectionId) -> Result<RecordSummary, ApiError> {
    call("accept_server_version", &IdArg { id }).await
}

pub async fn discard_draft(id: InspectionId) -> Result<(), ApiError> {
    call("discard_draft", &IdArg { id }).await
}

/// Send a picked image as the raw request body; the site and position travel in headers.
pub async fn add_photo(
    bytes: &[u8],
    site: SiteId,
    position: Option<&Position>,
) -> Result<PhotoRef, ApiError> {
    let body = js_sys::Uint8Array::from(bytes);
    let headers = js_sys::Object::new();
    let set = |k: &str, v: &str| js_sys::Reflect::set(&headers, &JsValue::from_str(k), &JsValue::from_str(v));
    let _ = set("x-site-id", &site.to_string());
    if let Some(p) = position {
        let _ = set("x-position", &serde_json::to_string(p).unwrap_or_default());
    }
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &JsValue::from_str("headers"), &headers);
    let v = tauri_invoke_with("add_photo", body.into(), options.into()).await.map_err(error_from)?;
    from_js(v)
}

#[derive(Serialize)]
struct ShaArg<'a> {
    sha256: &'a str,
}

pub async fn thumbnail(sha256: &str) -> Result<String, ApiError> {
    call("thumbnail", &ShaArg { sha256 }).await
}

pub async fn settings() -> Result<DeviceSettings, ApiError> {
    call("settings", &NoArgs {}).await
}

#[derive(Serialize)]
struct SettingsArg<'a> {
    settings: &'a DeviceSettings,
}

pub async fn set_settings(settings: &DeviceSettings) -> Result<DeviceSettings, ApiError> {
    call("set_settings", &SettingsArg { settings }).await
}

#[derive(Serialize)]
struct ModeArg {
    mode: Option<CaptureMode>,
}

pub async fn position_start(mode: Option<CaptureMode>) -> Result<CaptureStart, ApiError> {
    call("position_start", &ModeArg { mode }).await
}

#[derive(Serialize)]
struct FixArg<'a> {
    fix: &'a Fix,
}

pub async fn position_feed(fix: &Fix) -> Result<CaptureStatus, ApiError> {
    call("position_feed", &FixArg { fix }).await
}

#[derive(Serialize)]
struct MessageArg<'a> {
    message: &'a str,
}

pub async fn position_error(message: &str) -> Result<CaptureStatus, ApiError> {
    call("position_error", &MessageArg { message }).await
}

pub async fn position_status() -> Result<Option<CaptureStatus>, ApiError> {
    call("position_status", &NoArgs {}).await
}

pub async fn position_stop() -> Result<Option<CaptureStatus>, ApiError> {
    call("position_stop", &NoArgs {}).await
}

#[derive(Serialize)]
struct VisibleArg {
    visible: bool,
}

pub async fn set_visible(visible: bool) -> Result<(), ApiError> {
    call("set_visible", &VisibleArg { visible }).await
}

// ---- review mode ---------------------------------------------------------------------------

#[derive(Serialize)]
struct FilterArg<'a> {
    filter: &'a QueueFilter,
}

#[derive(Serialize)]
struct DecisionsArg<'a> {
    decisions: &'a [DecisionRequest],
}

#[derive(Serialize)]
struct SeqArg {
    seq: u64,
}

/// The whole photo as a data URL (thumbnails: [`thumbnail`]).
pub async fn photo(sha256: &str) -> Result<String, ApiError> {
    call("photo", &ShaArg { sha256 }).await
}

pub async fn review_items(filter: &QueueFilter) -> Result<Vec<ReviewItem>, ApiError> {
    call("review_items", &FilterArg { filter }).await
}

pub async fn review_record(id: InspectionId) -> Result<ReviewRecordView, ApiError> {
    call("review_record", &IdArg { id }).await
}

pub async fn decide(decisions: &[DecisionRequest]) -> Result<Vec<LocalDecision>, ApiError> {
    call("decide", &DecisionsArg { decisions }).await
}

pub async fn drop_decision(seq: u64) -> Result<LocalDecision, ApiError> {
    call("drop_decision", &SeqArg { seq }).await
}
