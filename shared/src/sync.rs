//! The sync protocol's DTOs (push, pull, blob upload). Every request carries the protocol
//! version; the server refuses an unknown major version with `unsupported_protocol`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::ids::{DeviceId, InspectionId, MutationId, UserId};
use crate::inspection::Inspection;
use crate::review::{ReviewDecision, ReviewStatus};
use crate::site::Site;

pub const PROTOCOL_MAJOR: u16 = 1;
pub const PROTOCOL_MINOR: u16 = 0;

/// `"major.minor"` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolVersion {
    pub major: u16,
    pub minor: u16,
}

crate::string_schema!(ProtocolVersion, "major.minor protocol version, e.g. \"1.0\"");

impl ProtocolVersion {
    pub const CURRENT: ProtocolVersion = ProtocolVersion { major: PROTOCOL_MAJOR, minor: PROTOCOL_MINOR };

    pub fn is_supported(&self) -> bool {
        self.major == PROTOCOL_MAJOR
    }
}

impl Default for ProtocolVersion {
    fn default() -> Self {
        Self::CURRENT
    }
}

impl Serialize for ProtocolVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}.{}", self.major, self.minor))
    }
}

impl<'de> Deserialize<'de> for ProtocolVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let (a, b) = s.split_once('.').ok_or_else(|| serde::de::Error::custom("expected \"major.minor\""))?;
        let major = a.parse().map_err(serde::de::Error::custom)?;
        let minor = b.parse().map_err(serde::de::Error::custom)?;
        Ok(ProtocolVersion { major, minor })
    }
}

