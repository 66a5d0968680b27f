use axum::Json;
use axum::extract::State;
use shared::ApiError;
use shared::target::Target;

use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::tracking::{PeriodQuery, period, region};
use crate::domain::Actor;
use crate::domain::admin::{self, NewUser, UserUpdate, UserView};
use crate::domain::audit::{self, AuditHead};
use crate::error::AppResult;
use crate::{AppState, blocking};

/// Set a target (value and monthly plan) for a year and region (province admin).
#[utoipa::path(put, path = "/api/v1/targets", tag = "admin", security(("bearer" = [])), request_body = Target,
    responses((status = 200, body = Target), (status = 403, body = ApiError),
        (status = 404, description = "The region does not exist or lies outside the caller's", body = ApiError),
        (status = 422, body = ApiError)))]
pub async fn put_target(
    State(st): State<AppState>,
    actor: Actor,
    ApiJson(t): ApiJson<Target>,
) -> AppResult<Json<Target>> {
    let now = st.now();
    blocking(move || admin::set_target(st.store.as_ref(), &actor, &t, now)).await.map(Json)
}

/// The targets of a region for a year.
#[utoipa::path(get, path = "/api/v1/targets/{region}", tag = "admin", security(("bearer" = [])),
    params(("region" = String, Path, description = "region code"), PeriodQuery),
    responses((status = 200, body = Vec<Target>), (status = 404, body = ApiError)))]
pub async fn get_targets(
    State(st): State<AppState>,
    actor: Actor,
    ApiPath(code): ApiPath<String>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> AppResult<Json<Vec<Target>>> {
    let code = region(&code)?;
    let (year, _) = period(&st, &q)?;
    blocking(move || admin::targets(st.store.as_ref(), &actor, &code, year)).await.map(Json)
}

/// Create a user with a role and region scope (province admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "admin", security(("bearer" = [])), request_body = NewUser,
    responses((status = 200, body = UserView), (status = 403, body = ApiError),
        (status = 404, description = "The region or a village does not exist or lies outside the caller's", body = ApiError),
        (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn post_user(
    State(st): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<NewUser>,
) -> AppResult<Json<UserView>> {
    let now = st.now();
    blocking(move || admin::create_user(st.store.as_ref(), &actor, &req, now)).await.map(Json)
}

/// Users in the admin's region, with their assigned villages (province admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<UserView>), (status = 403, body = ApiError)))]
pub async fn get_users(State(st): State<AppState>, actor: Actor) -> AppResult<Json<Vec<UserView>>> {
    blocking(move || admin::list_users(st.store.as_ref(), &actor)).await.map(Json)
}

/// Change a user's name, role, region, villages, password or disabled flag (province admin).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "admin", security(("bearer" = [])), request_body = UserUpdate,
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = UserView), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError)))]
pub async fn patch_user(
    State(st): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<shared::UserId>,
    ApiJson(req): ApiJson<UserUpdate>,
) -> AppResult<Json<UserView>> {
    let now = st.now();
    blocking(move || admin::update_user(st.store.as_ref(), &actor, &id, &req, now)).await.map(Json)
}

/// The audit log's head (province admin): the number and chained hash of the last entry. Write
/// it down outside the server; `sync-server audit verify --expect SEQ:HASH` later proves the log
/// up to it was not rewritten.
#[utoipa::path(get, path = "/api/v1/audit/head", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = AuditHead), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn get_audit_head(State(st): State<AppState>, actor: Actor) -> AppResult<Json<AuditHead>> {
    blocking(move || audit::head_for(st.store.as_ref(), &actor)).await.map(Json)
}
