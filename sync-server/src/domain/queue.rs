//! The review queue and bulk review: submissions in the caller's region, newest first.

use serde::Deserialize;
use shared::ErrorCode;
use shared::auth::Role;
pub use shared::console::{BulkItem, BulkResult, BulkReview, QueueItem, QueuePage};
use shared::flags::FLAG_KINDS;
use shared::inspection::InspectionKind;
use shared::region::RegionCode;
use shared::review::ReviewStatus;
use shared::sync::ReviewRequest;
use time::OffsetDateTime;

use crate::domain::{Actor, review, scope};
use crate::error::{AppError, AppResult};
use crate::store::{FlagFilter, RecordQuery, Store};

pub const MAX_PAGE: u32 = 200;

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// submitted (default), approved, returned, rejected.
    #[serde(default)]
    #[param(value_type = Option<String>)]
    pub status: Option<ReviewStatus>,
    #[serde(default)]
    #[param(value_type = Option<String>)]
    pub kind: Option<InspectionKind>,
    /// A village (or township) inside the caller's region.
    #[serde(default)]
    #[param(value_type = Option<String>)]
    pub village: Option<RegionCode>,
    /// Received from / before (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    pub from: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    pub to: Option<OffsetDateTime>,
    /// Only records whose current version has flags: `any`, or one flag kind
    /// (`photo_reuse`, `impossible_travel`, …).
    #[serde(default)]
    pub flag: Option<String>,
    /// Page size, 1–200 (50 when omitted).
    #[serde(default)]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub offset: Option<u32>,
}

/// The caller's record query: their region, narrowed to a village or township inside it.
pub fn record_query(
    actor: &Actor,
    q: &QueueQuery,
    default_status: Option<ReviewStatus>,
) -> AppResult<RecordQuery> {
    if actor.user.role == Role::Inspector {
        return Err(AppError::api(ErrorCode::Forbidden, "检查员没有审核队列"));
    }
    let area = match q.village {
        Some(v) if scope::region_covers(actor, &v) => v,
        Some(_) => return Err(AppError::not_found()),
        None => actor.user.region,
    };
    let (lo, hi) = area.descendant_range();
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE {
        return Err(AppError::field(ErrorCode::OutOfRange, "limit", "limit 应在 1–200 之间"));
    }
    let flag = match q.flag.as_deref() {
        None | Some("") => None,
        Some("any") => Some(FlagFilter::Any),
        Some(k) if FLAG_KINDS.contains(&k) => Some(FlagFilter::Kind(k.to_string())),
        Some(_) => return Err(AppError::field(ErrorCode::InvalidValue, "flag", "未知的预警类型")),
    };
    Ok(RecordQuery {
        lo,
        hi,
        flag,
        status: q.status.or(default_status),
        kind: q.kind,
        from: q.from,
        to: q.to,
        limit,
        offset: q.offset.unwrap_or(0),
    })
}

pub fn queue(store: &dyn Store, actor: &Actor, q: &QueueQuery) -> AppResult<QueuePage> {
    let rq = record_query(actor, q, Some(ReviewStatus::Submitted))?;
    let mut tx = store.read()?;
    let (records, total) = tx.list_records(&rq)?;
    let mut items = Vec::with_capacity(records.len());
    for record in records {
        let site = tx.site(&record.inspection.site_id)?;
        let f = crate::domain::records::stored_flags(tx.as_mut(), &record.inspection, site.as_ref())?;
        items.push(QueueItem { site_name: site.map(|s| s.name).unwrap_or_default(), flags: f, record });
    }
    let cap = crate::store::count_cap(&rq);
    Ok(QueuePage { total: total.min(cap), total_capped: total > cap, items })
}

/// Review several records with one decision; each is its own transaction and its own result.
pub fn bulk(
    store: &dyn Store,
    actor: &Actor,
    req: &BulkReview,
    now: OffsetDateTime,
) -> AppResult<Vec<BulkResult>> {
    if req.items.is_empty() || req.items.len() > MAX_PAGE as usize {
        return Err(AppError::field(ErrorCode::OutOfRange, "items", "一次可审核 1–200 条"));
    }
    Ok(req
        .items
        .iter()
        .map(|it| {
            let r =
                ReviewRequest { version: it.version, decision: req.decision, comment: req.comment.clone() };
            match review::review(store, actor, &it.id, &r, now) {
                Ok(rec) => BulkResult { id: it.id, status: Some(rec.status), error: None },
                Err(e) => BulkResult { id: it.id, status: None, error: Some(e.to_api()) },
            }
        })
        .collect())
}
