use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use shared::auth::{DeviceInfo, LoginRequest, LoginResponse, RegisterDeviceRequest};
use shared::{ApiError, UserId};

use crate::api::extract::{ApiJson, ApiPath};
use crate::domain::{Actor, auth};
use crate::error::AppResult;
use crate::{AppState, blocking};

/// Log in; answers a bearer token that expires.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ApiError), (status = 429, body = ApiError)))]
pub async fn login(
    State(st): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> AppResult<Json<LoginResponse>> {
    let now = st.now();
    let ttl = time::Duration::hours(st.config.token_ttl_hours);
    blocking(move || auth::login(st.store.as_ref(), &st.limiter, &req.username, &req.password, ttl, now))
        .await
        .map(Json)
}

/// Revoke the caller's token.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ApiError)))]
pub async fn logout(State(st): State<AppState>, actor: Actor) -> AppResult<StatusCode> {
    let now = st.now();
    blocking(move || auth::logout(st.store.as_ref(), &actor, now)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Revoked {
    pub revoked: u64,
}

/// Revoke every token of a user (the user themself, or a province admin over their region).
#[utoipa::path(post, path = "/api/v1/users/{id}/revoke-tokens", tag = "auth", security(("bearer" = [])),
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = Revoked), (status = 404, body = ApiError)))]
pub async fn revoke_user_tokens(
    State(st): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<UserId>,
) -> AppResult<Json<Revoked>> {
    let now = st.now();
    let n = blocking(move || auth::revoke_user(st.store.as_ref(), &actor, &id, now)).await?;
    Ok(Json(Revoked { revoked: n }))
}

/// Register the caller's device (idempotent); answers the last applied sequence number.
#[utoipa::path(post, path = "/api/v1/devices", tag = "sync", security(("bearer" = [])),
    request_body = RegisterDeviceRequest,
    responses((status = 200, body = DeviceInfo), (status = 403, body = ApiError)))]
pub async fn register_device(
    State(st): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<RegisterDeviceRequest>,
) -> AppResult<Json<DeviceInfo>> {
    let now = st.now();
    blocking(move || auth::register_device(st.store.as_ref(), &actor, &req, now)).await.map(Json)
}
