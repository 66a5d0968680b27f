//! Domain services: the server's rules, written once against the storage [`crate::store::Tx`]
//! trait. Handlers call these; backends never see them.

pub mod auth;
pub mod blobs;
pub mod progress;
pub mod pull;
pub mod push;
pub mod records;
pub mod review;
pub mod rollup;
pub mod scope;

pub use auth::Actor;
