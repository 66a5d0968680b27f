//! Content-addressed photo storage with resumable uploads.
//!
//! Paths are built only from a validated lower-case hex SHA-256 and the uploader's user id,
//! never from raw user input. An upload in progress belongs to one uploader, so nobody can
//! disturb another's: `uploads/<hash>.<user>.part` (bytes so far, fsynced after every chunk)
//! and `uploads/<hash>.<user>.size` (the declared total); the offset is the part file's length.
//! On the last chunk the part is hashed; a match is renamed into `blobs/<h0h1>/<hash>`, a
//! mismatch discarded. Unfinished uploads are bounded per user and collected when stale.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use shared::UserId;
use shared::sync::{BlobStatus, is_sha256_hex};
use shared::{ApiError, ErrorCode};

use crate::error::{AppError, AppResult};

/// A validated blob hash: with a user id, the only thing blob paths are built from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobHash(String);

impl BlobHash {
    pub fn parse(s: &str) -> AppResult<Self> {
        if is_sha256_hex(s) {
            Ok(BlobHash(s.to_string()))
        } else {
            Err(AppError::field(ErrorCode::InvalidPath, "sha256", "应为 64 位小写十六进制 SHA-256"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stored blob's bytes: a file of the filesystem store (streamed), or the bytes an object
/// store answered with (bounded by the largest accepted photo).
pub enum BlobReader {
    File(File),
    Bytes(std::io::Cursor<Vec<u8>>),
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            BlobReader::File(f) => f.read(buf),
            BlobReader::Bytes(c) => c.read(buf),
        }
    }
}

/// A declared upload size every store accepts: not empty, not above the largest photo.
pub(crate) fn check_size(size: u64, max: u64) -> AppResult<()> {
    if size == 0 {
        return Err(AppError::field(ErrorCode::OutOfRange, "size", "大小必须大于 0"));
    }
    if size > max {
        return Err(AppError::Api(
            ApiError::new(ErrorCode::BlobTooLarge, "文件过大")
                .with_detail(serde_json::json!({ "max_bytes": max })),
        ));
    }
    Ok(())
}

/// A chunk of `len` bytes sent for `offset` of an upload at `current` of `size`: it must
/// continue exactly where the upload stands and stay within the declared size.
pub(crate) fn check_chunk(offset: u64, current: u64, len: usize, size: u64) -> AppResult<()> {
    if offset != current {
        return Err(AppError::Api(
            ApiError::new(ErrorCode::OffsetMismatch, "偏移量与服务器不一致")
                .with_detail(serde_json::json!({ "offset": current, "size": size })),
        ));
    }
    if current + len as u64 > size {
        return Err(AppError::Api(
            ApiError::new(ErrorCode::SizeMismatch, "数据超出声明的大小")
                .with_detail(serde_json::json!({ "offset": current, "size": size })),
        ));
    }
    Ok(())
}

/// Most unfinished uploads one user may hold at once.
pub const MAX_PENDING_PER_USER: usize = 64;

/// Where blob bytes live. The filesystem implementation is the embedded default; an
/// S3-compatible one implements the same operations.
pub trait BlobStore: Send + Sync + 'static {
    /// Start (or look up) `uploader`'s upload of `size` bytes.
    fn start(&self, hash: &BlobHash, uploader: &UserId, size: u64) -> AppResult<BlobStatus>;
    /// Append `bytes` at `offset`; on the last byte verify the hash and publish the blob.
    fn append(&self, hash: &BlobHash, uploader: &UserId, offset: u64, bytes: &[u8]) -> AppResult<BlobStatus>;
    fn exists(&self, hash: &BlobHash) -> AppResult<Option<u64>>;
    fn open(&self, hash: &BlobHash) -> AppResult<Option<(BlobReader, u64)>>;
    /// Unfinished uploads, as `<hash>.<user>`.
    fn pending_uploads(&self) -> AppResult<Vec<String>>;
    /// Remove unfinished uploads untouched for longer than `age`; answers how many.
    fn collect_stale(&self, age: Duration) -> AppResult<usize>;
    /// Every stored blob, by the hash it is stored under, in order (for `sync-server verify`).
    fn stored_hashes(&self) -> AppResult<Vec<BlobHash>>;
    /// Whether the store answers at all (for `/readyz`): a cheap read that touches the storage.
    fn check(&self) -> AppResult<()>;
}

pub struct FsBlobStore {
    root: PathBuf,
    max_size: u64,
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

struct Upload<'a> {
    hash: &'a BlobHash,
    stem: String,
}

impl FsBlobStore {
    pub fn open(root: &Path, max_size: u64) -> AppResult<Self> {
        fs::create_dir_all(root.join("blobs"))?;
        fs::create_dir_all(root.join("uploads"))?;
        Ok(FsBlobStore { root: root.to_path_buf(), max_size, locks: Mutex::new(HashMap::new()) })
    }

    fn upload<'a>(&self, hash: &'a BlobHash, uploader: &UserId) -> Upload<'a> {
        Upload { hash, stem: format!("{}.{}", hash.0, uploader) }
    }

