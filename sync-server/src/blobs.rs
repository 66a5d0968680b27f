//! Content-addressed photo storage with resumable uploads.
//!
//! Paths are built only from a validated lower-case hex SHA-256, never from raw user input. An
//! upload in progress is `uploads/<hash>.part` (bytes so far, fsynced after every chunk) plus
//! `uploads/<hash>.size` (the declared total); the offset is the part file's length. On the last
//! chunk the part is hashed; a match is renamed into `blobs/<h0h1>/<hash>`, a mismatch discarded.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use shared::sync::{BlobStatus, is_sha256_hex};
use shared::{ApiError, ErrorCode};

use crate::error::{AppError, AppResult};

/// A validated blob hash: the only thing blob paths are built from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobHash(String);

impl BlobHash {
    pub fn parse(s: &str) -> AppResult<Self> {
        if is_sha256_hex(s) {
            Ok(BlobHash(s.to_string()))
        } else {
            Err(AppError::field(
                ErrorCode::InvalidPath,
                "sha256",
                "应为 64 位小写十六进制 SHA-256",
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where blob bytes live. The filesystem implementation is the embedded default; an
/// S3-compatible one implements the same operations.
pub trait BlobStore: Send + Sync + 'static {
    /// Start (or look up) an upload of `size` bytes.
    fn start(&self, hash: &BlobHash, size: u64) -> AppResult<BlobStatus>;
    /// Append `bytes` at `offset`; on the last byte verify the hash and publish the blob.
    fn append(&self, hash: &BlobHash, offset: u64, bytes: &[u8]) -> AppResult<BlobStatus>;
    fn exists(&self, hash: &BlobHash) -> AppResult<Option<u64>>;
    fn open(&self, hash: &BlobHash) -> AppResult<Option<(File, u64)>>;
    /// Uploads started and not finished (for operators and fault tests).
    fn pending_uploads(&self) -> AppResult<Vec<String>>;
}

pub struct FsBlobStore {
    root: PathBuf,
    max_size: u64,
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl FsBlobStore {
    pub fn open(root: &Path, max_size: u64) -> AppResult<Self> {
        fs::create_dir_all(root.join("blobs"))?;
        fs::create_dir_all(root.join("uploads"))?;
        Ok(FsBlobStore {
            root: root.to_path_buf(),
            max_size,
            locks: Mutex::new(HashMap::new()),
        })
    }

    fn blob_path(&self, h: &BlobHash) -> PathBuf {
        self.root.join("blobs").join(&h.0[..2]).join(&h.0)
    }
    fn part_path(&self, h: &BlobHash) -> PathBuf {
        self.root.join("uploads").join(format!("{}.part", h.0))
    }
    fn size_path(&self, h: &BlobHash) -> PathBuf {
        self.root.join("uploads").join(format!("{}.size", h.0))
    }

    fn lock(&self, h: &BlobHash) -> Arc<Mutex<()>> {
        let mut map = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, l| Arc::strong_count(l) > 1);
        }
        map.entry(h.0.clone()).or_default().clone()
    }

    fn declared_size(&self, h: &BlobHash) -> AppResult<Option<u64>> {
        match fs::read_to_string(self.size_path(h)) {
            Ok(s) => Ok(s.trim().parse().ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn part_len(&self, h: &BlobHash) -> AppResult<u64> {
        match fs::metadata(self.part_path(h)) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    fn discard(&self, h: &BlobHash) {
        let _ = fs::remove_file(self.part_path(h));
        let _ = fs::remove_file(self.size_path(h));
    }

    fn finish(&self, h: &BlobHash, size: u64) -> AppResult<BlobStatus> {
        let mut f = File::open(self.part_path(h))?;
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
        if got != h.0 {
            self.discard(h);
            return Err(AppError::Api(
                ApiError::new(
                    ErrorCode::HashMismatch,
                    "上传内容的 SHA-256 与声明不符，已丢弃，请重新上传",
                )
                .with_detail(serde_json::json!({ "actual": got })),
            ));
        }
        let dest = self.blob_path(h);
        let dir = dest
            .parent()
            .ok_or_else(|| AppError::Internal("blob path has no parent".into()))?;
        fs::create_dir_all(dir)?;
        fs::rename(self.part_path(h), &dest)?;
        File::open(dir)?.sync_all()?;
        let _ = fs::remove_file(self.size_path(h));
        Ok(BlobStatus {
            sha256: h.0.clone(),
            size,
            offset: size,
            complete: true,
        })
    }
}

impl BlobStore for FsBlobStore {
    fn start(&self, h: &BlobHash, size: u64) -> AppResult<BlobStatus> {
        if size == 0 {
            return Err(AppError::field(
                ErrorCode::OutOfRange,
                "size",
                "大小必须大于 0",
            ));
        }
        if size > self.max_size {
            return Err(AppError::Api(
                ApiError::new(ErrorCode::BlobTooLarge, "文件过大")
                    .with_detail(serde_json::json!({ "max_bytes": self.max_size })),
            ));
        }
        let lock = self.lock(h);
        let _g = lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = self.exists(h)? {
            return Ok(BlobStatus {
                sha256: h.0.clone(),
                size: existing,
                offset: existing,
                complete: true,
            });
        }
        match self.declared_size(h)? {
            Some(s) if s == size => {}
            Some(_) | None => {
                // A new upload, or a restart with another size: begin again from zero.
                self.discard(h);
                let mut f = File::create(self.size_path(h))?;
                f.write_all(size.to_string().as_bytes())?;
                f.sync_all()?;
            }
        }
        let offset = self.part_len(h)?.min(size);
        Ok(BlobStatus {
            sha256: h.0.clone(),
            size,
            offset,
            complete: false,
        })
    }

    fn append(&self, h: &BlobHash, offset: u64, bytes: &[u8]) -> AppResult<BlobStatus> {
        let lock = self.lock(h);
        let _g = lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = self.exists(h)? {
            return Ok(BlobStatus {
                sha256: h.0.clone(),
                size: existing,
                offset: existing,
                complete: true,
            });
        }
        let size = self
            .declared_size(h)?
            .ok_or_else(|| AppError::api(ErrorCode::NotFound, "没有进行中的上传，请先开始上传"))?;
        let current = self.part_len(h)?;
        if offset != current {
            return Err(AppError::Api(
                ApiError::new(ErrorCode::OffsetMismatch, "偏移量与服务器不一致")
                    .with_detail(serde_json::json!({ "offset": current, "size": size })),
            ));
        }
        if current + bytes.len() as u64 > size {
            return Err(AppError::Api(
                ApiError::new(ErrorCode::SizeMismatch, "数据超出声明的大小")
                    .with_detail(serde_json::json!({ "offset": current, "size": size })),
            ));
        }
        if bytes.is_empty() {
            return Ok(BlobStatus {
                sha256: h.0.clone(),
                size,
                offset: current,
                complete: false,
            });
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.part_path(h))?;
        f.write_all(bytes)?;
        f.sync_data()?;
        let offset = current + bytes.len() as u64;
        if offset == size {
            return self.finish(h, size);
        }
        Ok(BlobStatus {
            sha256: h.0.clone(),
            size,
            offset,
            complete: false,
        })
    }

    fn exists(&self, h: &BlobHash) -> AppResult<Option<u64>> {
        match fs::metadata(self.blob_path(h)) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn open(&self, h: &BlobHash) -> AppResult<Option<(File, u64)>> {
        match File::open(self.blob_path(h)) {
            Ok(f) => {
                let len = f.metadata()?.len();
                Ok(Some((f, len)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn pending_uploads(&self) -> AppResult<Vec<String>> {
        let mut out = Vec::new();
        for e in fs::read_dir(self.root.join("uploads"))? {
            let name = e?.file_name().to_string_lossy().to_string();
            if let Some(h) = name.strip_suffix(".size") {
                out.push(h.to_string());
            }
        }
        out.sort();
        Ok(out)
    }
}
