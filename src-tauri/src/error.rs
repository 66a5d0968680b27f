//! The app core's error: a stable `ErrorCode` and a message, serialisable across the IPC as the
//! same `{code, message, fields}` the server uses.

use shared::{ApiError, ErrorCode, FieldError};

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct CoreError(pub ApiError);

pub type CoreResult<T> = Result<T, CoreError>;

impl CoreError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CoreError(ApiError::new(code, message))
    }
    pub fn validation(fields: Vec<FieldError>) -> Self {
        CoreError(ApiError::validation(fields))
    }
    pub fn not_found(what: &str) -> Self {
        CoreError::new(ErrorCode::NotFound, format!("{what}不存在"))
    }
    pub fn internal(context: impl std::fmt::Display) -> Self {
        tracing::error!(%context, "internal error");
        CoreError::new(ErrorCode::Internal, format!("内部错误: {context}"))
    }
    pub fn code(&self) -> ErrorCode {
        self.0.code
    }
}

impl From<rusqlite::Error> for CoreError {
    fn from(e: rusqlite::Error) -> Self {
        CoreError::internal(format!("database: {e}"))
    }
}

impl From<serde_json::Error> for CoreError {
    fn from(e: serde_json::Error) -> Self {
        CoreError::internal(format!("stored data: {e}"))
    }
}

impl From<std::io::Error> for CoreError {
    fn from(e: std::io::Error) -> Self {
        CoreError::internal(format!("file: {e}"))
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        e.0
    }
}
