use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use shared::ApiError;
use shared::sync::{BlobStatus, BlobUploadStart};

use crate::api::extract::{ApiBytes, ApiJson, ApiPath, ApiQuery};
use crate::blobs::{BlobHash, BlobReader};
use crate::domain::{Actor, blobs as svc};
use crate::error::AppResult;
use crate::{AppState, blocking};

/// Start or resume an upload: answers the offset the next chunk must start at.
#[utoipa::path(post, path = "/api/v1/blobs/{sha256}", tag = "blobs", security(("bearer" = [])),
    params(("sha256" = String, Path, description = "lower-case hex SHA-256 of the content")),
    request_body = BlobUploadStart,
    responses((status = 200, body = BlobStatus), (status = 413, body = ApiError)))]
pub async fn start_upload(
    State(st): State<AppState>,
    actor: Actor,
    ApiPath(hash): ApiPath<String>,
    ApiJson(req): ApiJson<BlobUploadStart>,
) -> AppResult<Json<BlobStatus>> {
    let hash = BlobHash::parse(&hash)?;
    let now = st.now();
    blocking(move || svc::start(st.store.as_ref(), st.blobs.as_ref(), &actor, &hash, req.size, now))
        .await
        .map(Json)
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChunkQuery {
    /// Where this chunk starts; must equal the server's current offset.
    pub offset: u64,
}

/// Append a chunk at an offset. A wrong offset is 409 with the current one; the last chunk
/// verifies the hash (a mismatch discards the upload).
#[utoipa::path(patch, path = "/api/v1/blobs/{sha256}", tag = "blobs", security(("bearer" = [])),
    params(("sha256" = String, Path, description = "lower-case hex SHA-256"), ChunkQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = BlobStatus), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn append_chunk(
    State(st): State<AppState>,
    actor: Actor,
    ApiPath(hash): ApiPath<String>,
    ApiQuery(q): ApiQuery<ChunkQuery>,
    ApiBytes(body): ApiBytes,
) -> AppResult<Json<BlobStatus>> {
    let hash = BlobHash::parse(&hash)?;
    let now = st.now();
    blocking(move || svc::append(st.store.as_ref(), st.blobs.as_ref(), &actor, &hash, q.offset, &body, now))
        .await
        .map(Json)
}

/// Download a blob named by a record in the caller's scope.
#[utoipa::path(get, path = "/api/v1/blobs/{sha256}", tag = "blobs", security(("bearer" = [])),
    params(("sha256" = String, Path, description = "lower-case hex SHA-256")),
    responses((status = 200, content_type = "application/octet-stream"), (status = 404, body = ApiError)))]
pub async fn download(
    State(st): State<AppState>,
    actor: Actor,
    ApiPath(hash): ApiPath<String>,
) -> AppResult<Response> {
    let hash = BlobHash::parse(&hash)?;
    let (file, len) =
        blocking(move || svc::open_for_read(st.store.as_ref(), st.blobs.as_ref(), &actor, &hash)).await?;
    let body = match file {
        BlobReader::File(f) => {
            Body::from_stream(tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(f)))
        }
        BlobReader::Bytes(c) => Body::from(c.into_inner()),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
            (header::CACHE_CONTROL, "private, max-age=31536000, immutable".to_string()),
        ],
        body,
    )
        .into_response())
}