    fn blob_path(&self, h: &BlobHash) -> PathBuf {
        self.root.join("blobs").join(&h.0[..2]).join(&h.0)
    }
    fn part_path(&self, u: &Upload<'_>) -> PathBuf {
        self.root.join("uploads").join(format!("{}.part", u.stem))
    }
    fn size_path(&self, u: &Upload<'_>) -> PathBuf {
        self.root.join("uploads").join(format!("{}.size", u.stem))
    }

    fn lock(&self, h: &BlobHash) -> Arc<Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, l| Arc::strong_count(l) > 1);
        }
        map.entry(h.0.clone()).or_default().clone()
    }

    fn declared_size(&self, u: &Upload<'_>) -> AppResult<Option<u64>> {
        match fs::read_to_string(self.size_path(u)) {
            Ok(s) => Ok(s.trim().parse().ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn part_len(&self, u: &Upload<'_>) -> AppResult<u64> {
        match fs::metadata(self.part_path(u)) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    fn discard(&self, u: &Upload<'_>) {
        let _ = fs::remove_file(self.part_path(u));
        let _ = fs::remove_file(self.size_path(u));
    }

    fn pending_of(&self, uploader: &UserId) -> AppResult<usize> {
        let suffix = format!(".{uploader}.size");
        let mut n = 0;
        for e in fs::read_dir(self.root.join("uploads"))? {
            if e?.file_name().to_string_lossy().ends_with(&suffix) {
                n += 1;
            }
        }
        Ok(n)
    }

    fn finish(&self, u: &Upload<'_>, size: u64) -> AppResult<BlobStatus> {
        let mut f = File::open(self.part_path(u))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let got = hex::encode(hasher.finalize());
        if got != u.hash.0 {
            self.discard(u);
            return Err(AppError::Api(
                ApiError::new(ErrorCode::HashMismatch, "上传内容的 SHA-256 与声明不符，已丢弃，请重新上传")
                    .with_detail(serde_json::json!({ "actual": got })),
            ));
        }
        let dest = self.blob_path(u.hash);
        let dir = dest.parent().ok_or_else(|| AppError::Internal("blob path has no parent".into()))?;
        fs::create_dir_all(dir)?;
        fs::rename(self.part_path(u), &dest)?;
        File::open(dir)?.sync_all()?;
        let _ = fs::remove_file(self.size_path(u));
        Ok(complete(u.hash, size))
    }
}

fn complete(h: &BlobHash, size: u64) -> BlobStatus {
    BlobStatus { sha256: h.0.clone(), size, offset: size, complete: true }
}

impl BlobStore for FsBlobStore {
    fn start(&self, h: &BlobHash, uploader: &UserId, size: u64) -> AppResult<BlobStatus> {
        check_size(size, self.max_size)?;
        let lock = self.lock(h);
        let _g = lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = self.exists(h)? {
            // What this uploader left of it (another uploader finished it first, or the server
            // stopped between publishing and clearing) is no longer pending.
            self.discard(&self.upload(h, uploader));
            return Ok(complete(h, existing));
        }
        let u = self.upload(h, uploader);
        match self.declared_size(&u)? {
            Some(s) if s == size => {}
            declared => {
                if declared.is_none() && self.pending_of(uploader)? >= MAX_PENDING_PER_USER {
                    return Err(AppError::api(
                        ErrorCode::RateLimited,
                        "未完成的上传过多，请先完成或等待清理",
                    ));
                }
                // A new upload, or this uploader restarting with another size: begin at zero.
                self.discard(&u);
                let mut f = File::create(self.size_path(&u))?;
                f.write_all(size.to_string().as_bytes())?;
                f.sync_all()?;
            }
        }
        let offset = self.part_len(&u)?.min(size);
        if offset == size {
            // Every byte arrived but the server stopped before publishing: finish now, or the
            // upload would wait forever for bytes that will never come.
            return self.finish(&u, size);
        }
        Ok(BlobStatus { sha256: h.0.clone(), size, offset, complete: false })
    }

    fn append(&self, h: &BlobHash, uploader: &UserId, offset: u64, bytes: &[u8]) -> AppResult<BlobStatus> {
        let lock = self.lock(h);
        let _g = lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = self.exists(h)? {
            return Ok(complete(h, existing));
        }
        let u = self.upload(h, uploader);
        let size = self
            .declared_size(&u)?
            .ok_or_else(|| AppError::api(ErrorCode::NotFound, "没有进行中的上传，请先开始上传"))?;
        let current = self.part_len(&u)?;
        check_chunk(offset, current, bytes.len(), size)?;
        if current == size {
            // As at `start`: complete but never published.
            return self.finish(&u, size);
        }
        if bytes.is_empty() {
            return Ok(BlobStatus { sha256: h.0.clone(), size, offset: current, complete: false });
        }
        let mut f = OpenOptions::new().create(true).append(true).open(self.part_path(&u))?;
        f.write_all(bytes)?;
        f.sync_data()?;
        let offset = current + bytes.len() as u64;
        if offset == size {
            return self.finish(&u, size);
        }
        Ok(BlobStatus { sha256: h.0.clone(), size, offset, complete: false })
    }

    fn exists(&self, h: &BlobHash) -> AppResult<Option<u64>> {
        match fs::metadata(self.blob_path(h)) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn open(&self, h: &BlobHash) -> AppResult<Option<(BlobReader, u64)>> {
        match File::open(self.blob_path(h)) {
            Ok(f) => {
                let len = f.metadata()?.len();
                Ok(Some((BlobReader::File(f), len)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn pending_uploads(&self) -> AppResult<Vec<String>> {
        let mut out = Vec::new();
        for e in fs::read_dir(self.root.join("uploads"))? {
            let name = e?.file_name().to_string_lossy().to_string();
            if let Some(stem) = name.strip_suffix(".size") {
                out.push(stem.to_string());
            }
        }
        out.sort();
        Ok(out)
    }

    fn collect_stale(&self, age: Duration) -> AppResult<usize> {
        let now = SystemTime::now();
        let mut removed = 0;
        for e in fs::read_dir(self.root.join("uploads"))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().to_string();
            let Some(stem) = name.strip_suffix(".size") else { continue };
            let part = self.root.join("uploads").join(format!("{stem}.part"));
            let touched = fs::metadata(&part).or_else(|_| e.metadata()).and_then(|m| m.modified())?;
            if now.duration_since(touched).unwrap_or_default() > age {
                let _ = fs::remove_file(&part);
                let _ = fs::remove_file(e.path());
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn check(&self) -> AppResult<()> {
        // Both directories must be there and readable: uploads write to one, photos are read
        // from the other.
        fs::read_dir(self.root.join("blobs"))?;
        fs::read_dir(self.root.join("uploads"))?;
        Ok(())
    }

    fn stored_hashes(&self) -> AppResult<Vec<BlobHash>> {
        let mut out = Vec::new();
        for shard in fs::read_dir(self.root.join("blobs"))? {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for e in fs::read_dir(shard.path())? {
                // Anything that is not named like a blob is not a blob: reported by its absence.
                if let Ok(h) = BlobHash::parse(&e?.file_name().to_string_lossy()) {
                    out.push(h);
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_per_uploader_and_bounded() {
        let dir = tempfile_dir();
        let store = FsBlobStore::open(&dir, 1 << 20).unwrap();
        let data = b"hello blob".to_vec();
        let h = BlobHash::parse(&hex::encode(Sha256::digest(&data))).unwrap();
        let (a, b) = (UserId::new(), UserId::new());
        store.start(&h, &a, data.len() as u64).unwrap();
        store.append(&h, &a, 0, &data[..4]).unwrap();
        // B starting with a lying size does not disturb A's progress.
        store.start(&h, &b, 3).unwrap();
        assert_eq!(store.start(&h, &a, data.len() as u64).unwrap().offset, 4);
        let st = store.append(&h, &a, 4, &data[4..]).unwrap();
        assert!(st.complete);
        assert_eq!(store.pending_uploads().unwrap(), vec![format!("{}.{}", h.as_str(), b)]);
        assert_eq!(store.collect_stale(Duration::from_secs(3600)).unwrap(), 0);
        assert_eq!(store.collect_stale(Duration::ZERO).unwrap(), 1);
        assert!(store.pending_uploads().unwrap().is_empty());
        for n in 0..MAX_PENDING_PER_USER {
            let h = BlobHash::parse(&format!("{n:064x}")).unwrap();
            store.start(&h, &a, 10).unwrap();
        }
        let over = BlobHash::parse(&"f".repeat(64)).unwrap();
        let err = store.start(&over, &a, 10).unwrap_err();
        assert_eq!(err.to_api().code, ErrorCode::RateLimited);
        store.start(&over, &b, 10).unwrap();
        let _ = fs::remove_dir_all(dir);
    }

    /// A server stopped after the last byte was on disk but before the blob was published:
    /// the next start (or an empty append) finishes it; before, it answered "incomplete, at
    /// the end" forever and the tablet re-sent nothing in a loop.
    #[test]
    fn an_upload_whole_but_unpublished_is_finished_when_touched() {
        let dir = tempfile_dir();
        let store = FsBlobStore::open(&dir, 1 << 20).unwrap();
        let data = b"every byte arrived".to_vec();
        let h = BlobHash::parse(&hex::encode(Sha256::digest(&data))).unwrap();
        let a = UserId::new();
        let stopped = |store: &FsBlobStore| {
            store.start(&h, &a, data.len() as u64).unwrap();
            fs::write(store.part_path(&store.upload(&h, &a)), &data).unwrap();
        };
        stopped(&store);
        let st = store.start(&h, &a, data.len() as u64).unwrap();
        assert!(st.complete, "a resume finishes it: {st:?}");
        assert_eq!(store.exists(&h).unwrap(), Some(data.len() as u64));
        assert!(store.pending_uploads().unwrap().is_empty());

        let other = b"and again, by append".to_vec();
        let h2 = BlobHash::parse(&hex::encode(Sha256::digest(&other))).unwrap();
        store.start(&h2, &a, other.len() as u64).unwrap();
        fs::write(store.part_path(&store.upload(&h2, &a)), &other).unwrap();
        let st = store.append(&h2, &a, other.len() as u64, &[]).unwrap();
        assert!(st.complete, "an empty append at the end finishes it: {st:?}");
        assert_eq!(store.exists(&h2).unwrap(), Some(other.len() as u64));

        // Whole but wrong bytes: refused and discarded, so the tablet starts over.
        let h3 = BlobHash::parse(&"e".repeat(64)).unwrap();
        store.start(&h3, &a, 4).unwrap();
        fs::write(store.part_path(&store.upload(&h3, &a)), b"nope").unwrap();
        let err = store.start(&h3, &a, 4).unwrap_err();
        assert_eq!(err.to_api().code, ErrorCode::HashMismatch);
        assert_eq!(store.start(&h3, &a, 4).unwrap().offset, 0);
        let _ = fs::remove_dir_all(dir);
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("qingliu-blobs-{}", uuid::Uuid::now_v7()));
        fs::create_dir_all(&d).unwrap();
        d
    }
}
