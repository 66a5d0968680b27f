use axum::Json;
use axum::extract::State;
use shared::ApiError;
use shared::auth::UserInfo;
use shared::region::RegionCode;

use crate::api::extract::{ApiPath, ApiQuery};
use crate::domain::Actor;
use crate::domain::progress::{self, Progress};
use crate::error::AppResult;
use crate::{AppState, blocking};

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub backend: &'static str,
    pub schema_version: i64,
}

/// Liveness and storage check.
#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, body = Health), (status = 503, body = ApiError)))]
pub async fn healthz(State(st): State<AppState>) -> AppResult<Json<Health>> {
    let (backend, schema_version) = (st.store.backend_name(), st.store.schema_version());
    blocking(move || {
        st.store.read()?.current_change_seq()?;
        Ok(())
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "health check failed");
        crate::error::AppError::api(shared::ErrorCode::Unavailable, "存储不可用")
    })?;
    Ok(Json(Health { status: "ok", backend, schema_version }))
}

/// The console's settings (map tiles). Behind login: a tile URL may carry a provider key.
#[utoipa::path(get, path = "/api/v1/console-config", tag = "meta", security(("bearer" = [])),
    responses((status = 200, body = shared::console::ConsoleConfig), (status = 401, body = ApiError)))]
pub async fn console_config(
    State(st): State<AppState>,
    _actor: Actor,
) -> Json<shared::console::ConsoleConfig> {
    Json(shared::console::ConsoleConfig {
        tile_url: st.config.map_tile_url.clone(),
        tile_gcj02: st.config.map_tile_gcj02,
    })
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserInfo), (status = 401, body = ApiError)))]
pub async fn me(actor: Actor) -> Json<UserInfo> {
    Json(actor.user)
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ProgressQuery {
    /// Task year; the current year (Asia/Shanghai) when omitted.
    pub year: Option<i32>,
}

/// Maintained totals of one region (read from counters, never from inspections).
#[utoipa::path(get, path = "/api/v1/progress/{region}", tag = "tracking", security(("bearer" = [])),
    params(("region" = String, Path, description = "6- or 12-digit region code"), ProgressQuery),
    responses((status = 200, body = Progress), (status = 404, body = ApiError)))]
pub async fn progress(
    State(st): State<AppState>,
    actor: Actor,
    ApiPath(region): ApiPath<String>,
    ApiQuery(q): ApiQuery<ProgressQuery>,
) -> AppResult<Json<Progress>> {
    let region = RegionCode::parse(&region).map_err(|e| {
        crate::error::AppError::field(shared::ErrorCode::InvalidFormat, "region", &e.to_string())
    })?;
    let year = q.year.unwrap_or_else(|| crate::shanghai_year(st.now()));
    blocking(move || progress::progress(st.store.as_ref(), &actor, &region, year)).await.map(Json)
}
