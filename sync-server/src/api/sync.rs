use axum::Json;
use axum::extract::State;
use shared::ApiError;
use shared::sync::{PullPage, PullScope, PushRequest, PushResponse};

use crate::api::extract::{ApiJson, ApiQuery};
use crate::domain::{Actor, pull as pull_svc, push as push_svc};
use crate::error::AppResult;
use crate::{AppState, blocking};

/// Push a batch of queued mutations; exactly-once per `(device_id, seq)`.
#[utoipa::path(post, path = "/api/v1/sync/push", tag = "sync", security(("bearer" = [])),
    request_body = PushRequest,
    responses((status = 200, body = PushResponse), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
pub async fn push(
    State(st): State<AppState>,
    actor: Actor,
    ApiJson(req): ApiJson<PushRequest>,
) -> AppResult<Json<PushResponse>> {
    let now = st.now();
    let metrics = st.metrics.clone();
    let answer =
        blocking(move || push_svc::push(st.store.as_ref(), &actor, &req, &st.config.flags, now)).await?;
    metrics.push_results(&answer.results);
    Ok(Json(answer))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PullQuery {
    pub scope: PullScope,
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size, 1–1000.
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Protocol version, "1.0" when omitted.
    #[serde(default)]
    #[param(value_type = Option<String>)]
    pub protocol: Option<shared::sync::ProtocolVersion>,
}

/// Pull the changes of a scope after a cursor.
#[utoipa::path(get, path = "/api/v1/sync/pull", tag = "sync", security(("bearer" = [])), params(PullQuery),
    responses((status = 200, body = PullPage), (status = 400, body = ApiError)))]
pub async fn pull(
    State(st): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<PullQuery>,
) -> AppResult<Json<PullPage>> {
    push_svc::check_protocol(&q.protocol.unwrap_or_default())?;
    blocking(move || pull_svc::pull(st.store.as_ref(), &actor, q.scope, q.cursor.as_deref(), q.limit))
        .await
        .map(Json)
}
