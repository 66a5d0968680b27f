//! HTTP API: thin handlers that extract, call a domain service on the blocking pool, and answer.

pub mod admin;
pub mod auth;
pub mod blobs;
pub mod console;
pub mod contract;
pub mod documents;
pub mod export;
pub mod extract;
pub mod flags;
pub mod inspections;
pub mod meta;
pub mod request_id;
pub mod review;
pub mod service_accounts;
pub mod sync;
pub mod tracking;
pub mod wire;

use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use shared::ErrorCode;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::AppError;

#[derive(OpenApi)]
#[openapi(
    info(title = "Qingliu sync-server", description = "清流 农村环境整治巡查同步服务"),
    modifiers(&BearerAuth),
    components(schemas(shared::ApiError, shared::FieldError, shared::ErrorCode))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Build the API router and its OpenAPI document from the same route list.
pub fn build(state: AppState) -> Router {
    let cfg = state.config.clone();
    let json_limit = DefaultBodyLimit::max(cfg.max_json_bytes);
    let api = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::revoke_user_tokens))
        .routes(routes!(meta::me))
        .routes(routes!(auth::register_device))
        .routes(routes!(meta::progress))
        .routes(routes!(tracking::get_tracking))
        .routes(routes!(tracking::get_dispatch))
        .routes(routes!(tracking::get_supervision))
        .routes(routes!(review::get_queue))
        .routes(routes!(review::post_bulk))
        .routes(routes!(export::inspections_csv))
        .routes(routes!(export::inspections_geojson))
        .routes(routes!(export::inspections_jsonl))
        .routes(routes!(export::inspections_xlsx))
        .routes(routes!(export::progress_xlsx))
        .routes(routes!(export::sites_geojson))
        .routes(routes!(export::map_points))
        .routes(routes!(export::supervision_csv))
        .routes(routes!(flags::get_flag_stats))
        .routes(routes!(flags::flag_stats_csv))
        .routes(routes!(admin::put_target))
        .routes(routes!(admin::get_targets))
        .routes(routes!(admin::post_user, admin::get_users))
        .routes(routes!(admin::patch_user))
        .routes(routes!(admin::get_audit_head))
        .routes(routes!(service_accounts::post_service_account, service_accounts::get_service_accounts))
        .routes(routes!(service_accounts::post_api_key))
        .routes(routes!(service_accounts::delete_api_key))
        .routes(routes!(service_accounts::get_feed))
        .routes(routes!(service_accounts::post_webhook, service_accounts::get_webhooks))
        .routes(routes!(service_accounts::delete_webhook))
        .routes(routes!(inspections::get_inspection))
        .routes(routes!(inspections::review_inspection))
        .routes(routes!(documents::post_number_blocks))
        .routes(routes!(documents::get_document))
        .routes(routes!(documents::get_archive))
        .routes(routes!(sync::pull))
        .layer(json_limit)
        .merge(
            OpenApiRouter::new().routes(routes!(sync::push)).layer(DefaultBodyLimit::max(cfg.max_push_bytes)),
        )
        .merge(
            OpenApiRouter::new()
                .routes(routes!(blobs::start_upload, blobs::append_chunk, blobs::download))
                .layer(DefaultBodyLimit::max(cfg.max_chunk_bytes)),
        )
        .routes(routes!(meta::healthz))
        .routes(routes!(meta::readyz))
        .routes(routes!(meta::console_config));
    // Only when configured: the document describes the routes this server answers.
    let (api, mut doc) = if cfg.metrics { api.routes(routes!(meta::metrics)) } else { api }.split_for_parts();
    contract::complete_error_answers(&mut doc);
    let mut doc = serde_json::to_value(&doc).unwrap_or_default();
    contract::name_union_variants(&mut doc);
    let doc_json = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
    let api = api
        .route(
            "/api/openapi.json",
            get(move || async move { ([("content-type", "application/json")], doc_json) }),
        )
        .fallback_service(console::service(&cfg))
        .method_not_allowed_fallback(method_not_allowed);
    let api = if cfg.metrics {
        api.layer(axum::middleware::from_fn_with_state(state.clone(), measure))
    } else {
        api
    };
    api.with_state(state)
}

/// Count every answer for `/metrics`, by the route template it matched ("(none)" for console
/// files and unknown paths) and a method from a fixed list, so the label set stays bounded.
async fn measure(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    let route = req.extensions().get::<axum::extract::MatchedPath>().map(|p| p.as_str().to_owned());
    let method = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let start = std::time::Instant::now();
    let resp = next.run(req).await;
    if resp.extensions().get::<crate::error::DatabaseFault>().is_some() {
        st.metrics.database_error();
    }
    st.metrics.request(method, route.as_deref().unwrap_or("(none)"), resp.status().as_u16(), start.elapsed());
    resp
}

pub(crate) async fn not_found() -> AppError {
    AppError::api(ErrorCode::NotFound, "接口不存在")
}

async fn method_not_allowed() -> impl IntoResponse {
    let body = shared::ApiError::new(ErrorCode::InvalidPath, "不支持该请求方法");
    (axum::http::StatusCode::METHOD_NOT_ALLOWED, Json(body))
}
