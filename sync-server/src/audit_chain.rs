//! The audit log's hash chain. Entry `n` (numbered from 1, without gaps) carries
//! `SHA-256(hash of entry n-1 ‖ canonical(n, entry))`, with a fixed genesis value before the
//! first. Editing an entry changes its hash; deleting or inserting one breaks the numbering or
//! the link to its neighbour. Rewriting the whole tail consistently is what a noted head hash
//! (`audit verify --expect`) catches: the head is logged daily and shown to the province admin
//! so it can be written down outside the database.

use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;

use crate::store::AuditEntry;

/// The "hash" before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Every field of the entry in a fixed order; JSON so that strings need no escaping rules of
/// our own.
pub fn canonical(seq: u64, a: &AuditEntry) -> String {
    let at = a.at.to_offset(time::UtcOffset::UTC).format(&Rfc3339).unwrap_or_default();
    serde_json::json!([
        seq,
        at,
        a.user_id.map(|u| u.to_string()),
        a.device_id.map(|d| d.to_string()),
        a.action,
        a.entity,
        a.entity_id,
        a.detail
    ])
    .to_string()
}

pub fn entry_hash(prev: &str, seq: u64, a: &AuditEntry) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(canonical(seq, a).as_bytes());
    hex::encode(h.finalize())
}

/// Chains entries written before the chain existed (a database upgraded to this version), in
/// order, continuing from the last chained one. Run once when a store opens; a no-op after.
pub fn seal_unchained(tx: &mut dyn crate::store::Tx) -> crate::store::StoreResult<u64> {
    let (mut seq, mut prev) = tx.audit_head()?.unwrap_or((0, GENESIS.to_string()));
    let mut sealed = 0;
    loop {
        let page = tx.audit_page(seq, 1000)?;
        if page.is_empty() {
            return Ok(sealed);
        }
        for (n, entry, hash) in page {
            let h = match hash {
                Some(h) => h,
                None => {
                    let h = entry_hash(&prev, n, &entry);
                    tx.set_audit_hash(n, &h)?;
                    sealed += 1;
                    h
                }
            };
            (seq, prev) = (n, h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn entry(action: &str) -> AuditEntry {
        AuditEntry {
            at: datetime!(2026-12-02 08:00:00.123456789 UTC),
            user_id: None,
            device_id: None,
            action: action.into(),
            entity: "user".into(),
            entity_id: "u1".into(),
            detail: serde_json::json!({"b": 1, "a": "中文"}),
        }
    }

    #[test]
    fn every_field_and_the_link_change_the_hash() {
        let base = entry_hash(GENESIS, 1, &entry("login"));
        assert_eq!(base.len(), 64);
        assert_eq!(base, entry_hash(GENESIS, 1, &entry("login")), "deterministic");
        assert_ne!(base, entry_hash(GENESIS, 2, &entry("login")), "position");
        assert_ne!(base, entry_hash(&"1".repeat(64), 1, &entry("login")), "previous hash");
        assert_ne!(base, entry_hash(GENESIS, 1, &entry("logout")), "content");
        let mut later = entry("login");
        later.at += time::Duration::nanoseconds(1);
        assert_ne!(base, entry_hash(GENESIS, 1, &later), "time to the nanosecond");
    }
}
