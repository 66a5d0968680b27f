//! The field app's view types, shared by the Tauri core and the Leptos UI (they cross the IPC).

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::ids::{InspectionId, SiteId};
use crate::inspection::InspectionKind;
use crate::sync::ReviewNote;

/// Where a record stands on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalState {
    /// Being written; only on the device.
    Draft,
    /// Saved and waiting in the outbox.
    Queued,
    /// Its photos are being uploaded.
    Uploading,
    /// The server holds it; awaiting review.
    Submitted,
    Approved,
    /// Returned for correction: editable, resubmitted as a new version.
    Returned,
    /// Rejected by the reviewer: read-only.
    Rejected,
    /// The server refused the data itself (validation, scope): fix and send again.
    Refused,
    /// Based on a stale version: shown with the server's side.
    Conflict,
}

impl LocalState {
    pub const ALL: [LocalState; 9] = [
        LocalState::Draft,
        LocalState::Queued,
        LocalState::Uploading,
        LocalState::Submitted,
        LocalState::Approved,
        LocalState::Returned,
        LocalState::Rejected,
        LocalState::Refused,
        LocalState::Conflict,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LocalState::Draft => "draft",
            LocalState::Queued => "queued",
            LocalState::Uploading => "uploading",
            LocalState::Submitted => "submitted",
            LocalState::Approved => "approved",
            LocalState::Returned => "returned",
            LocalState::Rejected => "rejected",
            LocalState::Refused => "refused",
            LocalState::Conflict => "conflict",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The inspector may change the content.
    pub fn is_editable(self) -> bool {
        matches!(self, LocalState::Draft | LocalState::Returned | LocalState::Refused)
    }

    /// Chinese label for the UI.
    pub fn label_zh(self) -> &'static str {
        match self {
            LocalState::Draft => "草稿",
            LocalState::Queued => "待上传",
            LocalState::Uploading => "上传中",
            LocalState::Submitted => "已提交",
            LocalState::Approved => "已通过",
            LocalState::Returned => "已退回",
            LocalState::Rejected => "不予通过",
            LocalState::Refused => "被服务器拒收",
            LocalState::Conflict => "版本冲突",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordSummary {
    pub id: InspectionId,
    pub site_id: SiteId,
    pub site_name: String,
    pub kind: InspectionKind,
    pub version: u32,
    pub state: LocalState,
    /// RFC 3339 UTC.
    pub updated_at: String,
    pub photos: u32,
    #[serde(default)]
    pub review: Option<ReviewNote>,
    #[serde(default)]
    pub last_error: Option<ApiError>,
}

/// Photo upload progress of the record being sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadProgress {
    pub record_id: InspectionId,
    /// 1-based index of the photo being sent.
    pub photo: u32,
    pub photos: u32,
    pub bytes_sent: u64,
    pub bytes_total: u64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SyncStatus {
    pub running: bool,
    /// RFC 3339 UTC of the last sync that reached the server.
    #[serde(default)]
    pub last_sync_at: Option<String>,
    pub pending: u32,
    #[serde(default)]
    pub uploading: Option<UploadProgress>,
    /// Review mode: details and photos being fetched for offline review.
    #[serde(default)]
    pub prefetch: Option<crate::offline_review::PrefetchProgress>,
    #[serde(default)]
    pub last_error: Option<ApiError>,
}

/// Counts by local state for the home screen.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StateCounts(pub Vec<(LocalState, u32)>);

/// Everything the home screen needs in one call.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AppStatus {
    #[serde(default)]
    pub user: Option<crate::auth::UserInfo>,
    #[serde(default)]
    pub server_url: Option<String>,
    pub device_id: String,
    pub counts: StateCounts,
    pub sync: SyncStatus,
    /// Free space where the app keeps its data, when the platform tells.
    #[serde(default)]
    pub storage: Option<StorageStatus>,
    /// Review mode: the local queue's counts.
    #[serde(default)]
    pub review: Option<crate::offline_review::QueueCounts>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageStatus {
    pub free_bytes: u64,
    /// Below this the app refuses new photos instead of failing halfway through a write.
    pub floor_bytes: u64,
}

/// Settings of this device, edited on the app's settings screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceSettings {
    #[serde(default)]
    pub position: crate::position::PositionSettings,
    /// New photos are refused while free storage is below this (MiB).
    #[serde(default = "default_floor_mib")]
    pub storage_floor_mib: u32,
}

fn default_floor_mib() -> u32 {
    200
}

impl Default for DeviceSettings {
    fn default() -> Self {
        DeviceSettings { position: Default::default(), storage_floor_mib: default_floor_mib() }
    }
}

impl DeviceSettings {
    pub fn validate(&self) -> Vec<crate::error::FieldError> {
        let mut e = crate::error::FieldError::nested("position", self.position.validate());
        if !(10..=10_000_000).contains(&self.storage_floor_mib) {
            e.push(crate::error::FieldError::new(
                "storage_floor_mib",
                crate::error::ErrorCode::OutOfRange,
                "应在 10 到 10000000 MiB 之间",
            ));
        }
        e
    }
}

impl StorageStatus {
    pub fn is_low(&self) -> bool {
        self.free_bytes < self.floor_bytes
    }
}

/// A record with its content, for the detail and edit screens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordDetail {
    pub summary: RecordSummary,
    pub inspection: crate::inspection::Inspection,
    #[serde(default)]
    pub site: Option<crate::site::Site>,
    /// Warnings about the position and photos (accuracy, distance, mock, photo time/place).
    #[serde(default)]
    pub flags: Vec<crate::flags::Flag>,
}

/// The answer to saving a draft: the saved summary and what still fails validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaveResult {
    pub summary: RecordSummary,
    pub errors: Vec<crate::error::FieldError>,
    #[serde(default)]
    pub flags: Vec<crate::flags::Flag>,
}

/// A document made on the device: where it is kept, its bytes (base64, for the preview and
/// sharing), and the characters of the record its font cannot print.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentFile {
    pub path: String,
    pub pdf_base64: String,
    #[serde(default)]
    pub uncovered: String,
}
