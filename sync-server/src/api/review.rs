use axum::Json;
use axum::extract::State;
use shared::ApiError;

use crate::api::extract::{ApiJson, ApiQuery};
use crate::domain::Actor;
use crate::domain::queue::{self, BulkResult, BulkReview, QueuePage, QueueQuery};
use crate::error::AppResult;
use crate::{AppState, blocking};

/// Submissions in the caller's region, newest first, with position and photo flags.
#[utoipa::path(get, path = "/api/v1/review/queue", tag = "review", security(("bearer" = [])), params(QueueQuery),
    responses((status = 200, body = QueuePage), (status = 403, body = ApiError)))]
pub async fn get_queue(
    State(st): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> AppResult<Json<QueuePage>> {
    blocking(move || queue::queue(st.store.as_ref(), &actor, &q)).await.map(Json)
}

/// One decision for many records; each answered on its own.
#[utoipa::path(post, path = "/api/v1/review/bulk", tag = "review", security(("bearer" = [])),
    request_body = BulkReview,
    responses((status = 200, body = Vec<BulkResult>), (status = 422, body = ApiError)))]
pub async fn post_bulk(
    State(st): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<BulkReview>,
) -> AppResult<Json<Vec<BulkResult>>> {
    let now = st.now();
    blocking(move || queue::bulk(st.store.as_ref(), &actor, &req, now)).await.map(Json)
}
