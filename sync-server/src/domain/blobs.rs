//! Blob upload and download rules on top of a [`BlobStore`]: who may upload, who may read, and
//! keeping the database's list of present blobs in step with the bytes.

use std::fs::File;

use shared::ErrorCode;
use shared::auth::Role;
use shared::sync::BlobStatus;
use time::OffsetDateTime;

use crate::blobs::{BlobHash, BlobStore};
use crate::domain::{Actor, scope};
use crate::error::{AppError, AppResult};
use crate::store::Store;

fn require_uploader(actor: &Actor) -> AppResult<()> {
    if actor.user.role == Role::Inspector {
        Ok(())
    } else {
        Err(AppError::api(ErrorCode::Forbidden, "只有检查员可以上传照片"))
    }
}

/// Record a complete blob in the database. Idempotent: also heals a crash between publishing
/// the bytes and recording them.
fn ensure_recorded(
    store: &dyn Store,
    uploader: shared::UserId,
    status: &BlobStatus,
    now: OffsetDateTime,
) -> AppResult<()> {
    if status.complete {
        let mut tx = store.write()?;
        if tx.blob_size(&status.sha256)?.is_none() {
            tx.insert_blob(&status.sha256, status.size, now)?;
            tx.append_audit(&crate::store::AuditEntry {
                at: now,
                user_id: Some(uploader),
                device_id: None,
                action: "blob_stored".into(),
                entity: "blob".into(),
                entity_id: status.sha256.clone(),
                detail: serde_json::json!({ "size": status.size }),
            })?;
            tx.commit()?;
        }
    }
    Ok(())
}

pub fn start(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    actor: &Actor,
    hash: &BlobHash,
    size: u64,
    now: OffsetDateTime,
) -> AppResult<BlobStatus> {
    require_uploader(actor)?;
    let status = blobs.start(hash, &actor.user.id, size)?;
    if status.complete && status.size != size {
        return Err(AppError::Api(
            shared::ApiError::new(ErrorCode::SizeMismatch, "服务器已有该内容，但大小不同")
                .with_detail(serde_json::json!({ "size": status.size })),
        ));
    }
    ensure_recorded(store, actor.user.id, &status, now)?;
    Ok(status)
}

pub fn append(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    actor: &Actor,
    hash: &BlobHash,
    offset: u64,
    bytes: &[u8],
    now: OffsetDateTime,
) -> AppResult<BlobStatus> {
    require_uploader(actor)?;
    let status = blobs.append(hash, &actor.user.id, offset, bytes)?;
    ensure_recorded(store, actor.user.id, &status, now)?;
    Ok(status)
}

/// Open a blob for a caller whose scope covers a record that names it.
pub fn open_for_read(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    actor: &Actor,
    hash: &BlobHash,
) -> AppResult<(File, u64)> {
    let records = store.read()?.records_naming_blob(hash.as_str())?;
    if !records.iter().any(|r| scope::can_read_record(actor, r)) {
        return Err(AppError::not_found());
    }
    blobs.open(hash)?.ok_or_else(AppError::not_found)
}
