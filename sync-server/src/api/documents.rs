use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, header};
use axum::response::{IntoResponse, Response};
use shared::documents::{CHECK_HEADER, DocumentKind, NumberBlockRequest, NumberBlockResponse, SHA256_HEADER};
use shared::{ApiError, ErrorCode, InspectionId};

use crate::api::extract::{ApiJson, ApiPath};
use crate::domain::{Actor, documents};
use crate::error::{AppError, AppResult};
use crate::{AppState, blocking};

/// Take another block of document numbers (文书编号) for the caller's device, per kind asked
/// for; answers every block the device holds.
#[utoipa::path(post, path = "/api/v1/documents/number-blocks", tag = "documents", security(("bearer" = [])),
    request_body = NumberBlockRequest,
    responses((status = 200, body = NumberBlockResponse), (status = 403, body = ApiError), (status = 422, body = ApiError)))]
pub async fn post_number_blocks(
    State(st): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<NumberBlockRequest>,
) -> AppResult<Json<NumberBlockResponse>> {
    let now = st.now();
    blocking(move || documents::issue_blocks(st.store.as_ref(), &actor, &req, now)).await.map(Json)
}

/// One official document of a record version as PDF (the same bytes the device made).
#[utoipa::path(get, path = "/api/v1/inspections/{id}/versions/{version}/documents/{kind}", tag = "documents",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "inspection id"), ("version" = u32, Path),
           ("kind" = String, Path, description = "inspection_record | rectification_order | inspection_sheet")),
    responses((status = 200, content_type = "application/pdf", headers(
        ("x-qingliu-document-check" = String, description = "matches | differs | unsigned: this document against the SHA-256 the device signed"),
        ("x-qingliu-document-sha256" = String, description = "SHA-256 of the PDF"))),
        (status = 404, body = ApiError), (status = 422, body = ApiError, description = "a photo or signature has not arrived yet")))]
pub async fn get_document(
    State(st): State<AppState>,
    actor: Actor,
    ApiPath((id, version, kind)): ApiPath<(InspectionId, u32, String)>,
) -> AppResult<Response> {
    let kind = DocumentKind::parse(&kind)
        .ok_or_else(|| AppError::field(ErrorCode::InvalidPath, "kind", "没有这种文书"))?;
    let made = blocking(move || {
        documents::render_version(st.store.as_ref(), st.blobs.as_ref(), &actor, &id, version, kind)
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, content_disposition("inline", &made.name, "document.pdf")),
            (HeaderName::from_static(CHECK_HEADER), made.check.as_str().to_string()),
            (HeaderName::from_static(SHA256_HEADER), made.sha256),
        ],
        made.pdf,
    )
        .into_response())
}

/// The documents of the records a queue filter selects, as a ZIP of PDFs.
#[utoipa::path(get, path = "/api/v1/documents/archive.zip", tag = "documents", security(("bearer" = [])),
    params(crate::domain::queue::QueueQuery),
    responses((status = 200, content_type = "application/zip"), (status = 403, body = ApiError)))]
pub async fn get_archive(
    State(st): State<AppState>,
    actor: Actor,
    crate::api::extract::ApiQuery(q): crate::api::extract::ApiQuery<crate::domain::queue::QueueQuery>,
) -> AppResult<Response> {
    let zip = blocking(move || documents::archive(st.store.as_ref(), st.blobs.as_ref(), &actor, &q)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (header::CONTENT_DISPOSITION, content_disposition("attachment", "文书.zip", "documents.zip")),
        ],
        zip,
    )
        .into_response())
}

/// `inline` or `attachment` with the UTF-8 file name (RFC 6266 / 5987) and an ASCII fallback.
pub fn content_disposition(how: &str, name: &str, fallback: &str) -> String {
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{how}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}
