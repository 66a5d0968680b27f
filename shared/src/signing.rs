//! What a device signs: the exact bytes of a record version, the same on the device (which
//! signs before queueing) and on the server (which verifies on push and again in
//! `sync-server verify`). The serialisation is the shared DTO's own JSON, which is
//! deterministic (fixed field order, shortest round-trip floats, RFC 3339 times), behind a
//! domain label so the signature cannot be replayed as anything else.

use serde::Serialize;

use crate::ids::InspectionId;
use crate::inspection::Inspection;
use crate::review::ReviewDecision;

const LABEL: &[u8] = b"qingliu/inspection-version/v1\n";
const REVIEW_LABEL: &[u8] = b"qingliu/review-decision/v1\n";

/// The bytes a device's Ed25519 signature covers: the whole version (content, position,
/// device time, photo hashes, signature blob hashes).
pub fn inspection_bytes(i: &Inspection) -> Vec<u8> {
    let mut out = LABEL.to_vec();
    // Serialising a plain struct of the DTO cannot fail.
    out.extend(serde_json::to_vec(i).unwrap_or_default());
    out
}

/// The bytes a reviewer's device signs for a decision: which record, which version it saw, the
/// decision and its comment (trimmed, as the server keeps it).
pub fn review_bytes(
    record_id: &InspectionId,
    version: u32,
    decision: ReviewDecision,
    comment: &str,
) -> Vec<u8> {
    #[derive(Serialize)]
    struct Signed<'a> {
        record_id: &'a InspectionId,
        version: u32,
        decision: ReviewDecision,
        comment: &'a str,
    }
    let mut out = REVIEW_LABEL.to_vec();
    out.extend(
        serde_json::to_vec(&Signed { record_id, version, decision, comment: comment.trim() })
            .unwrap_or_default(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_signs_what_it_decides_and_nothing_else_signs_the_same() {
        let id = InspectionId::new();
        let b = review_bytes(&id, 2, ReviewDecision::Return, " 请补充 ");
        assert!(b.starts_with(REVIEW_LABEL));
        assert_eq!(b, review_bytes(&id, 2, ReviewDecision::Return, "请补充"));
        assert_ne!(b, review_bytes(&id, 1, ReviewDecision::Return, "请补充"));
        assert_ne!(b, review_bytes(&id, 2, ReviewDecision::Reject, "请补充"));
        assert_ne!(b, review_bytes(&InspectionId::new(), 2, ReviewDecision::Return, "请补充"));
    }
    use crate::validate::tests::water_inspection;

    #[test]
    fn bytes_survive_a_round_trip_through_json() {
        let i = water_inspection();
        let wire = serde_json::to_string(&i).unwrap();
        let back: Inspection = serde_json::from_str(&wire).unwrap();
        assert_eq!(inspection_bytes(&i), inspection_bytes(&back));
        assert!(inspection_bytes(&i).starts_with(LABEL));
        let mut other = i.clone();
        other.notes.push('。');
        assert_ne!(inspection_bytes(&i), inspection_bytes(&other));
    }
}
