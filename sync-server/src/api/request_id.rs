//! A request id on every request (issue 15): the caller's `x-request-id` when it is a plain
//! token (a load balancer's, a client's retry), else a fresh UUIDv7; it is in the answer's
//! headers and in the span of every log line the request writes, so an operator can find the
//! server's side of what a user or another system reports.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// A caller's id is kept only if it cannot forge log lines or grow without bound.
fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub async fn layer(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|s| acceptable(s))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let value = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    req.headers_mut().insert(HEADER, value.clone());
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(HEADER, value);
    resp
}

/// The id a request carries once `layer` has run (for the trace span).
pub fn of<B>(req: &axum::http::Request<B>) -> &str {
    req.headers().get(&HEADER).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_plain_tokens_are_kept() {
        assert!(super::acceptable("haproxy-7f3a.12_x"));
        assert!(!super::acceptable(""));
        assert!(!super::acceptable("a\nb"));
        assert!(!super::acceptable("a b"));
        assert!(!super::acceptable(&"x".repeat(65)));
    }
}
