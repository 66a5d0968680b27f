//! The server's error type: an `ApiError` for the client, or an internal failure that is logged
//! with context and reported only as an opaque `internal` code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::{ApiError, ErrorCode, FieldError};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The blob store did not answer (S3 endpoint down): as retryable as the database's.
    #[error("blob store: {0}")]
    BlobStore(String),
    #[error("internal: {0}")]
    Internal(String),
}

/// Marks an answer caused by a database failure, for the metrics layer (which sees answers,
/// not errors).
#[derive(Clone, Copy, Debug)]
pub struct DatabaseFault;

pub type AppResult<T> = Result<T, AppError>;

impl From<shared::region::RegionCodeError> for AppError {
    fn from(e: shared::region::RegionCodeError) -> Self {
        AppError::Internal(format!("region code: {e}"))
    }
}

impl AppError {
    pub fn api(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError::Api(ApiError::new(code, message))
    }

    pub fn not_found() -> Self {
        AppError::api(ErrorCode::NotFound, "对象不存在")
    }

    pub fn field(code: ErrorCode, field: &str, message: &str) -> Self {
        AppError::Api(ApiError::new(code, message).with_fields(vec![FieldError::new(field, code, message)]))
    }

    pub fn to_api(&self) -> ApiError {
        match self {
            AppError::Api(e) => e.clone(),
            AppError::Store(StoreError::Unavailable(_)) => {
                ApiError::new(ErrorCode::Unavailable, "数据库暂时不可用，请稍后重试")
            }
            AppError::BlobStore(_) => ApiError::new(ErrorCode::Unavailable, "照片存储暂时不可用，请稍后重试"),
            _ => ApiError::new(ErrorCode::Internal, "服务器内部错误"),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = self.to_api();
        if !matches!(self, AppError::Api(_)) {
            // Context stays in the log; the client gets only the opaque code.
            tracing::error!(error = %self, "internal error");
        }
        let status =
            StatusCode::from_u16(body.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, axum::Json(body)).into_response();
        if matches!(self, AppError::Store(_)) {
            resp.extensions_mut().insert(DatabaseFault);
        }
        resp
    }
}
