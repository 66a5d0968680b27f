//! The change feed for other systems: every record version received, review decision and site
//! change in the caller's region, in the order they committed, resumable from a cursor.
//! Rows are appended in the transaction that made the change, numbered with the change sequence
//! (handed out in commit order: see ARCHITECTURE.md), so a reader that resumes after the last
//! number it saw never misses one and never sees one twice.

use serde::Serialize;
use serde_json::value::RawValue;
use shared::ErrorCode;
use shared::auth::Role;
use shared::integration::{FEED_PAGE_DEFAULT, FEED_PAGE_MAX};

use crate::domain::Actor;
use crate::error::{AppError, AppResult};
use crate::store::Store;

/// Rows looked at per page beyond the cursor, whatever the region: a county's changes among a
/// province's are found in bounded time, and the cursor moves past the rest.
const SCAN: u32 = 50_000;

/// A page as it goes on the wire (`shared::integration::FeedPage`): the stored JSON is passed
/// through as it is, never parsed and written again.
#[derive(Serialize)]
pub struct RawPage {
    changes: Vec<RawChange>,
    cursor: u64,
    more: bool,
}

#[derive(Serialize)]
pub struct RawChange {
    seq: u64,
    kind: String,
    at: String,
    village: String,
    entity_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u32>,
    data: Box<RawValue>,
}

impl RawChange {
    pub fn kind(&self) -> &str {
        &self.kind
    }
}

impl RawPage {
    /// The changes and the cursor to resume after.
    pub fn into_parts(self) -> (Vec<RawChange>, u64) {
        (self.changes, self.cursor)
    }

    pub fn len(&self) -> usize {
        self.changes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

pub fn page(store: &dyn Store, actor: &Actor, after: u64, limit: Option<u32>) -> AppResult<RawPage> {
    if actor.user.role == Role::Inspector {
        return Err(AppError::api(ErrorCode::Forbidden, "变更订阅仅向查看角色和服务账号开放"));
    }
    let limit = match limit {
        None => FEED_PAGE_DEFAULT,
        Some(n) if (1..=FEED_PAGE_MAX).contains(&n) => n,
        Some(_) => return Err(AppError::field(ErrorCode::OutOfRange, "limit", "每页 1–5000 条")),
    };
    let (lo, hi) = actor.user.region.descendant_range();
    let (items, scanned, more) = store.read()?.feed_after(after, &lo, &hi, limit, SCAN)?;
    // A full page ends at its last change; otherwise every row looked at is behind the reader.
    let full = items.len() == limit as usize;
    let cursor = if full { items.last().map_or(after, |i| i.seq) } else { scanned };
    let more = more || cursor < scanned;
    let mut changes = Vec::with_capacity(items.len());
    for i in items {
        let data = i.data.unwrap_or_else(|| "null".into());
        let data = RawValue::from_string(data)
            .map_err(|e| AppError::Internal(format!("feed row {} holds invalid JSON: {e}", i.seq)))?;
        changes.push(RawChange {
            seq: i.seq,
            kind: i.kind,
            at: i.at,
            village: i.village,
            entity_id: i.entity_id,
            version: i.version,
            data,
        });
    }
    Ok(RawPage { changes, cursor, more })
}
