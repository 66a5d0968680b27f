//! Pull by scope with a cursor over the server's global change sequence. Sites and records share
//! that sequence, so one cursor orders both; an empty page still advances the cursor.

use shared::ErrorCode;
use shared::auth::Role;
use shared::sync::{
    Change, ProtocolVersion, PullPage, PullScope, decode_scoped_cursor, encode_scoped_cursor,
    scope_fingerprint,
};

use crate::domain::{Actor, scope};
use crate::error::{AppError, AppResult};
use crate::store::{RecordFilter, Store};

pub const DEFAULT_PAGE: u32 = 200;
pub const MAX_PAGE: u32 = 1000;

pub fn pull(
    store: &dyn Store,
    actor: &Actor,
    scope_kind: PullScope,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> AppResult<PullPage> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(AppError::field(ErrorCode::OutOfRange, "limit", "limit 应在 1–1000 之间"));
    }
    let records_filter = match (scope_kind, actor.user.role) {
        (PullScope::Inspector, Role::Inspector) => RecordFilter::SubmittedBy(actor.user.id),
        (PullScope::Review, Role::TownshipReviewer | Role::ProvinceAdmin) => {
            let (lo, hi) = actor.user.region.descendant_range();
            RecordFilter::VillageRange(lo, hi)
        }
        _ => {
            return Err(AppError::api(ErrorCode::Forbidden, "当前角色不能同步该范围"));
        }
    };
    let mut tx = store.read()?;
    let head = tx.current_change_seq()?;
    // What the caller may see now; a cursor issued for another scope (villages reassigned,
    // region moved) is refused so that the client re-fetches what came into scope earlier.
    let villages = if actor.user.role == Role::Inspector {
        tx.assigned_villages(&actor.user.id)?.iter().map(|v| v.to_string()).collect()
    } else {
        Vec::new()
    };
    let mut parts = vec![actor.user.role.as_str(), actor.user.region.as_str()];
    parts.extend(villages.iter().map(String::as_str));
    let fingerprint = scope_fingerprint(&parts);
    let after = match cursor {
        None | Some("") => 0,
        Some(c) => match decode_scoped_cursor(c) {
            // A `c1` cursor predates scope fingerprints: one re-fetch brings such a device in line.
            Some((n, Some(fp))) if n <= head && fp == fingerprint => n,
            _ => {
                return Err(AppError::Api(
                    shared::ApiError::new(ErrorCode::CursorInvalid, "同步游标无效，请从头重新同步该范围")
                        .with_detail(serde_json::json!({ "restart": true })),
                ));
            }
        },
    };
    let fetch = limit + 1;
    let records = tx.records_changed(&records_filter, after, fetch)?;
    let sites = tx.sites_changed(&scope::site_filter(actor), after, fetch)?;
    let mut merged: Vec<(u64, Change)> = records
        .into_iter()
        .map(|r| (r.server_seq, Change::Inspection { record: Box::new(r) }))
        .chain(sites.into_iter().map(|(seq, s)| (seq, Change::Site { site: Box::new(s) })))
        .collect();
    merged.sort_by_key(|(seq, _)| *seq);
    let has_more = merged.len() > limit as usize;
    merged.truncate(limit as usize);
    let next = if has_more { merged.last().map(|(s, _)| *s).unwrap_or(head) } else { head };
    Ok(PullPage {
        protocol: ProtocolVersion::CURRENT,
        scope: scope_kind,
        changes: merged.into_iter().map(|(_, c)| c).collect(),
        next_cursor: encode_scoped_cursor(next, fingerprint),
        has_more,
    })
}
