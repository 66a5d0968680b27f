//! The device's own settings (position source and capture, the storage floor), kept in the
//! local store, and the free-storage check that guards every photo write.

use std::path::Path;

use shared::ErrorCode;
use shared::app::{DeviceSettings, StorageStatus};

use crate::core::AppCore;
use crate::error::{CoreError, CoreResult};

const SETTINGS_KEY: &str = "device_settings";

/// Free bytes for an unprivileged writer on the file system holding `path`.
pub fn free_bytes(path: &Path) -> Option<u64> {
    let s = rustix::fs::statvfs(path).ok()?;
    Some(s.f_bavail.saturating_mul(s.f_frsize))
}

impl AppCore {
    pub fn settings(&self) -> CoreResult<DeviceSettings> {
        Ok(self.meta(SETTINGS_KEY)?.map(|s| serde_json::from_str(&s)).transpose()?.unwrap_or_default())
    }

    pub fn set_settings(&self, s: &DeviceSettings) -> CoreResult<DeviceSettings> {
        let errors = s.validate();
        if !errors.is_empty() {
            return Err(CoreError::validation(errors));
        }
        self.set_meta(SETTINGS_KEY, &serde_json::to_string(s)?)?;
        Ok(s.clone())
    }

    pub fn storage(&self) -> CoreResult<Option<StorageStatus>> {
        let floor_bytes = u64::from(self.settings()?.storage_floor_mib) * 1024 * 1024;
        Ok(free_bytes(&self.photo_dir).map(|free_bytes| StorageStatus { free_bytes, floor_bytes }))
    }

    /// Refuses a write of about `bytes` that would leave less than the floor, before anything
    /// is written: a photo is either kept whole or not started.
    pub fn ensure_storage(&self, bytes: u64) -> CoreResult<()> {
        if let Some(s) = self.storage()?
            && s.free_bytes.saturating_sub(bytes) < s.floor_bytes
        {
            return Err(CoreError::new(
                ErrorCode::StorageLow,
                format!(
                    "存储空间不足：剩余 {} MiB，低于下限 {} MiB。请先同步并清理已通过的记录。",
                    s.free_bytes / (1024 * 1024),
                    s.floor_bytes / (1024 * 1024)
                ),
            ));
        }
        Ok(())
    }
}
