//! Review of submitted inspections by township reviewers. Approval applies the proposed site
//! status change and moves the rollup counters in the same transaction.

use shared::inspection::{Inspection, InspectionBody};
use shared::review::{self, ReviewDecision, ReviewError};
use shared::site::{Site, SiteDetails, SiteStatus, check_transition};
use shared::sync::{InspectionRecord, ReviewNote, ReviewRequest};
use shared::validate::limits;
use shared::{DeviceId, ErrorCode, InspectionId};
use time::OffsetDateTime;

use crate::domain::{Actor, rollup, scope};
use crate::error::{AppError, AppResult};
use crate::store::{AuditEntry, FeedKind, FeedRow, Store, Tx};

/// The site as approval of this inspection would leave it, or `None` if nothing changes.
fn site_after_approval(site: &Site, i: &Inspection) -> AppResult<Option<Site>> {
    let mut next = site.clone();
    let mut target = i.proposed_status;
    match (&i.body, &mut next.details) {
        // A facility's observed running state is its status.
        (InspectionBody::SewageFacility(b), SiteDetails::Facility(_)) if target.is_none() => {
            target = Some(b.running_state.as_site_status());
        }
        (InspectionBody::VillageRemediation(b), SiteDetails::Village(v)) => {
            if let Some(t) = b.sewage_treated {
                v.sewage_treated = t;
            }
        }
        _ => {}
    }
    if let Some(to) = target
        && site.status != Some(to)
    {
        let from = site
            .status
            .ok_or_else(|| AppError::api(ErrorCode::IllegalTransition, "该点位没有可变更的状态"))?;
        check_transition(site.kind(), from, to)
            .map_err(|e| AppError::field(ErrorCode::IllegalTransition, "proposed_status", &e.to_string()))?;
        next.status = Some(to);
    }
    Ok(if &next == site { None } else { Some(next) })
}

/// A console reviewer's decision, in its own transaction.
pub fn review(
    store: &dyn Store,
    actor: &Actor,
    id: &InspectionId,
    req: &ReviewRequest,
    now: OffsetDateTime,
) -> AppResult<InspectionRecord> {
    let mut tx = store.write()?;
    let record = decide(tx.as_mut(), actor, None, id, req, now)?;
    tx.commit()?;
    Ok(record)
}

/// Apply a decision inside `tx`: the one domain function behind the console's review, its bulk
/// review and a tablet's review mutation. Every refusal comes before the first write, so a
/// refused decision leaves the transaction as it found it (a push goes on with its batch).
/// `via` is the deciding tablet and its signature over the decision (kept in the audit entry,
/// which the hash chain covers).
pub(crate) fn decide(
    tx: &mut dyn Tx,
    actor: &Actor,
    via: Option<(&DeviceId, &str)>,
    id: &InspectionId,
    req: &ReviewRequest,
    now: OffsetDateTime,
) -> AppResult<InspectionRecord> {
    if req.comment.chars().count() > limits::LONG_TEXT {
        return Err(AppError::field(ErrorCode::TooLong, "comment", "意见不能超过 2000 个字符"));
    }
    let mut row =
        tx.record(id)?.filter(|r| scope::can_read_record(actor, r)).ok_or_else(AppError::not_found)?;
    if !scope::can_review(actor, &row) {
        return Err(AppError::api(ErrorCode::Forbidden, "无权审核该记录"));
    }
    if req.version != row.current_version {
        return Err(AppError::Api(
            shared::ApiError::new(ErrorCode::StaleVersion, "记录已有新版本，请刷新后再审核")
                .with_detail(serde_json::json!({ "current_version": row.current_version })),
        ));
    }
    let status = review::review(row.status, req.decision, &req.comment).map_err(|e| match e {
        ReviewError::CommentRequired => {
            AppError::field(ErrorCode::Required, "comment", "退回或不予通过必须填写意见")
        }
        other => AppError::api(ErrorCode::IllegalTransition, other.to_string()),
    })?;
    let inspection = tx
        .version(id, row.current_version)?
        .ok_or_else(|| AppError::Internal(format!("record {id} lacks its current version")))?;
    let mut site_change = None;
    if req.decision == ReviewDecision::Approve {
        let site = tx
            .site(&row.site_id)?
            .ok_or_else(|| AppError::Internal(format!("record {id} names a missing site")))?;
        if let Some(next) = site_after_approval(&site, &inspection)? {
            let mut next = next;
            let (was, is) = (
                site.status.is_some_and(SiteStatus::counts_as_done),
                next.status.is_some_and(SiteStatus::counts_as_done),
            );
            if !is {
                next.done_month = None;
            } else if !was {
                next.done_month = Some(crate::shanghai_month(now));
            }
            let seq = tx.next_change_seq()?;
            next.version = seq;
            rollup::apply_site_change(tx, Some(&site), Some(&next))?;
            tx.update_site(&next, seq)?;
            tx.append_feed(&FeedRow {
                seq,
                village: site.village,
                kind: FeedKind::Site,
                entity_id: site.id.to_string(),
                version: None,
                at: now,
                data: Some(
                    serde_json::json!({
                        "site_id": site.id, "from": site.status, "to": next.status, "record_id": id, "site": next,
                    })
                    .to_string(),
                ),
            })?;
            site_change = Some((site.status, next.status));
        }
    }
    let seq = tx.next_change_seq()?;
    row.status = status;
    row.change_seq = seq;
    row.review = Some(ReviewNote {
        decision: req.decision,
        comment: req.comment.trim().to_string(),
        reviewer: actor.user.id,
        reviewer_name: actor.user.display_name.clone(),
        version: row.current_version,
        at: now,
    });
    tx.update_record(&row)?;
    tx.append_feed(&FeedRow {
        seq,
        village: row.village,
        kind: FeedKind::Review,
        entity_id: id.to_string(),
        version: Some(row.current_version),
        at: now,
        data: Some(
            serde_json::json!({ "record_id": id, "status": row.status, "review": row.review }).to_string(),
        ),
    })?;
    tx.append_audit(&AuditEntry {
        at: now,
        user_id: Some(actor.user.id),
        device_id: via.map(|(d, _)| *d),
        action: req.decision.as_str().into(),
        entity: "inspection".into(),
        entity_id: id.to_string(),
        detail: {
            let mut d = serde_json::json!({
                "version": row.current_version,
                "comment": req.comment.trim(),
                "site_status": site_change.map(|(a, b)| serde_json::json!({ "from": a, "to": b })),
            });
            if let Some((_, signature)) = via {
                d["signature"] = serde_json::Value::String(signature.to_string());
            }
            d
        },
    })?;
    if let Some((from, to)) = site_change {
        tx.append_audit(&AuditEntry {
            at: now,
            user_id: Some(actor.user.id),
            device_id: via.map(|(d, _)| *d),
            action: "site_status".into(),
            entity: "site".into(),
            entity_id: row.site_id.to_string(),
            detail: serde_json::json!({ "from": from, "to": to, "inspection": id }),
        })?;
    }
    Ok(row.to_record(inspection))
}
