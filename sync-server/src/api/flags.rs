use axum::Json;
use axum::extract::State;
use axum::response::Response;
use shared::ApiError;
use shared::region::RegionCode;

use crate::api::extract::ApiQuery;
use crate::domain::Actor;
use crate::domain::flag_stats::{self, FlagStats, FlagStatsBy};
use crate::error::{AppError, AppResult};
use crate::{AppState, blocking};

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FlagStatsQuery {
    /// township (default) or inspector.
    #[serde(default)]
    #[param(value_type = Option<String>)]
    pub by: Option<FlagStatsBy>,
    /// Year in Asia/Shanghai; the current one when omitted.
    #[serde(default)]
    pub year: Option<i32>,
    /// A region inside the caller's.
    #[serde(default)]
    #[param(value_type = Option<String>)]
    pub region: Option<RegionCode>,
}

fn args(st: &AppState, q: &FlagStatsQuery) -> AppResult<(FlagStatsBy, i32, Option<RegionCode>)> {
    let year = q.year.unwrap_or_else(|| crate::shanghai_year(st.now()));
    if !(2000..=2100).contains(&year) {
        return Err(AppError::field(shared::ErrorCode::OutOfRange, "year", "年份无效"));
    }
    Ok((q.by.unwrap_or(FlagStatsBy::Township), year, q.region))
}

/// 疑点统计: flags per township or inspector, per kind and month, in the caller's region.
#[utoipa::path(get, path = "/api/v1/flags/stats", tag = "review", security(("bearer" = [])), params(FlagStatsQuery),
    responses((status = 200, body = FlagStats), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn get_flag_stats(
    State(st): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<FlagStatsQuery>,
) -> AppResult<Json<FlagStats>> {
    let (by, year, region) = args(&st, &q)?;
    blocking(move || flag_stats::stats(st.store.as_ref(), &actor, by, year, region)).await.map(Json)
}

/// The flag statistics as CSV (UTF-8 with BOM).
#[utoipa::path(get, path = "/api/v1/exports/flag-stats.csv", tag = "exports", security(("bearer" = [])), params(FlagStatsQuery),
    responses((status = 200, content_type = "text/csv"), (status = 403, body = ApiError)))]
pub async fn flag_stats_csv(
    State(st): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<FlagStatsQuery>,
) -> AppResult<Response> {
    let (by, year, region) = args(&st, &q)?;
    let s = blocking(move || flag_stats::stats(st.store.as_ref(), &actor, by, year, region)).await?;
    Ok(crate::api::export::attachment(
        "text/csv; charset=utf-8",
        "flag-stats.csv",
        axum::body::Body::from(flag_stats::csv(&s)),
    ))
}
