use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use shared::ApiError;

use crate::AppState;
use crate::api::extract::ApiQuery;
use crate::domain::Actor;
use crate::domain::export::{self, Sink};
use crate::domain::queue::{QueueQuery, record_query};
use crate::error::AppResult;

/// Stream what `write` produces on a blocking thread through a small bounded channel, so the
/// export never holds more than a few chunks in memory.
fn stream(write: impl FnOnce(&mut Sink<'_>) -> AppResult<()> + Send + 'static) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let mut sink = |chunk: Vec<u8>| tx.blocking_send(Ok(Bytes::from(chunk))).is_ok();
        if let Err(e) = write(&mut sink) {
            tracing::error!(error = %e, "export failed midway");
            let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
        }
    });
    Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// Where an export's links point: the configured public address, else the host the export was
/// asked of (the reader's own way in), else relative paths.
fn links(st: &AppState, headers: &HeaderMap) -> export::Links {
    let base = match &st.config.public_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
            })
            .map(|h| format!("http://{h}"))
            .unwrap_or_default(),
    };
    export::Links { base }
}

pub(crate) fn attachment(content_type: &str, filename: &str, body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
        ],
        body,
    )
        .into_response()
}

/// The inspection list as CSV (UTF-8 with BOM), scoped to the caller.
#[utoipa::path(get, path = "/api/v1/exports/inspections.csv", tag = "exports", security(("bearer" = [])), params(QueueQuery),
    responses((status = 200, content_type = "text/csv"), (status = 403, body = ApiError)))]
pub async fn inspections_csv(
    State(st): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> AppResult<Response> {
    // Refuse before the first byte: once streaming starts the status is sent.
    record_query(&actor, &q, None)?;
    let (store, links) = (st.store.clone(), links(&st, &headers));
    let body = stream(move |sink| export::inspections_csv(store.as_ref(), &actor, &q, &links, sink));
    Ok(attachment("text/csv; charset=utf-8", "inspections.csv", body))
}

/// The records as JSON Lines (`InspectionRecord` per line, the versioned DTO), scoped to the caller.
#[utoipa::path(get, path = "/api/v1/exports/inspections.jsonl", tag = "exports", security(("bearer" = [])), params(QueueQuery),
    responses((status = 200, content_type = "application/jsonl"), (status = 403, body = ApiError)))]
pub async fn inspections_jsonl(
    State(st): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> AppResult<Response> {
    record_query(&actor, &q, None)?;
    let store = st.store.clone();
    let body = stream(move |sink| export::inspections_jsonl(store.as_ref(), &actor, &q, sink));
    Ok(attachment("application/jsonl; charset=utf-8", "inspections.jsonl", body))
}

/// The inspection list as GeoJSON (RFC 7946, WGS-84), scoped to the caller.
#[utoipa::path(get, path = "/api/v1/exports/inspections.geojson", tag = "exports", security(("bearer" = [])), params(QueueQuery),
    responses((status = 200, content_type = "application/geo+json"), (status = 403, body = ApiError)))]
pub async fn inspections_geojson(
    State(st): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> AppResult<Response> {
    record_query(&actor, &q, None)?;
    let (store, links) = (st.store.clone(), links(&st, &headers));
    let body = stream(move |sink| export::inspections_geojson(store.as_ref(), &actor, &q, &links, sink));
    Ok(attachment("application/geo+json", "inspections.geojson", body))
}

/// The inspection list as XLSX (Chinese headers, number and date cells), scoped to the caller.
#[utoipa::path(get, path = "/api/v1/exports/inspections.xlsx", tag = "exports", security(("bearer" = [])), params(QueueQuery),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (status = 403, body = ApiError)))]
pub async fn inspections_xlsx(
    State(st): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> AppResult<Response> {
    record_query(&actor, &q, None)?;
    let (store, links) = (st.store.clone(), links(&st, &headers));
    let body = stream(move |sink| export::inspections_xlsx(store.as_ref(), &actor, &q, &links, sink));
    Ok(attachment(XLSX, "inspections.xlsx", body))
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The progress table of a region's children (or of every region of `level` in it) as XLSX.
#[utoipa::path(get, path = "/api/v1/exports/progress/{region}", tag = "exports", security(("bearer" = [])),
    params(("region" = String, Path, description = "region code"), crate::api::tracking::PeriodQuery),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (status = 404, body = ApiError)))]
