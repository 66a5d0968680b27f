//! `sync-server verify`: what the database says was stored against what is stored. Every photo
//! the database knows must be in the blob store with its size and must hash to its name; a
//! file swapped, truncated or deleted behind the server's back is named. (Record versions are
//! re-checked against their device's signature once devices sign them.)

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
