//! Reading one inspection record with its version history, within the caller's scope.

use shared::InspectionId;
pub use shared::console::{AuditView, RecordDetail};
use shared::flags::{Flag, FlagThresholds, flags};
use shared::inspection::Inspection;
use shared::site::Site;

use crate::domain::{Actor, scope};
use crate::error::{AppError, AppResult};
use crate::store::{Store, StoreResult, Tx};

/// The flags the server stored for this version at push, or for a version stored before the
/// server checked evidence, what it says about itself.
pub fn stored_flags(tx: &mut dyn Tx, i: &Inspection, site: Option<&Site>) -> StoreResult<Vec<Flag>> {
    Ok(match tx.flags_of(&i.id, i.version)? {
        Some(f) => f,
        None => flags(i, site.and_then(|s| s.position), &FlagThresholds::default()),
    })
}

pub fn record_detail(store: &dyn Store, actor: &Actor, id: &InspectionId) -> AppResult<RecordDetail> {
    let mut tx = store.read()?;
    let row = tx.record(id)?.filter(|r| scope::can_read_record(actor, r)).ok_or_else(AppError::not_found)?;
    let versions = tx.versions(id)?;
    let current = versions
        .iter()
        .find(|v| v.version == row.current_version)
        .cloned()
        .ok_or_else(|| AppError::Internal(format!("record {id} lacks its current version")))?;
    let history = tx
        .audit_for(&id.to_string())?
        .into_iter()
        .map(|a| AuditView {
            at: a.at,
            user_id: a.user_id,
            device_id: a.device_id,
            action: a.action,
            detail: a.detail,
        })
        .collect();
    let site = tx.site(&current.site_id)?;
    let flags = stored_flags(tx.as_mut(), &current, site.as_ref())?;
    Ok(RecordDetail { record: row.to_record(current), versions, history, site, flags })
}
