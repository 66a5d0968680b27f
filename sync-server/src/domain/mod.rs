//! Domain services: the server's rules, written once against the storage [`crate::store::Tx`]
//! trait. Handlers call these; backends never see them.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod blobs;
pub mod documents;
pub mod evidence;
pub mod evidence_reads;
pub mod export;
pub mod feed;
pub mod flag_stats;
pub mod integrity;
pub mod map;
pub mod progress;
pub mod pull;
pub mod push;
pub mod queue;
pub mod records;
pub mod review;
pub mod rollup;
pub mod scope;
pub mod service_accounts;
pub mod tracking;
pub mod webhooks;

pub use auth::Actor;
