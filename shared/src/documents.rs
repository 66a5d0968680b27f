//! Official documents made from a record: which ones a record gets, their numbers (文书编号),
//! and the context a document shows that the record body does not hold. The rendering lives in
//! the `qingliu-documents` crate; what is here is what the app, the server and the console must
//! agree on.
//!
//! Numbers are unique province-wide although assigned offline: the server hands each device
//! blocks of consecutive serials per (kind, year) while it is online; the device spends them in
//! order and never twice, and the server refuses a push whose number it did not give to that
//! device or that another record already holds.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use sha2::{Digest, Sha256};

use crate::inspection::{Inspection, InspectionBody, InspectionKind, Signature};

/// Version of the document layout. A document is a pure function of the record version, its
/// blobs and this number, so both sides produce the same bytes; a layout change bumps it.
pub const LAYOUT_VERSION: u16 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 现场检查（勘察）笔录
    InspectionRecord,
    /// 责令改正违法行为决定书
    RectificationOrder,
    /// 检查记录表 (water body, sewage facility, village remediation)
    InspectionSheet,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 3] =
        [DocumentKind::InspectionRecord, DocumentKind::RectificationOrder, DocumentKind::InspectionSheet];

    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::InspectionRecord => "inspection_record",
            DocumentKind::RectificationOrder => "rectification_order",
            DocumentKind::InspectionSheet => "inspection_sheet",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The series printed before the year in the number: 鄂环现检〔2026〕00012号.
    pub fn series(self) -> &'static str {
        match self {
            DocumentKind::InspectionRecord => "鄂环现检",
            DocumentKind::RectificationOrder => "鄂环责改",
            DocumentKind::InspectionSheet => "鄂环检表",
        }
    }

    pub fn title_zh(self, kind: InspectionKind) -> &'static str {
        match (self, kind) {
            (DocumentKind::InspectionRecord, _) => "现场检查（勘察）笔录",
            (DocumentKind::RectificationOrder, _) => "责令改正违法行为决定书",
            (DocumentKind::InspectionSheet, InspectionKind::WaterBody) => "农村黑臭水体现场检查记录表",
            (DocumentKind::InspectionSheet, InspectionKind::SewageFacility) => {
                "农村生活污水处理设施检查记录表"
            }
            (DocumentKind::InspectionSheet, _) => "行政村环境整治检查记录表",
        }
    }
}

/// 文书编号: `{series}〔{year}〕{serial:05}号`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentNumber {
    pub kind: DocumentKind,
    pub year: i32,
    pub serial: u32,
}

impl std::fmt::Display for DocumentNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}〔{}〕{:05}号", self.kind.series(), self.year, self.serial)
    }
}

/// A block of serials the server gave one device: `first..=last` of (kind, year).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NumberBlock {
    pub kind: DocumentKind,
    pub year: i32,
    pub first: u32,
    pub last: u32,
}

impl NumberBlock {
    pub fn contains(&self, n: &DocumentNumber) -> bool {
        n.kind == self.kind && n.year == self.year && (self.first..=self.last).contains(&n.serial)
    }

    pub fn len(&self) -> u32 {
        self.last.saturating_sub(self.first) + 1
    }

    pub fn is_empty(&self) -> bool {
        self.last < self.first
    }
}

/// What a device asks for while online: one more block of each kind for `year` (the server
/// hands out no more than a few unused blocks per kind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NumberBlockRequest {
    pub device_id: crate::ids::DeviceId,
    pub year: i32,
    pub kinds: Vec<DocumentKind>,
    /// Serials per block; the server caps it.
    pub size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NumberBlockResponse {
    pub blocks: Vec<NumberBlock>,
}

/// The largest block the server hands out at once.
pub const MAX_BLOCK_SIZE: u32 = 200;

