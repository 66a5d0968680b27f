//! The browser console's static files (wasm, JS glue, CSS), under a strict CSP: from a
//! configured `console_dir`, else from the copy built into the binary (`build.rs`), else from
//! `ui/dist` under the working directory (a server built before the console was).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::OnceLock;

use axum::extract::Request;
use axum::handler::HandlerWithoutStateExt;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use sha2::Digest;
use tower::{Service, ServiceExt};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;

mod built {
    include!(concat!(env!("OUT_DIR"), "/console_files.rs"));
}

/// Where the console's files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Dir(std::path::PathBuf),
    Embedded,
}

impl Source {
    pub fn of(cfg: &Config) -> Source {
        match &cfg.console_dir {
            Some(dir) => Source::Dir(dir.clone()),
            None if !built::FILES.is_empty() => Source::Embedded,
            None => Source::Dir("ui/dist".into()),
        }
    }
}

/// How many files of the console this binary carries (0: built before `ui/dist` existed).
pub fn embedded_files() -> usize {
    built::FILES.len()
}

struct File {
    bytes: &'static [u8],
    etag: HeaderValue,
    content_type: &'static str,
}

fn files() -> &'static HashMap<&'static str, File> {
    static FILES: OnceLock<HashMap<&'static str, File>> = OnceLock::new();
    FILES.get_or_init(|| {
        built::FILES
            .iter()
            .map(|&(path, bytes)| {
                let digest = sha2::Sha256::digest(bytes);
                let etag = HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..12])))
                    .expect("hex is a valid header value");
                (path, File { bytes, etag, content_type: content_type(path) })
            })
            .collect()
    })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A file of the built-in console by its URL path. The path is only a key into the fixed list
/// the binary carries: nothing is read from disk.
async fn embedded(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return super::not_found().await.into_response();
    }
    let path = uri.path().trim_start_matches('/');
    let key =
        if path.is_empty() || path.ends_with('/') { format!("{path}index.html") } else { path.to_string() };
    let Some(file) = files().get(key.as_str()) else {
        return super::not_found().await.into_response();
    };
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == file.etag.as_bytes()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, file.etag.clone())]).into_response();
    }
    let head = [
        (header::CONTENT_TYPE, HeaderValue::from_static(file.content_type)),
        (header::ETAG, file.etag.clone()),
    ];
    if method == Method::HEAD {
        return (head, [(header::CONTENT_LENGTH, HeaderValue::from(file.bytes.len()))]).into_response();
    }
    (head, file.bytes).into_response()
}

/// Everything that is not the API. From a directory, paths are resolved by `ServeDir`, which
/// refuses `..` and absolute parts; anything the source does not hold (including unknown
/// `/api/...` paths) gets the JSON 404.
pub fn service(cfg: &Config) -> MethodRouter {
    let tiles =
        cfg.map_tile_url.as_deref().and_then(tile_source).map(|t| format!(" {t}")).unwrap_or_default();
    let csp = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' blob: data:{tiles}; connect-src 'self' blob:; frame-src blob:; object-src blob:; frame-ancestors 'none'; \
         base-uri 'none'"
    );
    let csp = HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    match Source::of(cfg) {
        Source::Dir(dir) => {
            let serve = tower_http::services::ServeDir::new(dir)
                .append_index_html_on_directories(true)
                .call_fallback_on_method_not_allowed(true)
                .fallback(super::not_found.into_service());
            with_policy(ServiceExt::<Request>::map_response(serve, IntoResponse::into_response), csp)
        }
        Source::Embedded => with_policy(embedded.into_service(), csp),
    }
}

fn with_policy<S>(svc: S, csp: HeaderValue) -> MethodRouter
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    axum::routing::any_service(
        tower::ServiceBuilder::new()
            // The bundle's file names are fixed: make browsers revalidate, so that an upgraded
            // server never runs with a cached half of the old console.
            .layer(SetResponseHeaderLayer::overriding(
                header::CACHE_CONTROL,
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
            .service(svc),
    )
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
