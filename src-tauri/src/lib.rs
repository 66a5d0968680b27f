//! Qingliu field app. The core (local store, outbox, photo pipeline, sync client) is plain Rust
//! and builds without the webview; the Tauri shell (`--features app`) wraps it in thin commands.

pub mod core;
pub mod documents;
pub mod error;
pub mod photos;
pub mod position;
pub mod review;
pub mod settings;
#[cfg(feature = "app")]
pub mod shell;
pub mod signing;
pub mod store;
pub mod sync;

pub use crate::core::AppCore;
pub use crate::error::{CoreError, CoreResult};
