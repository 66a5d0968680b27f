//! Stable machine error codes and the `{code, message, fields}` body shared by the HTTP API, the
//! Tauri IPC and the UI. Codes are part of the protocol: never rename one, only add.

use serde::{Deserialize, Serialize};

/// A stable, machine-readable error code. Serialised in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    // Request shape.
    MalformedJson,
    InvalidBody,
    UnsupportedMediaType,
    BodyTooLarge,
    InvalidQuery,
    InvalidPath,
    UnsupportedProtocol,
    // Field validation (used inside `fields`).
    Required,
    TooLong,
    TooShort,
    OutOfRange,
    InvalidFormat,
    InvalidChecksum,
    InvalidValue,
    Inconsistent,
    TooMany,
    TooFew,
    // Whole-record validation.
    ValidationFailed,
    // Auth.
    Unauthenticated,
    InvalidCredentials,
    TokenExpired,
    Forbidden,
    RateLimited,
    DeviceNotRegistered,
    DeviceOwnedByOtherUser,
    // Lookup and state.
    NotFound,
    Conflict,
    IllegalTransition,
    StaleVersion,
    // Sync.
    SequenceGap,
    SequenceReused,
    MissingBlobs,
    CursorInvalid,
    /// A record version's device signature is missing or does not verify.
    SignatureInvalid,
    /// A handwritten signature covers content that has changed since it was made.
    SignatureStale,
    /// A document number the server did not give this device, or that another record holds.
    DocumentNumberInvalid,
    // Blobs.
    OffsetMismatch,
    HashMismatch,
    BlobTooLarge,
    SizeMismatch,
    // Server.
    Internal,
    Unavailable,
    SchemaTooNew,
    // Device.
    /// Free storage on the device is below the configured floor: nothing is written.
    StorageLow,
}

impl ErrorCode {
    /// The snake_case wire name of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::InvalidPath => "invalid_path",
            ErrorCode::UnsupportedProtocol => "unsupported_protocol",
            ErrorCode::Required => "required",
            ErrorCode::TooLong => "too_long",
            ErrorCode::TooShort => "too_short",
            ErrorCode::OutOfRange => "out_of_range",
            ErrorCode::InvalidFormat => "invalid_format",
            ErrorCode::InvalidChecksum => "invalid_checksum",
            ErrorCode::InvalidValue => "invalid_value",
            ErrorCode::Inconsistent => "inconsistent",
            ErrorCode::TooMany => "too_many",
            ErrorCode::TooFew => "too_few",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::DeviceNotRegistered => "device_not_registered",
            ErrorCode::DeviceOwnedByOtherUser => "device_owned_by_other_user",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::IllegalTransition => "illegal_transition",
            ErrorCode::StaleVersion => "stale_version",
            ErrorCode::SequenceGap => "sequence_gap",
            ErrorCode::SequenceReused => "sequence_reused",
            ErrorCode::MissingBlobs => "missing_blobs",
            ErrorCode::CursorInvalid => "cursor_invalid",
            ErrorCode::SignatureInvalid => "signature_invalid",
            ErrorCode::SignatureStale => "signature_stale",
            ErrorCode::DocumentNumberInvalid => "document_number_invalid",
            ErrorCode::OffsetMismatch => "offset_mismatch",
            ErrorCode::HashMismatch => "hash_mismatch",
            ErrorCode::BlobTooLarge => "blob_too_large",
            ErrorCode::SizeMismatch => "size_mismatch",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::SchemaTooNew => "schema_too_new",
            ErrorCode::StorageLow => "storage_low",
        }
    }

    /// The HTTP status the server answers with when this code is the top-level error.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            MalformedJson | InvalidBody | InvalidQuery | InvalidPath | UnsupportedProtocol
            | CursorInvalid => 400,
            Unauthenticated | InvalidCredentials | TokenExpired => 401,
            Forbidden | DeviceNotRegistered | DeviceOwnedByOtherUser => 403,
            NotFound => 404,
            Conflict | IllegalTransition | StaleVersion | SequenceGap | SequenceReused | OffsetMismatch => {
                409
            }
            BodyTooLarge | BlobTooLarge => 413,
            UnsupportedMediaType => 415,
            Required
            | TooLong
            | TooShort
            | OutOfRange
            | InvalidFormat
            | InvalidChecksum
            | InvalidValue
            | Inconsistent
            | TooMany
            | TooFew
            | ValidationFailed
            | MissingBlobs
            | HashMismatch
            | SizeMismatch
            | SignatureInvalid
            | SignatureStale
            | DocumentNumberInvalid => 422,
            RateLimited => 429,
            Internal | SchemaTooNew => 500,
            Unavailable => 503,
            StorageLow => 507,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One invalid field: a dotted path into the request (`body.inspectors[1].credential_no`), the
/// code, and a human message (Chinese first; the UI may localise from `code`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub code: ErrorCode,
    pub message: String,
}

impl FieldError {
    /// Errors of a part, with the part's path in front (`capture` + `timeout_seconds`).
    pub fn nested(prefix: &str, errors: Vec<FieldError>) -> Vec<FieldError> {
        errors
            .into_iter()
            .map(|mut f| {
                f.field = format!("{prefix}.{}", f.field);
                f
            })
            .collect()
    }

    pub fn new(field: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), code, message: message.into() }
    }
}

/// The error body every API and IPC error carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// Extra machine-readable detail for codes that need it (e.g. the current offset on
    /// `offset_mismatch`, the missing hashes on `missing_blobs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub detail: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), fields: Vec::new(), detail: None }
    }

    pub fn with_fields(mut self, fields: Vec<FieldError>) -> Self {
        self.fields = fields;
        self
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }

    /// A validation failure carrying every field error at once.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        ApiError::new(ErrorCode::ValidationFailed, "提交的数据未通过校验").with_fields(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_matches_serde_name() {
        for code in [
            ErrorCode::MalformedJson,
            ErrorCode::ValidationFailed,
            ErrorCode::SequenceGap,
            ErrorCode::OffsetMismatch,
            ErrorCode::DeviceOwnedByOtherUser,
            ErrorCode::SchemaTooNew,
            ErrorCode::StorageLow,
        ] {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json.as_str().unwrap(), code.as_str());
        }
    }

    #[test]
    fn error_body_round_trips_without_empty_fields() {
        let e = ApiError::new(ErrorCode::NotFound, "x");
        let s = serde_json::to_string(&e).unwrap();
        assert_eq!(s, r#"{"code":"not_found","message":"x"}"#);
        let back: ApiError = serde_json::from_str(&s).unwrap();
        assert_eq!(back, e);
    }
}