/// The part of a document that the record body does not hold, fixed when the record is made
/// so that the device and the server print the same thing (the server's site name may change
/// later; the document keeps what was shown on site). Signed with the version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentInfo {
    #[serde(default = "layout_v1")]
    pub layout: u16,
    /// One number per document the record gets (see [`documents_for`]).
    pub numbers: Vec<DocumentNumber>,
    /// The site's name as the device knew it.
    pub site_name: String,
    /// 所在地: region names from province to village.
    pub place: String,
    /// The submitting inspector's display name.
    pub inspector: String,
    /// 作出决定的行政机关 (printed on rectification orders).
    #[serde(default)]
    pub authority: String,
    /// The SHA-256 of each document as the device made it when the record was submitted. Part
    /// of the version the device signs, so what was shown on site is pinned: the console and
    /// `sync-server verify --documents` compare the server's document with it. Not printed (a
    /// document cannot hold its own hash) and not covered by handwritten signatures (it changes
    /// with every signature image). Left out of the JSON when empty, so versions signed before
    /// it existed keep their bytes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub digests: Vec<DocumentDigest>,
}

/// One document's SHA-256 (lower-case hex of the PDF's bytes) as the device made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentDigest {
    pub kind: DocumentKind,
    pub sha256: String,
}

/// Response headers of a document download: how it compares with what the device signed
/// ([`DocumentCheck::as_str`]) and its SHA-256.
pub const CHECK_HEADER: &str = "x-qingliu-document-check";
pub const SHA256_HEADER: &str = "x-qingliu-document-sha256";

/// How a document made now compares with the one the device signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentCheck {
    /// Byte for byte the document the device made and signed.
    Matches,
    /// Not the document the device signed (a different layout or font, or altered data).
    Differs,
    /// The device signed no digest for it (made before digests, or a photo was not on the device).
    Unsigned,
}

impl DocumentCheck {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentCheck::Matches => "matches",
            DocumentCheck::Differs => "differs",
            DocumentCheck::Unsigned => "unsigned",
        }
    }
}

fn layout_v1() -> u16 {
    LAYOUT_VERSION
}

impl DocumentInfo {
    pub fn number(&self, kind: DocumentKind) -> Option<DocumentNumber> {
        self.numbers.iter().copied().find(|n| n.kind == kind)
    }

    /// The digest the device signed for `kind`, if any.
    pub fn digest(&self, kind: DocumentKind) -> Option<&str> {
        self.digests.iter().find(|d| d.kind == kind).map(|d| d.sha256.as_str())
    }

    /// Compare a document made now (its SHA-256, lower-case hex) with the signed one.
    pub fn check(&self, kind: DocumentKind, sha256: &str) -> DocumentCheck {
        match self.digest(kind) {
            None => DocumentCheck::Unsigned,
            Some(d) if d == sha256 => DocumentCheck::Matches,
            Some(_) => DocumentCheck::Differs,
        }
    }
}

/// The documents a record gets: an enforcement record its 笔录, and a rectification order when
/// violations and a deadline were recorded; every other kind an inspection sheet.
pub fn documents_for(i: &Inspection) -> Vec<DocumentKind> {
    match &i.body {
        InspectionBody::Enforcement(e) => {
            let mut out = vec![DocumentKind::InspectionRecord];
            if !e.violations.is_empty() && e.rectification_deadline.is_some() {
                out.push(DocumentKind::RectificationOrder);
            }
            out
        }
        _ => vec![DocumentKind::InspectionSheet],
    }
}

/// When a document's time is printed: the record's own time where it has one.
pub fn document_time(i: &Inspection) -> OffsetDateTime {
    match &i.body {
        InspectionBody::Enforcement(e) => e.started_at,
        _ => i.device_time,
    }
}

