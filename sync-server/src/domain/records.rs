//! Reading one inspection record with its version history, within the caller's scope.

use serde::Serialize;
use shared::InspectionId;
use shared::inspection::Inspection;
use shared::sync::InspectionRecord;

use crate::domain::{Actor, scope};
use crate::error::{AppError, AppResult};
use crate::store::Store;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecordDetail {
    pub record: InspectionRecord,
    /// Every submitted version, oldest first.
    pub versions: Vec<Inspection>,
    pub history: Vec<AuditView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditView {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: time::OffsetDateTime,
    pub user_id: Option<shared::UserId>,
    pub device_id: Option<shared::DeviceId>,
    pub action: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
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
    Ok(RecordDetail { record: row.to_record(current), versions, history })
}
