//! Online backup and restore of the embedded default (one SQLite file and the blob directory).
//!
//! A backup is one ZIP file (entries stored, not compressed: photos are JPEG already):
//! `qingliu.db`, a consistent copy of the database made with `VACUUM INTO` while the server
//! runs (SQLite reads one snapshot; writers are not held up), every photo that copy knows of
//! under `blobs/<h0h1>/<hash>`, and `manifest.json` (counts and the database copy's SHA-256).
//! Photos are content-addressed and recorded in the database only after they are published, so
//! every photo the snapshot names is there to copy, and a photo stored after the snapshot is
//! not needed by it.
//!
//! A restore unpacks into an empty data directory, checking the database's hash and each
//! photo's against its name. Tablets survive it: a restored server that lacks their latest
//! pushes is noticed at their next sync and they send those records again (the exactly-once
//! bookkeeping travels in the same snapshot).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::blobs::BlobHash;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub created_at: String,
    pub database_sha256: String,
    pub database_bytes: u64,
    pub photos: u64,
    pub photo_bytes: u64,
}

fn zip_err(e: zip::result::ZipError) -> AppError {
    AppError::Internal(format!("backup archive: {e}"))
}

fn sha256_file(path: &Path) -> AppResult<(String, u64)> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            return Ok((hex::encode(h.finalize()), n));
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
}

/// Write a backup of the database at `db` and the photos under `blob_root` (the filesystem
/// store's root) to `to`, while a server may be running on them.
pub fn backup(db: &Path, blob_root: &Path, to: &Path, now: time::OffsetDateTime) -> AppResult<Manifest> {
    let work = tempfile::Builder::new()
        .prefix(".qingliu-backup-")
        .tempdir_in(to.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")))?;
    let copy = work.path().join("qingliu.db");
    {
        let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| AppError::Internal(format!("open database: {e}")))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(|e| AppError::Internal(format!("database: {e}")))?;
        conn.execute("VACUUM INTO ?1", [copy.to_string_lossy()])
            .map_err(|e| AppError::Internal(format!("copy database: {e}")))?;
    }
    let hashes: Vec<String> = {
        let conn = rusqlite::Connection::open_with_flags(&copy, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| AppError::Internal(format!("open copy: {e}")))?;
        let mut st = conn
            .prepare("SELECT sha256 FROM blobs ORDER BY sha256")
            .map_err(|e| AppError::Internal(format!("read copy: {e}")))?;
        st.query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect::<Result<_, _>>())
            .map_err(|e| AppError::Internal(format!("read copy: {e}")))?
    };
    let (database_sha256, database_bytes) = sha256_file(&copy)?;
    let partial = work.path().join("backup.zip");
    let mut zip = zip::ZipWriter::new(File::create(&partial)?);
    let stored = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    zip.start_file("qingliu.db", stored).map_err(zip_err)?;
    std::io::copy(&mut File::open(&copy)?, &mut zip)?;
    let (mut photos, mut photo_bytes) = (0u64, 0u64);
    for h in &hashes {
        let hash = BlobHash::parse(h)?;
        let path = blob_path(blob_root, &hash);
        let mut f = File::open(&path)
            .map_err(|e| AppError::Internal(format!("photo {h} named by the database is unreadable: {e}")))?;
        zip.start_file(format!("blobs/{}/{}", &h[..2], h), stored).map_err(zip_err)?;
        photo_bytes += std::io::copy(&mut f, &mut zip)?;
        photos += 1;
    }
    let manifest = Manifest {
        format: 1,
        created_at: now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        database_sha256,
        database_bytes,
        photos,
        photo_bytes,
    };
    zip.start_file("manifest.json", stored).map_err(zip_err)?;
    zip.write_all(&serde_json::to_vec_pretty(&manifest).map_err(|e| AppError::Internal(e.to_string()))?)?;
    zip.finish().map_err(zip_err)?.sync_all()?;
    std::fs::rename(&partial, to)?;
    Ok(manifest)
}

fn blob_path(root: &Path, h: &BlobHash) -> PathBuf {
    root.join("blobs").join(&h.as_str()[..2]).join(h.as_str())
}

/// Unpack a backup into `data_dir` (the database as `qingliu.db`, photos under `blobs/`),
/// which must not hold a database yet. Every byte is checked against the manifest and the
/// photos' names before anything is put in place.
pub fn restore(from: &Path, data_dir: &Path) -> AppResult<Manifest> {
    let db = data_dir.join("qingliu.db");
    if db.exists() {
        return Err(AppError::Internal(format!(
            "{} already holds a database: restore into an empty data directory",
            data_dir.display()
        )));
    }
    let mut zip = zip::ZipArchive::new(File::open(from)?).map_err(zip_err)?;
    let manifest: Manifest = {
        let mut m = zip.by_name("manifest.json").map_err(zip_err)?;
        let mut text = Vec::new();
        m.read_to_end(&mut text)?;
        serde_json::from_slice(&text).map_err(|e| AppError::Internal(format!("backup manifest: {e}")))?
    };
    std::fs::create_dir_all(data_dir)?;
    let blob_root = data_dir.join("blobs");
    let staging = data_dir.join(".restoring.db");
    let mut photos = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(zip_err)?;
        let name = entry.name().map_err(zip_err)?.to_string();
        if name == "qingliu.db" {
            let mut out = File::create(&staging)?;
            std::io::copy(&mut entry, &mut out)?;
            out.sync_all()?;
        } else if let Some(rest) = name.strip_prefix("blobs/") {
            // Paths come from the validated hash, never from the entry's name.
            let hash = BlobHash::parse(rest.rsplit('/').next().unwrap_or(""))?;
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            if hex::encode(Sha256::digest(&bytes)) != hash.as_str() {
                return Err(AppError::Internal(format!("photo {} in the backup is damaged", hash.as_str())));
            }
            let path = blob_path(&blob_root, &hash);
            std::fs::create_dir_all(path.parent().expect("blob path has a parent"))?;
            std::fs::write(&path, &bytes)?;
            photos += 1;
        }
    }
    let (sha, _) = sha256_file(&staging)?;
    if sha != manifest.database_sha256 || photos != manifest.photos {
        let _ = std::fs::remove_file(&staging);
        return Err(AppError::Internal("the backup does not match its manifest".into()));
    }
    std::fs::rename(&staging, &db)?;
    Ok(manifest)
}
