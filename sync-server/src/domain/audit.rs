//! The audit log's integrity: walk the hash chain (`sync-server audit verify`) and say where
//! it breaks; the head that the province admin sees and the server logs daily.

use shared::ErrorCode;
use shared::auth::Role;
pub use shared::console::AuditHead;
use shared::region::RegionLevel;

use crate::audit_chain::{GENESIS, entry_hash};
use crate::domain::Actor;
use crate::error::{AppError, AppResult};
use crate::store::Store;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditProblem {
    /// The entry's content or its link no longer gives its stored hash: edited (or the one
    /// before it was replaced).
    Altered { seq: u64 },
    /// Numbers are missing before this entry: entries were deleted.
    Missing { from: u64, to: u64 },
    /// An entry without a hash after the chain began: written around the server.
    Unchained { seq: u64 },
    /// The noted head no longer matches: the tail was rewritten (or the log cut short).
    HeadMismatch { seq: u64, noted: String, found: Option<String> },
}

impl std::fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditProblem::Altered { seq } => {
                write!(f, "entry {seq}: content or link altered (hash does not match)")
            }
            AuditProblem::Missing { from, to } if from == to => write!(f, "entry {from}: missing (deleted)"),
            AuditProblem::Missing { from, to } => write!(f, "entries {from}–{to}: missing (deleted)"),
            AuditProblem::Unchained { seq } => {
                write!(f, "entry {seq}: has no hash (written around the server)")
            }
            AuditProblem::HeadMismatch { seq, noted, found } => match found {
                Some(h) => write!(f, "entry {seq}: noted head {noted} but the log has {h} (tail rewritten)"),
                None => write!(f, "entry {seq}: noted head {noted} but the log ends before it"),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    pub entries: u64,
    pub head: Option<AuditHead>,
    pub problems: Vec<AuditProblem>,
}

/// Recomputes the whole chain. `expect` is a head noted earlier (`seq`, `hash`): the entry with
/// that number must still carry that hash.
pub fn verify(store: &dyn Store, expect: Option<&AuditHead>) -> AppResult<AuditReport> {
    let mut tx = store.read()?;
    let (mut last, mut prev) = (0u64, GENESIS.to_string());
    let mut entries = 0;
    let mut problems = Vec::new();
    let mut expected_found = None;
    loop {
        let page = tx.audit_page(last, 5000)?;
        if page.is_empty() {
            break;
        }
        for (seq, entry, stored) in page {
            entries += 1;
            if seq != last + 1 {
                problems.push(AuditProblem::Missing { from: last + 1, to: seq - 1 });
            }
            let recomputed = entry_hash(&prev, seq, &entry);
            let stored = match stored {
                Some(h) => h,
                None => {
                    problems.push(AuditProblem::Unchained { seq });
                    recomputed.clone()
                }
            };
            // A deletion already explains the broken link of the entry after it.
            if stored != recomputed && seq == last + 1 {
                problems.push(AuditProblem::Altered { seq });
            }
            if expect.is_some_and(|e| e.seq == seq) {
                expected_found = Some(stored.clone());
            }
            // Go on from what is stored, so one edit is reported once, not for every later entry.
            (last, prev) = (seq, stored);
        }
    }
    if let Some(e) = expect
        && expected_found.as_deref() != Some(e.hash.as_str())
    {
        problems.push(AuditProblem::HeadMismatch {
            seq: e.seq,
            noted: e.hash.clone(),
            found: expected_found,
        });
    }
    let head = (last > 0).then_some(AuditHead { seq: last, hash: prev });
    Ok(AuditReport { entries, head, problems })
}

/// The head (number 0 and the genesis value for an empty log).
pub fn head(store: &dyn Store) -> AppResult<AuditHead> {
    let mut tx = store.read()?;
    let (seq, hash) = tx.audit_head()?.unwrap_or((0, GENESIS.to_string()));
    Ok(AuditHead { seq, hash })
}

/// The head, for the province admin's console.
pub fn head_for(store: &dyn Store, actor: &Actor) -> AppResult<AuditHead> {
    if actor.user.role != Role::ProvinceAdmin || actor.user.region.level() != RegionLevel::Province {
        return Err(AppError::api(ErrorCode::Forbidden, "只有省级管理员可以查看审计日志"));
    }
    head(store)
}

/// `SEQ:HASH`, as `audit verify --expect` takes a noted head.
pub fn parse_head(s: &str) -> Result<AuditHead, String> {
    let (seq, hash) = s.split_once(':').ok_or("expected SEQ:HASH")?;
    let seq = seq.parse().map_err(|_| "SEQ must be a number")?;
    if !shared::sync::is_sha256_hex(hash) {
        return Err("HASH must be 64 lower-case hex digits".into());
    }
    Ok(AuditHead { seq, hash: hash.to_string() })
}
