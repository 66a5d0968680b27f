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

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Ready {
    pub status: &'static str,
    pub backend: &'static str,
}

/// How long readiness waits for each store before calling it unreachable.
const READY_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Readiness: 200 while both the database and the blob store answer, 503 `unavailable` naming
/// the one that does not (`fields`: `database`, `blob_store`). A balancer or an orchestrator
/// takes the server out of rotation on it; `/healthz` stays the liveness probe.
#[utoipa::path(get, path = "/readyz", tag = "meta",
    responses((status = 200, body = Ready), (status = 503, body = ApiError)))]
pub async fn readyz(State(st): State<AppState>) -> AppResult<Json<Ready>> {
    use shared::{ErrorCode, FieldError};
    async fn probe(f: impl FnOnce() -> AppResult<()> + Send + 'static) -> Result<(), String> {
        match tokio::time::timeout(READY_WAIT, blocking(f)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer in time".into()),
        }
    }
    let store = st.store.clone();
    let blobs = st.blobs.clone();
    let (db, blob) = tokio::join!(
        probe(move || store.read()?.current_change_seq().map(drop).map_err(Into::into)),
        probe(move || blobs.check())
    );
    let mut fields = Vec::new();
    if let Err(e) = db {
        tracing::warn!(error = %e, "not ready: database");
        fields.push(FieldError::new("database", ErrorCode::Unavailable, "数据库不可达"));
    }
    if let Err(e) = blob {
        tracing::warn!(error = %e, "not ready: blob store");
        fields.push(FieldError::new("blob_store", ErrorCode::Unavailable, "照片存储不可达"));
    }
    if !fields.is_empty() {
        let e = ApiError::new(ErrorCode::Unavailable, "服务未就绪").with_fields(fields);
        return Err(crate::error::AppError::Api(e));
    }
    Ok(Json(Ready { status: "ready", backend: st.store.backend_name() }))
}

/// Counters and histograms for Prometheus (only when `metrics = true`).
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, content_type = "text/plain; version=0.0.4", body = String)))]
pub async fn metrics(State(st): State<AppState>) -> AppResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let m = st.metrics.clone();
    let text = blocking(move || {
        let depth = m.queue_depth(std::time::Instant::now(), || {
            let counted = st.store.read().and_then(|mut tx| tx.count_records());
            match counted {
                Ok(rows) => Some(
                    rows.iter()
                        .filter(|(s, _)| *s == shared::review::ReviewStatus::Submitted)
                        .map(|(_, n)| n)
                        .sum(),
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "review queue depth not counted");
                    None
                }
            }
        });
        Ok(m.render(depth))
    })
    .await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text)
        .into_response())
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
#[into_params(parameter_in = Query)]
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
