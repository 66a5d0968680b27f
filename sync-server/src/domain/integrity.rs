//! `sync-server verify`: what is stored against what was signed and hashed when it arrived.
//! Every record version must still carry its device's valid signature over its content, and
//! every photo the database knows must be in the blob store with its size and hash to its
//! name. A version edited in the database, a photo swapped, truncated or deleted behind the
//! server's back, is named.

use std::io::Read;

use sha2::{Digest, Sha256};

use crate::blobs::{BlobHash, BlobStore};
use crate::error::AppResult;
use crate::store::Store;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobProblem {
    /// Known to the database, absent from the blob store.
    Missing { sha256: String },
    /// Present, but its bytes no longer hash to its name.
    Altered { sha256: String, actual: String },
    /// Present with another size than the database recorded.
    WrongSize { sha256: String, expected: u64, found: u64 },
    /// In the blob store under a blob's name, unknown to the database.
    Unknown { sha256: String },
}

impl std::fmt::Display for BlobProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlobProblem::Missing { sha256 } => write!(f, "photo {sha256}: missing from the blob store"),
            BlobProblem::Altered { sha256, actual } => {
                write!(f, "photo {sha256}: bytes replaced (they hash to {actual})")
            }
            BlobProblem::WrongSize { sha256, expected, found } => {
                write!(f, "photo {sha256}: {found} bytes, the database recorded {expected}")
            }
            BlobProblem::Unknown { sha256 } => {
                write!(f, "photo {sha256}: in the blob store but unknown to the database")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlobReport {
    pub checked: u64,
    pub bytes: u64,
    pub problems: Vec<BlobProblem>,
}

fn sha256_of(mut r: impl Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// Every stored photo re-hashed from its bytes.
pub fn verify_blobs(store: &dyn Store, blobs: &dyn BlobStore) -> AppResult<BlobReport> {
    let mut report = BlobReport::default();
    let mut known = std::collections::HashSet::new();
    let mut after = String::new();
    loop {
        let page = store.read()?.blobs_page(&after, 1000)?;
        let Some((last, _)) = page.last() else { break };
        after = last.clone();
        for (sha256, size) in page {
            report.checked += 1;
            let hash = BlobHash::parse(&sha256)?;
            match blobs.open(&hash)? {
                None => report.problems.push(BlobProblem::Missing { sha256: sha256.clone() }),
                Some((file, found)) => {
                    report.bytes += found;
                    if found != size {
                        report.problems.push(BlobProblem::WrongSize {
                            sha256: sha256.clone(),
                            expected: size,
                            found,
                        });
                    }
                    let actual = sha256_of(file)?;
                    if actual != sha256 {
                        report.problems.push(BlobProblem::Altered { sha256: sha256.clone(), actual });
                    }
                }
            }
            known.insert(sha256);
        }
    }
    for h in blobs.stored_hashes()? {
        if !known.contains(h.as_str()) {
            report.problems.push(BlobProblem::Unknown { sha256: h.as_str().to_string() });
        }
    }
    Ok(report)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionProblem {
    /// The content no longer matches its device's signature: edited after it arrived.
    Altered { record: String, version: u32, device: String },
    /// Stored without a signature (seeded, or from before devices signed).
    Unsigned { record: String, version: u32 },
    /// Its device has no key on file.
    NoDeviceKey { record: String, version: u32, device: String },
}

impl std::fmt::Display for VersionProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VersionProblem::Altered { record, version, device } => {
                write!(f, "record {record} v{version}: does not match device {device}'s signature (edited)")
            }
            VersionProblem::Unsigned { record, version } => write!(f, "record {record} v{version}: unsigned"),
            VersionProblem::NoDeviceKey { record, version, device } => {
                write!(f, "record {record} v{version}: device {device} has no key on file")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionReport {
    pub checked: u64,
    pub problems: Vec<VersionProblem>,
}

/// Every stored version re-checked against its device's public key.
pub fn verify_versions(store: &dyn Store) -> AppResult<VersionReport> {
    let mut report = VersionReport::default();
    let mut after = (String::new(), 0u32);
    loop {
        let page = store.read()?.signed_versions_page(after.clone(), 1000)?;
        let Some(last) = page.last() else { break };
        after = (last.record_id.clone(), last.version);
        for v in page {
            report.checked += 1;
            let (record, version) = (v.record_id.clone(), v.version);
            match (&v.signature, &v.public_key) {
                (None, _) => report.problems.push(VersionProblem::Unsigned { record, version }),
                (Some(_), None) => {
                    report.problems.push(VersionProblem::NoDeviceKey { record, version, device: v.device_id })
                }
                (Some(sig), Some(key)) => {
                    if !crate::signatures::verifies(key, &v.inspection, sig) {
                        report.problems.push(VersionProblem::Altered {
                            record,
                            version,
                            device: v.device_id,
                        });
                    }
                }
            }
        }
    }
    Ok(report)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentProblem {
    /// The document the server makes now is not the one the device signed (a layout or font
    /// changed since, or the stored data was altered).
    Differs { record: String, version: u32, kind: &'static str, signed: String, made: String },
    /// The document cannot be made (a photo or signature it shows is missing).
    Unmade { record: String, version: u32, kind: &'static str, reason: String },
}

impl std::fmt::Display for DocumentProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocumentProblem::Differs { record, version, kind, signed, made } => write!(
                f,
                "record {record} v{version}: {kind} made now ({made}) is not the one its device signed ({signed})"
            ),
            DocumentProblem::Unmade { record, version, kind, reason } => {
                write!(f, "record {record} v{version}: {kind} cannot be made: {reason}")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DocumentReport {
    pub checked: u64,
    pub problems: Vec<DocumentProblem>,
}

/// Every document a device signed a digest for, made again from the stored version and blobs
/// and compared byte for byte (by SHA-256). Slow (a document takes tens of milliseconds), so
/// `sync-server verify` runs it only when asked.
pub fn verify_documents(store: &dyn Store, blobs: &dyn BlobStore) -> AppResult<DocumentReport> {
    let mut report = DocumentReport::default();
    let mut after = (String::new(), 0u32);
    loop {
        let page = store.read()?.signed_versions_page(after.clone(), 200)?;
        let Some(last) = page.last() else { break };
        after = (last.record_id.clone(), last.version);
        for v in page {
            let Some(info) = &v.inspection.document else { continue };
            for d in &info.digests {
                report.checked += 1;
                let (record, version, kind) = (v.record_id.clone(), v.version, d.kind.as_str());
                match crate::domain::documents::make(blobs, &v.inspection, info, d.kind) {
                    Ok(made) if made.check == shared::documents::DocumentCheck::Matches => {}
                    Ok(made) => report.problems.push(DocumentProblem::Differs {
                        record,
                        version,
                        kind,
                        signed: d.sha256.clone(),
                        made: made.sha256,
                    }),
                    Err(e) => report.problems.push(DocumentProblem::Unmade {
                        record,
                        version,
                        kind,
                        reason: e.to_string(),
                    }),
                }
            }
        }
    }
    Ok(report)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportProblem {
    /// The version has no export row: exports would leave it out.
    Missing { record: String, version: u32 },
    /// The export row says something the version and its flags do not: edited in the database.
    Differs { record: String, version: u32 },
}

impl std::fmt::Display for ExportProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportProblem::Missing { record, version } => {
                write!(f, "record {record} v{version}: no export columns (exports leave it out)")
            }
            ExportProblem::Differs { record, version } => write!(
                f,
                "record {record} v{version}: export columns differ from the version and its flags (edited)"
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportReport {
    pub checked: u64,
    pub problems: Vec<ExportProblem>,
}

/// Every version's export columns (what CSV, GeoJSON and XLSX print) compared with what the
/// stored version and its flags give: the exports read those columns, not the signed JSON, so
/// an edit there would otherwise reach every exported spreadsheet unnoticed.
pub fn verify_exports(store: &dyn Store) -> AppResult<ExportReport> {
    use crate::store::{ExportFlags, StoredExport, VersionExport};
    let mut report = ExportReport::default();
    let mut after = (String::new(), 0u32);
    loop {
        let mut tx = store.read()?;
        let page = tx.signed_versions_page(after.clone(), 1000)?;
        let Some(last) = page.last() else { break };
        after = (last.record_id.clone(), last.version);
        for v in page {
            report.checked += 1;
            let i = &v.inspection;
            let flags = crate::domain::export::export_flags(tx.as_mut(), i)?;
            let expected = StoredExport::of(&VersionExport::of(i), &ExportFlags::of(&flags));
            let (record, version) = (v.record_id, v.version);
            match tx.version_export(&i.id, i.version)? {
                None => report.problems.push(ExportProblem::Missing { record, version }),
                Some(stored) if stored != expected => {
                    report.problems.push(ExportProblem::Differs { record, version })
                }
                Some(_) => {}
            }
        }
    }
    Ok(report)
}