/// The bytes a handwritten signature covers: everything the record's documents print, that is
/// the version without its signatures, its version counters and its device time (saving a
/// draft again changes neither what was signed nor what is printed).
pub fn signed_content(i: &Inspection) -> Vec<u8> {
    let mut c = i.clone();
    c.schema_version = 0;
    c.version = 0;
    c.replaces_version = None;
    c.device_time = OffsetDateTime::UNIX_EPOCH;
    if let Some(d) = &mut c.document {
        d.digests.clear();
    }
    if let InspectionBody::Enforcement(e) = &mut c.body {
        // Every signature place the same whether signed yet or not: the recorder's and the
        // witness's places exist only once someone signs there, and that must not make the
        // signatures made before them stale.
        e.recorder_signature = None;
        e.witness_signature = None;
        for s in e.signatures_mut() {
            *s = Signature::Refused { reason: String::new() };
        }
    }
    let mut out = b"qingliu/signed-content/v1\n".to_vec();
    out.extend(serde_json::to_vec(&c).unwrap_or_default());
    out
}

/// Lower-case hex SHA-256 of [`signed_content`]: what `Signature::Signed::covers` holds.
pub fn signed_content_hash(i: &Inspection) -> String {
    sha256_hex(&signed_content(i))
}

/// Lower-case hex SHA-256 of a document's bytes: what [`DocumentDigest::sha256`] holds and
/// what the server compares with it.
pub fn pdf_digest(pdf: &[u8]) -> String {
    sha256_hex(pdf)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Signatures whose content has changed since they were made (by role position in
/// [`crate::inspection::EnforcementBody::signatures`]).
pub fn stale_signatures(i: &Inspection) -> Vec<usize> {
    let InspectionBody::Enforcement(e) = &i.body else { return Vec::new() };
    let now = signed_content_hash(i);
    e.signatures()
        .iter()
        .enumerate()
        .filter(|(_, (_, s))| matches!(s, Signature::Signed { covers: Some(h), .. } if *h != now))
        .map(|(n, _)| n)
        .collect()
}

/// Editing a signed record clears its signatures (and refusals, which were part of the signed
/// record): returns whether anything was cleared, so the app can say so.
pub fn clear_signatures(i: &mut Inspection) -> bool {
    let InspectionBody::Enforcement(e) = &mut i.body else { return false };
    let mut cleared = false;
    for s in e.signatures_mut() {
        let empty = matches!(s, Signature::Signed { blob: None, signed_at: None, covers: None, .. });
        if !empty {
            let signer = match s {
                Signature::Signed { signer, .. } => signer.clone(),
                Signature::Refused { .. } => String::new(),
            };
            *s = Signature::named(signer);
            cleared = true;
        }
    }
    cleared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_one_place_after_another_leaves_earlier_signatures_valid() {
        use crate::inspection::{EnforcementBody, SignerRole};
        let mut i = crate::validate::tests::water_inspection();
        i.body = InspectionBody::Enforcement(Box::new(EnforcementBody {
            recorder_signature: None,
            witness_signature: None,
            ..crate::validate::tests::enforcement()
        }));
        let sign = |i: &mut Inspection, role: SignerRole| {
            let covers = Some(signed_content_hash(i));
            let InspectionBody::Enforcement(e) = &mut i.body else { unreachable!() };
            let s = Signature::Signed {
                signer: "某".into(),
                blob: Some("a".repeat(64)),
                signed_at: None,
                covers,
            };
            match role {
                SignerRole::Party => e.party_signature = s,
                SignerRole::Inspector(n) => e.inspector_signatures[n] = s,
                SignerRole::Recorder => e.recorder_signature = Some(s),
                SignerRole::Witness => e.witness_signature = Some(s),
            }
        };
        for role in [SignerRole::Party, SignerRole::Inspector(0), SignerRole::Recorder, SignerRole::Witness] {
            sign(&mut i, role);
            assert_eq!(stale_signatures(&i), Vec::<usize>::new(), "after {role:?}");
        }
        i.notes.push('改');
        assert_eq!(stale_signatures(&i).len(), 4, "an edit makes every signature made stale");
    }

    fn with_info(mut i: Inspection) -> Inspection {
        let numbers = documents_for(&i)
            .into_iter()
            .enumerate()
            .map(|(n, kind)| DocumentNumber { kind, year: 2026, serial: n as u32 + 1 })
            .collect();
        i.document = Some(DocumentInfo {
            layout: LAYOUT_VERSION,
            numbers,
            site_name: "某村".into(),
            place: String::new(),
            inspector: "张三".into(),
            authority: String::new(),
            digests: Vec::new(),
        });
        i
    }

    #[test]
    fn digests_are_signed_by_the_device_but_not_covered_by_handwritten_signatures() {
        let i = with_info(crate::validate::tests::water_inspection());
        let before_json = serde_json::to_string(&i).unwrap();
        assert!(!before_json.contains("digests"), "a version without digests keeps its old bytes");
        let mut sealed = i.clone();
        let sha = "ab".repeat(32);
        sealed.document.as_mut().unwrap().digests =
            vec![DocumentDigest { kind: DocumentKind::InspectionSheet, sha256: sha.clone() }];
        assert_eq!(signed_content_hash(&i), signed_content_hash(&sealed), "sealing leaves signatures valid");
        assert_ne!(
            crate::signing::inspection_bytes(&i),
            crate::signing::inspection_bytes(&sealed),
            "the device's signature covers the digests"
        );
        let info = sealed.document.as_ref().unwrap();
        assert_eq!(info.check(DocumentKind::InspectionSheet, &sha), DocumentCheck::Matches);
        assert_eq!(info.check(DocumentKind::InspectionSheet, &"cd".repeat(32)), DocumentCheck::Differs);
        assert_eq!(info.check(DocumentKind::InspectionRecord, &sha), DocumentCheck::Unsigned);
        assert_eq!(crate::validate::validate_inspection(&sealed, None), vec![]);
    }

    #[test]
    fn digests_name_the_records_own_documents_once_each_as_hex() {
        let i = with_info(crate::validate::tests::water_inspection());
        let fields = |digests: Vec<(DocumentKind, String)>| {
            let mut j = i.clone();
            j.document.as_mut().unwrap().digests =
                digests.into_iter().map(|(kind, sha256)| DocumentDigest { kind, sha256 }).collect();
            crate::validate::validate_inspection(&j, None)
                .into_iter()
                .map(|e| (e.field, e.code))
                .collect::<Vec<_>>()
        };
        let good = "0f".repeat(32);
        assert_eq!(
            fields(vec![(DocumentKind::InspectionRecord, good.clone())]),
            vec![("document.digests[0]".to_string(), crate::ErrorCode::Inconsistent)],
            "a water body record gets no 笔录"
        );
        assert_eq!(
            fields(vec![
                (DocumentKind::InspectionSheet, good.clone()),
                (DocumentKind::InspectionSheet, good)
            ]),
            vec![("document.digests[1]".to_string(), crate::ErrorCode::Inconsistent)]
        );
        assert_eq!(
            fields(vec![(DocumentKind::InspectionSheet, "0F".repeat(32))]),
            vec![("document.digests[0]".to_string(), crate::ErrorCode::InvalidFormat)]
        );
    }

    #[test]
    fn numbers_print_in_the_official_form_and_blocks_contain_their_own() {
        let n = DocumentNumber { kind: DocumentKind::InspectionRecord, year: 2026, serial: 12 };
        assert_eq!(n.to_string(), "鄂环现检〔2026〕00012号");
        let b = NumberBlock { kind: DocumentKind::InspectionRecord, year: 2026, first: 1, last: 50 };
        assert!(b.contains(&n));
        assert_eq!(b.len(), 50);
        assert!(!b.contains(&DocumentNumber { serial: 51, ..n }));
        assert!(!b.contains(&DocumentNumber { year: 2027, ..n }));
        assert!(!b.contains(&DocumentNumber { kind: DocumentKind::RectificationOrder, ..n }));
        for k in DocumentKind::ALL {
            assert_eq!(DocumentKind::parse(k.as_str()), Some(k));
        }
    }
}
