//! Qingliu's shared domain: the types, rules and protocol that the server, the field app and the
//! console must agree on. Nothing here performs I/O, so the crate builds for wasm32 and every rule
//! can be tested in isolation.

/// Implement the OpenAPI schema of a type that travels as a plain string.
#[macro_export]
#[doc(hidden)]
macro_rules! string_schema {
    (@impl $t:ty, $desc:expr, $pattern:expr) => {
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $t {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some($desc))
                    .pattern($pattern)
                    .into()
            }
        }
        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $t {}
    };
    ($t:ty, $desc:expr, pattern = $pattern:expr) => {
        $crate::string_schema!(@impl $t, $desc, Some($pattern));
    };
    ($t:ty, $desc:expr) => {
        $crate::string_schema!(@impl $t, $desc, None::<&str>);
    };
}

pub mod app;
pub mod auth;
pub mod clock;
pub mod console;
pub mod diff;
pub mod documents;
pub mod error;
pub mod flags;
pub mod geo;
pub mod ids;
pub mod inspection;
pub mod integration;
pub mod labels;
pub mod map;
pub mod offline_review;
pub mod position;
pub mod region;
pub mod review;
pub mod signing;
pub mod site;
pub mod sync;
pub mod target;
pub mod thresholds;
pub mod uscc;
pub mod validate;

pub use error::{ApiError, ErrorCode, FieldError};
pub use ids::{DeviceId, InspectionId, MutationId, SiteId, UserId};