/// One queued change. `(device_id, seq)` orders and deduplicates; `mutation_id` detects a
/// sequence number reused for a different change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Mutation {
    /// 1, 2, 3, … per device, without gaps.
    pub seq: u64,
    pub mutation_id: MutationId,
    pub op: MutationOp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MutationOp {
    /// Submit version 1 of a record, or a corrected version of a returned one, signed by the
    /// device (base64 Ed25519 over [`crate::signing::inspection_bytes`]).
    SubmitInspection {
        inspection: Box<Inspection>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// A reviewer's decision on one version of a record, made on a tablet, perhaps offline. If
    /// the record moved on since (another reviewer decided it, the inspector resubmitted), the
    /// server answers `conflict` with the record as it stands and applies nothing.
    Review {
        record_id: InspectionId,
        /// The version the reviewer saw and decided.
        version: u32,
        decision: ReviewDecision,
        /// Required to return or reject.
        #[serde(default)]
        comment: String,
        /// The device's Ed25519 signature (base64) over [`crate::signing::review_bytes`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
}

impl MutationOp {
    /// The record the mutation is about.
    pub fn record_id(&self) -> InspectionId {
        match self {
            MutationOp::SubmitInspection { inspection, .. } => inspection.id,
            MutationOp::Review { record_id, .. } => *record_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRequest {
    #[serde(default)]
    pub protocol: ProtocolVersion,
    pub device_id: DeviceId,
    pub mutations: Vec<Mutation>,
    /// What the device's clock reads as it sends (the server keeps the skew per device).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub device_clock: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum MutationOutcome {
    /// Applied; the record now has this server sequence number.
    Applied { server_seq: u64 },
    /// Refused for good (validation, scope): shown to the user; the queue moves on.
    Rejected { error: ApiError },
    /// Based on a stale version or contradicting server state: shown with the server's side.
    Conflict {
        error: ApiError,
        #[serde(default)]
        server: Option<Box<InspectionRecord>>,
    },
    /// Nothing applied: upload these blobs, then push the same mutation again.
    MissingBlobs { hashes: Vec<String> },
    /// Nothing applied: the server expected this sequence number next.
    Gap { expected_seq: u64 },
}

impl MutationOutcome {
    /// Outcomes after which the server has recorded the sequence number as consumed.
    pub fn consumes_seq(&self) -> bool {
        matches!(
            self,
            MutationOutcome::Applied { .. }
                | MutationOutcome::Rejected { .. }
                | MutationOutcome::Conflict { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MutationResult {
    pub seq: u64,
    pub mutation_id: MutationId,
    pub outcome: MutationOutcome,
    /// True when this answers a repeat of an already applied mutation with its original result.
    #[serde(default)]
    pub duplicate: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    pub protocol: ProtocolVersion,
    /// Results for a prefix of the batch: processing stops at the first `missing_blobs` or `gap`.
    pub results: Vec<MutationResult>,
    pub last_applied_seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PullScope {
    /// The caller's own inspections with review outcomes, plus the sites of assigned villages.
    Inspector,
    /// The submissions of the caller's township (reviewers).
    Review,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewNote {
    pub decision: ReviewDecision,
    pub comment: String,
    pub reviewer: UserId,
    pub reviewer_name: String,
    /// The version that was reviewed.
    pub version: u32,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: OffsetDateTime,
}

/// The server's view of an inspection record: its current version and review state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InspectionRecord {
    pub inspection: Inspection,
    pub status: ReviewStatus,
    #[serde(default)]
    pub review: Option<ReviewNote>,
    pub submitted_by: UserId,
    pub device_id: DeviceId,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub received_at: OffsetDateTime,
    /// Global change sequence of the last change to this record.
    pub server_seq: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    Site { site: Box<Site> },
    Inspection { record: Box<InspectionRecord> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullPage {
    pub protocol: ProtocolVersion,
    pub scope: PullScope,
    pub changes: Vec<Change>,
    /// Pass back as `cursor` for the next page; it advances even when `changes` is empty.
    pub next_cursor: String,
    pub has_more: bool,
}

/// Encode a server change sequence as an opaque cursor.
pub fn encode_cursor(seq: u64) -> String {
    format!("c1.{seq}")
}

/// Decode a cursor; `None` means the client must re-fetch the scope from the start.
pub fn decode_cursor(s: &str) -> Option<u64> {
    s.strip_prefix("c1.")?.parse().ok()
}

/// A cursor bound to the scope it was issued for (`fingerprint` of the user's region, role and
/// assigned villages): when the scope changes, the old cursor no longer fits, and the client
/// re-fetches the scope from the start instead of missing what came into it earlier.
pub fn encode_scoped_cursor(seq: u64, fingerprint: u64) -> String {
    format!("c2.{seq}.{fingerprint:016x}")
}

/// The sequence and scope fingerprint of a cursor (`c1` cursors carry no fingerprint).
pub fn decode_scoped_cursor(s: &str) -> Option<(u64, Option<u64>)> {
    if let Some(rest) = s.strip_prefix("c2.") {
        let (seq, fp) = rest.split_once('.')?;
        return Some((seq.parse().ok()?, Some(u64::from_str_radix(fp, 16).ok()?)));
    }
    decode_cursor(s).map(|seq| (seq, None))
}

/// A stable 64-bit fingerprint (FNV-1a) of a scope description.
pub fn scope_fingerprint(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlobUploadStart {
    /// Total size in bytes of the blob to upload.
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlobStatus {
    pub sha256: String,
    pub size: u64,
    /// Bytes the server holds; the next chunk must start here.
    pub offset: u64,
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"version": 1, "decision": "return", "comment": "请补拍水面照片"})))]
pub struct ReviewRequest {
    /// The version being reviewed; a stale one is a conflict.
    pub version: u32,
    pub decision: ReviewDecision,
    /// Required when returning or rejecting.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub comment: String,
}

/// Whether a string is a lower-case hex SHA-256.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_version_wire_form() {
        let v: ProtocolVersion = serde_json::from_str("\"1.7\"").unwrap();
        assert!(v.is_supported());
        let v: ProtocolVersion = serde_json::from_str("\"2.0\"").unwrap();
        assert!(!v.is_supported());
        assert!(serde_json::from_str::<ProtocolVersion>("\"x\"").is_err());
        assert_eq!(serde_json::to_string(&ProtocolVersion::CURRENT).unwrap(), "\"1.0\"");
    }

    #[test]
    fn scoped_cursor_round_trip() {
        let fp = scope_fingerprint(&["inspector", "421102101000", "421102101201"]);
        assert_ne!(fp, scope_fingerprint(&["inspector", "421102101000", "421102101202"]));
        assert_ne!(scope_fingerprint(&["ab", "c"]), scope_fingerprint(&["a", "bc"]));
        assert_eq!(decode_scoped_cursor(&encode_scoped_cursor(42, fp)), Some((42, Some(fp))));
        assert_eq!(decode_scoped_cursor(&encode_cursor(7)), Some((7, None)));
        assert_eq!(decode_scoped_cursor("c2.5"), None);
        assert_eq!(decode_scoped_cursor("c2.5.xyz"), None);
    }

    #[test]
    fn cursor_round_trip() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor("garbage"), None);
        assert_eq!(decode_cursor("c1.-1"), None);
    }

    #[test]
    fn sha256_hex() {
        assert!(is_sha256_hex(&"a".repeat(64)));
        assert!(!is_sha256_hex(&"A".repeat(64)));
        assert!(!is_sha256_hex("../etc/passwd"));
    }
}
