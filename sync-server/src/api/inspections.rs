use axum::Json;
use axum::extract::State;
use shared::sync::{InspectionRecord, ReviewRequest};
use shared::{ApiError, InspectionId};

use crate::api::extract::{ApiJson, ApiPath};
use crate::domain::records::{self, RecordDetail};
use crate::domain::{Actor, review};
use crate::error::AppResult;
use crate::{AppState, blocking};

/// One inspection record with all its versions and its history, within the caller's scope.
#[utoipa::path(get, path = "/api/v1/inspections/{id}", tag = "inspections", security(("bearer" = [])),
    params(("id" = String, Path, description = "inspection id")),
    responses((status = 200, body = RecordDetail), (status = 404, body = ApiError)))]
pub async fn get_inspection(
    State(st): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<InspectionId>,
) -> AppResult<Json<RecordDetail>> {
    blocking(move || records::record_detail(st.store.as_ref(), &actor, &id)).await.map(Json)
}

/// Approve, return (comment required) or reject (reason required) the current version.
#[utoipa::path(post, path = "/api/v1/inspections/{id}/review", tag = "inspections", security(("bearer" = [])),
    params(("id" = String, Path, description = "inspection id")),
    request_body = ReviewRequest,
    responses((status = 200, body = InspectionRecord), (status = 404, body = ApiError),
              (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn review_inspection(
    State(st): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<InspectionId>,
    ApiJson(req): ApiJson<ReviewRequest>,
) -> AppResult<Json<InspectionRecord>> {
    let now = st.now();
    blocking(move || review::review(st.store.as_ref(), &actor, &id, &req, now)).await.map(Json)
}
