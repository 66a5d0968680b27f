//! Extractors that turn every malformed request into a `{code, message, fields}` 4xx.

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use shared::{ApiError, ErrorCode, FieldError};

use crate::AppState;
use crate::domain::{Actor, auth};
use crate::error::AppError;

/// Split axum's "prefix: path: message" into a field path when serde named one.
fn field_error(text: &str, code: ErrorCode) -> Vec<FieldError> {
    let detail = text.split_once(": ").map(|(_, rest)| rest).unwrap_or(text);
    match detail.split_once(": ") {
        Some((path, msg)) if !path.contains(' ') => vec![FieldError::new(path, code, msg)],
        _ => Vec::new(),
    }
}

fn bytes_rejection(e: BytesRejection) -> AppError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        AppError::api(ErrorCode::BodyTooLarge, "请求体过大")
    } else {
        AppError::api(ErrorCode::InvalidBody, "无法读取请求体")
    }
}

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::JsonDataError(e)) => {
                let text = e.body_text();
                Err(AppError::Api(
                    ApiError::new(ErrorCode::InvalidBody, text.clone())
                        .with_fields(field_error(&text, ErrorCode::InvalidValue)),
                ))
            }
            Err(JsonRejection::JsonSyntaxError(e)) => {
                Err(AppError::api(ErrorCode::MalformedJson, format!("JSON 格式错误: {}", e.body_text())))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(AppError::api(ErrorCode::UnsupportedMediaType, "Content-Type 必须为 application/json"))
            }
            Err(JsonRejection::BytesRejection(e)) => Err(bytes_rejection(e)),
            Err(e) => Err(AppError::api(ErrorCode::InvalidBody, e.body_text())),
        }
    }
}

pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(req, state).await.map(ApiBytes).map_err(bytes_rejection)
    }
}

pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(q) => Ok(ApiQuery(q.0)),
            Err(e @ QueryRejection::FailedToDeserializeQueryString(_)) => {
                Err(AppError::api(ErrorCode::InvalidQuery, e.body_text()))
            }
            Err(e) => Err(AppError::api(ErrorCode::InvalidQuery, e.body_text())),
        }
    }
}

pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(p) => Ok(ApiPath(p.0)),
            Err(e @ PathRejection::FailedToDeserializePathParams(_)) => {
                Err(AppError::api(ErrorCode::InvalidPath, e.body_text()))
            }
            Err(e) => Err(AppError::api(ErrorCode::InvalidPath, e.body_text())),
        }
    }
}

/// The authenticated caller, from `Authorization: Bearer <token>`.
impl FromRequestParts<AppState> for Actor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header =
            parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AppError::api(ErrorCode::Unauthenticated, "请先登录"))?
            .to_string();
        let store = state.store.clone();
        let now = state.now();
        crate::blocking(move || auth::authenticate(store.as_ref(), &token, now)).await
    }
}
