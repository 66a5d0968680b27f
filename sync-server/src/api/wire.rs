//! Compression on the wire: answers compressed when the client asks (`Accept-Encoding`, zstd or
//! gzip), request bodies decompressed when they say so (`Content-Encoding`), and every answer
//! saying which request encodings the server takes (`Accept-Encoding`, RFC 7694), so that a
//! tablet compresses its pushes only towards a server that reads them. Photos, PDFs, archives
//! and spreadsheets are compressed already and pass as they are.
//!
//! Body limits hold after decompression: the extractors count the decoded bytes, so a small
//! compressed body that inflates past the limit is refused with `body_too_large` like any other.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shared::ErrorCode;
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::AppError;

/// The request encodings the server decodes.
pub const ACCEPTED_REQUEST_ENCODINGS: &str = "zstd, gzip";

/// Refuse, with the usual JSON body, a request body in an encoding the server cannot read
/// (before the decompression layer, which would answer an empty 415).
async fn known_encoding(req: Request, next: Next) -> Response {
    let known = req.headers().get_all(header::CONTENT_ENCODING).iter().all(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .map(str::trim)
                .all(|e| matches!(e.to_ascii_lowercase().as_str(), "identity" | "gzip" | "zstd"))
        })
    });
    if known {
        next.run(req).await
    } else {
        let mut resp = AppError::api(
            ErrorCode::UnsupportedMediaType,
            format!("不支持的请求体编码（支持 {ACCEPTED_REQUEST_ENCODINGS}）"),
        )
        .into_response();
        resp.headers_mut()
            .insert(header::ACCEPT_ENCODING, HeaderValue::from_static(ACCEPTED_REQUEST_ENCODINGS));
        resp
    }
}

/// Wrap the whole application in the wire's encodings.
pub fn layers(router: Router) -> Router {
    // Small answers are not worth a frame; media and archives are compressed already.
    let worth_it = SizeAbove::new(1024)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE)
        .and(NotForContentType::const_new("application/octet-stream"))
        .and(NotForContentType::const_new("application/pdf"))
        .and(NotForContentType::const_new("application/zip"))
        .and(NotForContentType::const_new("application/vnd.openxmlformats"));
    router
        .layer(
            CompressionLayer::new()
                .no_br()
                .no_deflate()
                .quality(CompressionLevel::Fastest)
                .compress_when(worth_it),
        )
        .layer(RequestDecompressionLayer::new().no_br().no_deflate())
        .layer(axum::middleware::from_fn(known_encoding))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static(ACCEPTED_REQUEST_ENCODINGS),
        ))
}
