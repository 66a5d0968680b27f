//! Qingliu's shared domain: the types, rules and protocol that the server, the field app and the
//! console must agree on. Nothing here performs I/O, so the crate builds for wasm32 and every rule
//! can be tested in isolation.

pub mod auth;
pub mod error;
pub mod geo;
pub mod ids;
pub mod inspection;
pub mod region;
pub mod review;
pub mod site;
pub mod sync;
pub mod thresholds;
pub mod uscc;
pub mod validate;

pub use error::{ApiError, ErrorCode, FieldError};
pub use ids::{DeviceId, InspectionId, MutationId, SiteId, UserId};
