//! Blob upload and download rules on top of a [`BlobStore`]: who may upload, who may read, and
//! keeping the database's list of present blobs in step with the bytes.

use std::io::Read;

use shared::ErrorCode;
use shared::auth::Role;
use shared::sync::BlobStatus;
use time::OffsetDateTime;

use crate::blobs::{BlobHash, BlobReader, BlobStore};
use crate::domain::{Actor, scope};
use crate::error::{AppError, AppResult};
use crate::fingerprint;
use crate::store::Store;

fn require_uploader(actor: &Actor) -> AppResult<()> {
    if actor.user.role == Role::Inspector {
        Ok(())
    } else {
        Err(AppError::api(ErrorCode::Forbidden, "只有检查员可以上传照片"))
    }
}

/// The perceptual fingerprint of a stored blob (`None` when it is not a decodable JPEG).
pub fn fingerprint_of(blobs: &dyn BlobStore, hash: &BlobHash) -> AppResult<Option<u64>> {
    let Some((mut file, size)) = blobs.open(hash)? else { return Ok(None) };
    let mut bytes = Vec::with_capacity(size as usize);
    file.read_to_end(&mut bytes)?;
    Ok(fingerprint::fingerprint(&bytes))
}

/// Record a complete blob in the database with its fingerprint. Idempotent: also heals a crash
/// between publishing the bytes and recording them.
fn ensure_recorded(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    uploader: shared::UserId,
    status: &BlobStatus,
    now: OffsetDateTime,
) -> AppResult<()> {
    if status.complete && store.read()?.blob_size(&status.sha256)?.is_none() {
        // Decoding runs before the write transaction, outside the single writer.
        let fp = fingerprint_of(blobs, &BlobHash::parse(&status.sha256)?)?;
        let mut tx = store.write()?;
        if tx.blob_size(&status.sha256)?.is_none() {
            tx.insert_blob(&status.sha256, status.size, now)?;
            tx.insert_fingerprint(&status.sha256, fp)?;
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
    ensure_recorded(store, blobs, actor.user.id, &status, now)?;
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
    ensure_recorded(store, blobs, actor.user.id, &status, now)?;
    Ok(status)
}

/// Open a blob for a caller whose scope covers a record that names it, or a record whose flags
/// cite it as evidence (a reviewer sees the other record's photo beside a reused one, even when
/// that record lies outside their region).
pub fn open_for_read(
    store: &dyn Store,
    blobs: &dyn BlobStore,
    actor: &Actor,
    hash: &BlobHash,
) -> AppResult<(BlobReader, u64)> {
    let mut tx = store.read()?;
    let named = tx.records_naming_blob(hash.as_str())?;
    let allowed = named.iter().any(|r| scope::can_read_record(actor, r))
        || (actor.user.role != Role::Inspector
            && tx.records_citing_blob(hash.as_str())?.iter().any(|r| scope::can_read_record(actor, r)));
    if !allowed {
        return Err(AppError::not_found());
    }
    blobs.open(hash)?.ok_or_else(AppError::not_found)
}

/// Fingerprints every stored blob that has none yet (blobs stored before fingerprints
/// existed); returns how many were looked at.
pub fn backfill_fingerprints(store: &dyn Store, blobs: &dyn BlobStore) -> AppResult<usize> {
    let mut after = String::new();
    let mut done = 0;
    loop {
        let page = store.read()?.blobs_without_fingerprint(&after, 200)?;
        let Some(last) = page.last().cloned() else { return Ok(done) };
        let mut found = Vec::with_capacity(page.len());
        for sha in &page {
            found.push((sha.clone(), fingerprint_of(blobs, &BlobHash::parse(sha)?)?));
        }
        let mut tx = store.write()?;
        for (sha, fp) in &found {
            tx.insert_fingerprint(sha, *fp)?;
        }
        tx.commit()?;
        done += page.len();
        after = last;
    }
}