pub async fn progress_xlsx(
    State(st): State<AppState>,
    actor: Actor,
    crate::api::extract::ApiPath(code): crate::api::extract::ApiPath<String>,
    ApiQuery(q): ApiQuery<crate::api::tracking::PeriodQuery>,
) -> AppResult<Response> {
    let code = crate::api::tracking::region(&code)?;
    let (year, month) = crate::api::tracking::period(&st, &q)?;
    let rows = crate::api::tracking::rows_level(&q)?;
    // Computed before streaming so that scope and argument errors answer 4xx, not a cut file.
    let store = st.store.clone();
    let t = crate::blocking(move || {
        crate::domain::tracking::tracking(store.as_ref(), &actor, &code, year, month, rows)
    })
    .await?;
    let body = stream(move |sink| export::progress_xlsx(&t, sink));
    Ok(attachment(XLSX, "progress.xlsx", body))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SitesQuery {
    /// A region inside the caller's scope; the whole scope when omitted.
    #[serde(default)]
    #[param(value_type = Option<String>)]
    pub region: Option<String>,
}

/// The sites in the caller's scope as GeoJSON (RFC 7946, WGS-84).
#[utoipa::path(get, path = "/api/v1/exports/sites.geojson", tag = "exports", security(("bearer" = [])), params(SitesQuery),
    responses((status = 200, content_type = "application/geo+json"), (status = 404, body = ApiError)))]
pub async fn sites_geojson(
    State(st): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<SitesQuery>,
) -> AppResult<Response> {
    let area = q.region.as_deref().map(crate::api::tracking::region).transpose()?;
    let filter = export::sites_filter(&actor, area)?;
    let store = st.store.clone();
    let body = stream(move |sink| export::sites_geojson(store.as_ref(), &filter, sink));
    Ok(attachment("application/geo+json", "sites.geojson", body))
}

/// What the console's map draws: the sites in scope (or in `region`) with a position and the
/// records waiting for review, as columns.
#[utoipa::path(get, path = "/api/v1/map/points", tag = "tracking", security(("bearer" = [])), params(SitesQuery),
    responses((status = 200, body = shared::console::MapPoints), (status = 404, body = ApiError), (status = 422, body = ApiError)))]
pub async fn map_points(
    State(st): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<SitesQuery>,
) -> AppResult<axum::Json<shared::console::MapPoints>> {
    let area = q.region.as_deref().map(crate::api::tracking::region).transpose()?;
    crate::blocking(move || crate::domain::map::map_points(st.store.as_ref(), &actor, area))
        .await
        .map(axum::Json)
}

/// The supervision list as CSV (UTF-8 with BOM).
#[utoipa::path(get, path = "/api/v1/exports/supervision.csv", tag = "exports", security(("bearer" = [])),
    params(crate::api::tracking::PeriodQuery),
    responses((status = 200, content_type = "text/csv"), (status = 403, body = ApiError), (status = 422, body = ApiError)))]
pub async fn supervision_csv(
    State(st): State<AppState>,
    actor: Actor,
    ApiQuery(q): ApiQuery<crate::api::tracking::PeriodQuery>,
) -> AppResult<Response> {
    let (year, month) = crate::api::tracking::period(&st, &q)?;
    let level = crate::api::tracking::level(&q)?;
    // The list is small (regions, not records): build it before answering so errors get a status.
    let store = st.store.clone();
    let bytes = crate::blocking(move || {
        let mut out = Vec::new();
        export::supervision_csv(store.as_ref(), &actor, level, year, month, &mut |c| {
            out.extend_from_slice(&c);
            true
        })?;
        Ok(out)
    })
    .await?;
    Ok(attachment("text/csv; charset=utf-8", "supervision.csv", Body::from(bytes)))
}
