//! HTTP API: thin handlers that extract, call a domain service on the blocking pool, and answer.

pub mod admin;
pub mod auth;
pub mod blobs;
pub mod documents;
pub mod export;
pub mod extract;
pub mod flags;
pub mod inspections;
pub mod meta;
pub mod request_id;
pub mod review;
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
    let (api, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
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
        .routes(routes!(meta::console_config))
        .split_for_parts();
    let doc_json = doc.to_pretty_json().unwrap_or_else(|_| "{}".into());
    api.route(
        "/api/openapi.json",
        get(move || async move { ([("content-type", "application/json")], doc_json) }),
    )
    .fallback_service(console(&cfg))
    .method_not_allowed_fallback(method_not_allowed)
    .with_state(state)
}

/// The CSP source for a tile URL: scheme and host (with port) only; `//host/…` gives the host
/// alone (same scheme as the console). Anything else (other schemes, odd characters) is left
/// out, so the map falls back to its grid rather than widening the policy.
fn tile_source(url: &str) -> Option<String> {
    let (scheme, rest) = match url.split_once("://") {
        Some((s @ ("http" | "https"), rest)) => (Some(s), rest),
        Some(_) => return None,
        None => (None, url.strip_prefix("//")?),
    };
    let host = rest.split(['/', '?', '#']).next()?;
    let ok =
        !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    ok.then(|| match scheme {
        Some(s) => format!("{s}://{host}"),
        None => host.to_string(),
    })
}

/// Everything that is not the API: the browser console's static files (wasm, JS glue, CSS),
/// under a strict CSP. Paths are resolved by `ServeDir`, which refuses `..` and absolute parts;
/// anything it does not hold (including unknown `/api/...` paths) gets the JSON 404.
fn console(cfg: &crate::config::Config) -> axum::routing::MethodRouter {
    use axum::http::{HeaderName, HeaderValue};
    use tower_http::set_header::SetResponseHeaderLayer;
    let tiles =
        cfg.map_tile_url.as_deref().and_then(tile_source).map(|t| format!(" {t}")).unwrap_or_default();
    let csp = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' blob: data:{tiles}; connect-src 'self' blob:; frame-src blob:; object-src blob:; frame-ancestors 'none'; \
         base-uri 'none'"
    );
    let serve = tower_http::services::ServeDir::new(&cfg.console_dir)
        .append_index_html_on_directories(true)
        .call_fallback_on_method_not_allowed(true)
        .fallback(axum::handler::HandlerWithoutStateExt::into_service(not_found));
    let csp = HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    axum::routing::any_service(
        tower::ServiceBuilder::new()
            // The bundle's file names are fixed: make browsers revalidate, so that an upgraded
            // server never runs with a cached half of the old console.
            .layer(SetResponseHeaderLayer::overriding(
                axum::http::header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                HeaderName::from_static("content-security-policy"),
                csp,
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                HeaderName::from_static("x-content-type-options"),
                HeaderValue::from_static("nosniff"),
            ))
            .service(serve),
    )
}

async fn not_found() -> AppError {
    AppError::api(ErrorCode::NotFound, "接口不存在")
}

async fn method_not_allowed() -> impl IntoResponse {
    let body = shared::ApiError::new(ErrorCode::InvalidPath, "不支持该请求方法");
    (axum::http::StatusCode::METHOD_NOT_ALLOWED, Json(body))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tile_sources_are_scheme_and_host_only() {
        use super::tile_source;
        assert_eq!(
            tile_source("https://t0.tianditu.gov.cn/vec_w/wmts?tk=k&z={z}").as_deref(),
            Some("https://t0.tianditu.gov.cn")
        );
        assert_eq!(
            tile_source("http://10.0.0.5:8081/{z}/{x}/{y}.png").as_deref(),
            Some("http://10.0.0.5:8081")
        );
        assert_eq!(tile_source("//tiles.lan/{z}/{x}/{y}.png").as_deref(), Some("tiles.lan"));
        assert_eq!(tile_source("https://h?tk=secret").as_deref(), Some("https://h"));
        assert_eq!(tile_source("javascript://x"), None);
        assert_eq!(tile_source("tiles/{z}/{x}/{y}.png"), None);
        assert_eq!(tile_source("https://evil.com; script-src *"), None);
    }
}
