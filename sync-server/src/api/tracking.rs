use axum::Json;
use axum::extract::State;
use shared::ApiError;
use shared::region::{RegionCode, RegionLevel};

use crate::api::extract::{ApiPath, ApiQuery};
use crate::domain::Actor;
use crate::domain::tracking::{self, Dispatch, SupervisionRow, Tracking};
use crate::error::{AppError, AppResult};
use crate::{AppState, blocking};

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// Task year; the current year in Asia/Shanghai when omitted.
    pub year: Option<i32>,
    /// Month (1–12) to read the plan at; the current month (or 12 for past years) when omitted.
    pub month: Option<u8>,
    /// For the supervision list: prefecture, county or township (counties when omitted). For
    /// tracking and its export: the level of the rows, any below the region (its children when
    /// omitted), down to `village`.
    #[serde(default)]
    #[param(value_type = Option<String>)]
    pub level: Option<String>,
}

pub fn period(st: &AppState, q: &PeriodQuery) -> AppResult<(i32, u8)> {
    let now = crate::shanghai_month(st.now());
    let year = q.year.unwrap_or((now / 100) as i32);
    if !(2000..=2100).contains(&year) {
        return Err(AppError::field(shared::ErrorCode::OutOfRange, "year", "年份无效"));
    }
    let default_month = if year == (now / 100) as i32 { (now % 100) as u8 } else { 12 };
    let month = q.month.unwrap_or(default_month);
    if !(1..=12).contains(&month) {
        return Err(AppError::field(shared::ErrorCode::OutOfRange, "month", "月份应为 1–12"));
    }
    Ok((year, month))
}

/// The supervision level asked for; counties when none is given.
pub fn level(q: &PeriodQuery) -> AppResult<RegionLevel> {
    match q.level.as_deref().map(RegionLevel::parse) {
        None => Ok(RegionLevel::County),
        Some(Some(l)) => Ok(l),
        Some(None) => Err(AppError::field(shared::ErrorCode::InvalidValue, "level", "级别无效")),
    }
}

/// The level of tracking's rows, when one is asked for.
pub fn rows_level(q: &PeriodQuery) -> AppResult<Option<RegionLevel>> {
    q.level.as_ref().map(|_| level(q)).transpose()
}

pub fn region(code: &str) -> AppResult<RegionCode> {
    RegionCode::parse(code)
        .map_err(|e| AppError::field(shared::ErrorCode::InvalidFormat, "region", &e.to_string()))
}

/// Progress of a region and its children against targets (from counters).
#[utoipa::path(get, path = "/api/v1/tracking/{region}", tag = "tracking", security(("bearer" = [])),
    params(("region" = String, Path, description = "region code"), PeriodQuery),
    responses((status = 200, body = Tracking), (status = 404, body = ApiError)))]
pub async fn get_tracking(
    State(st): State<AppState>,
    actor: Actor,
    ApiPath(code): ApiPath<String>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> AppResult<Json<Tracking>> {
    let code = region(&code)?;
    let (year, month) = period(&st, &q)?;
    let rows = rows_level(&q)?;
    blocking(move || tracking::tracking(st.store.as_ref(), &actor, &code, year, month, rows)).await.map(Json)
}

/// Monthly dispatch: completions per month against the plan.
#[utoipa::path(get, path = "/api/v1/dispatch/{region}", tag = "tracking", security(("bearer" = [])),
    params(("region" = String, Path, description = "region code"), PeriodQuery),
    responses((status = 200, body = Dispatch), (status = 404, body = ApiError)))]
pub async fn get_dispatch(
    State(st): State<AppState>,
    actor: Actor,
    ApiPath(code): ApiPath<String>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> AppResult<Json<Dispatch>> {
    let code = region(&code)?;
    let (year, _) = period(&st, &q)?;
    blocking(move || tracking::dispatch(st.store.as_ref(), &actor, &code, year)).await.map(Json)
}

/// The supervision list: regions of a level in the caller's scope that are behind plan.
#[utoipa::path(get, path = "/api/v1/supervision", tag = "tracking", security(("bearer" = [])),
    params(PeriodQuery),
    responses((status = 200, body = Vec<SupervisionRow>), (status = 422, body = ApiError)))]
pub async fn get_supervision(
    State(st): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> AppResult<Json<Vec<SupervisionRow>>> {
    let (year, month) = period(&st, &q)?;
    let level = level(&q)?;
    blocking(move || tracking::supervision(st.store.as_ref(), &actor, level, year, month)).await.map(Json)
}
