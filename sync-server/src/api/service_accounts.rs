//! Service accounts and their API keys (province admin).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use shared::ApiError;
use shared::integration::{
    CreatedServiceAccount, NewApiKey, NewApiKeyRequest, NewServiceAccount, ServiceAccountView,
};

use crate::api::extract::{ApiJson, ApiPath};
use crate::domain::Actor;
use crate::domain::service_accounts as svc;
use crate::error::AppResult;
use crate::{AppState, blocking};

/// Create a service account for a system, with its first API key (shown once).
#[utoipa::path(post, path = "/api/v1/service-accounts", tag = "integration", security(("bearer" = [])),
    request_body = NewServiceAccount,
    responses((status = 200, body = CreatedServiceAccount), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, description = "The region does not exist or lies outside the caller's", body = ApiError),
        (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn post_service_account(
    State(st): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<NewServiceAccount>,
) -> AppResult<Json<CreatedServiceAccount>> {
    let now = st.now();
    blocking(move || svc::create(st.store.as_ref(), &actor, &req, now)).await.map(Json)
}

/// The service accounts in the admin's region with their keys (ids and dates, never the keys).
#[utoipa::path(get, path = "/api/v1/service-accounts", tag = "integration", security(("bearer" = [])),
    responses((status = 200, body = Vec<ServiceAccountView>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn get_service_accounts(
    State(st): State<AppState>,
    actor: Actor,
) -> AppResult<Json<Vec<ServiceAccountView>>> {
    blocking(move || svc::list(st.store.as_ref(), &actor)).await.map(Json)
}

/// Another API key for a service account (rotation: add, switch the system over, revoke the old).
#[utoipa::path(post, path = "/api/v1/service-accounts/{id}/keys", tag = "integration", security(("bearer" = [])),
    params(("id" = String, Path, description = "the service account's user id")), request_body = NewApiKeyRequest,
    responses((status = 200, body = NewApiKey), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn post_api_key(
    State(st): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<shared::UserId>,
    ApiJson(req): ApiJson<NewApiKeyRequest>,
) -> AppResult<Json<NewApiKey>> {
    let now = st.now();
    blocking(move || svc::add_key(st.store.as_ref(), &actor, &id, req.days, now)).await.map(Json)
}

/// Revoke an API key at once.
#[utoipa::path(delete, path = "/api/v1/service-accounts/{id}/keys/{key_id}", tag = "integration", security(("bearer" = [])),
    params(("id" = String, Path, description = "the service account's user id"), ("key_id" = String, Path, description = "the key's id")),
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn delete_api_key(
    State(st): State<AppState>,
    actor: Actor,
    ApiPath((id, key_id)): ApiPath<(shared::UserId, String)>,
) -> AppResult<StatusCode> {
    let now = st.now();
    blocking(move || svc::revoke_key(st.store.as_ref(), &actor, &id, &key_id, now)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// The `cursor` of the last page read; from the beginning when omitted.
    #[param(minimum = 0)]
    pub after: Option<u64>,
    /// Most changes in the page (1–5000, 1000 when omitted).
    #[param(minimum = 1, maximum = 5000)]
    pub limit: Option<u32>,
}

/// The change feed of the caller's region: record versions, review decisions and site status
/// changes in commit order, after a cursor (viewers and service accounts).
#[utoipa::path(get, path = "/api/v1/feed", tag = "integration", security(("bearer" = [])), params(FeedQuery),
    responses((status = 200, body = shared::integration::FeedPage), (status = 400, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 422, body = ApiError)))]
pub async fn get_feed(
    State(st): State<AppState>,
    actor: Actor,
    crate::api::extract::ApiQuery(q): crate::api::extract::ApiQuery<FeedQuery>,
) -> AppResult<Json<crate::domain::feed::RawPage>> {
    blocking(move || crate::domain::feed::page(st.store.as_ref(), &actor, q.after.unwrap_or(0), q.limit))
        .await
        .map(Json)
}

/// Subscribe to the caller's region's changes at a URL (viewers and service accounts); the
/// secret that signs deliveries is shown once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "integration", security(("bearer" = [])),
    request_body = shared::integration::NewWebhook,
    responses((status = 200, body = shared::integration::CreatedWebhook), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 422, body = ApiError)))]
pub async fn post_webhook(
    State(st): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<shared::integration::NewWebhook>,
) -> AppResult<Json<shared::integration::CreatedWebhook>> {
    let now = st.now();
    blocking(move || crate::domain::webhooks::create(st.store.as_ref(), &actor, &req, now)).await.map(Json)
}

/// The caller's webhooks and how their deliveries stand (the province admin sees all).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "integration", security(("bearer" = [])),
    responses((status = 200, body = Vec<shared::integration::WebhookView>), (status = 401, body = ApiError),
        (status = 403, body = ApiError)))]
pub async fn get_webhooks(
    State(st): State<AppState>,
    actor: Actor,
) -> AppResult<Json<Vec<shared::integration::WebhookView>>> {
    blocking(move || crate::domain::webhooks::list(st.store.as_ref(), &actor)).await.map(Json)
}

/// Stop a subscription (its owner or the province admin).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "integration", security(("bearer" = [])),
    params(("id" = String, Path, description = "the webhook's id")),
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn delete_webhook(
    State(st): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> AppResult<StatusCode> {
    let now = st.now();
    blocking(move || crate::domain::webhooks::delete(st.store.as_ref(), &actor, &id, now)).await?;
    Ok(StatusCode::NO_CONTENT)
}
