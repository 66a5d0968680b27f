//! Inspections: one visit to one site, with a typed body per kind, position, photos and an
//! optional proposed status change.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::geo::LngLat;
use crate::ids::{InspectionId, SiteId};
use crate::site::{SiteKind, SiteStatus};

/// Version of the inspection DTO. Older clients omit it and get the default.
pub const INSPECTION_SCHEMA_VERSION: u16 = 1;

fn schema_v1() -> u16 {
    INSPECTION_SCHEMA_VERSION
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InspectionKind {
    /// 农村生活污水处理设施检查
    SewageFacility,
    /// 黑臭水体检查
    WaterBody,
    /// 执法检查（现场检查笔录）
    Enforcement,
    /// 行政村环境整治检查
    VillageRemediation,
}

impl InspectionKind {
    pub const ALL: [InspectionKind; 4] = [
        InspectionKind::SewageFacility,
        InspectionKind::WaterBody,
        InspectionKind::Enforcement,
        InspectionKind::VillageRemediation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InspectionKind::SewageFacility => "sewage_facility",
            InspectionKind::WaterBody => "water_body",
            InspectionKind::Enforcement => "enforcement",
            InspectionKind::VillageRemediation => "village_remediation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind of site an inspection of this kind is about.
    pub fn site_kind(self) -> SiteKind {
        match self {
            InspectionKind::SewageFacility => SiteKind::Facility,
            InspectionKind::WaterBody => SiteKind::WaterBody,
            InspectionKind::Enforcement => SiteKind::Enterprise,
            InspectionKind::VillageRemediation => SiteKind::Village,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PositionSource {
    /// The tablet's own location service (its GNSS chip, through the webview or the platform).
    Gps,
    /// An external GNSS receiver speaking NMEA 0183 (serial, Bluetooth serial or TCP).
    Receiver,
    /// Read from a photo's EXIF.
    Exif,
    /// Typed by the inspector; needs a reason and is flagged to the reviewer.
    Manual,
}

impl PositionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PositionSource::Gps => "gps",
            PositionSource::Receiver => "receiver",
            PositionSource::Exif => "exif",
            PositionSource::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Position {
    /// WGS-84.
    pub point: LngLat,
    /// Horizontal accuracy in metres (95 % radius), when the source reports one.
    #[serde(default)]
    pub accuracy_m: Option<f64>,
    pub source: PositionSource,
    /// The platform reported a mock location.
    #[serde(default)]
    pub mock: bool,
    /// How many fixes were averaged into this position (1 for a single fix, 0 when not
    /// captured from a live source).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fix_count: u32,
    /// Satellites used, when the source reports them (NMEA GGA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satellites: Option<u8>,
    /// Horizontal dilution of precision, when the source reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdop: Option<f64>,
    /// When the last fix used was taken, by the source's clock.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub fix_time: Option<OffsetDateTime>,
    /// The capture ran out of time before reaching the accuracy asked for: this is the best it
    /// had.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
    /// Why the position was typed by hand (required for `manual`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_reason: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Position {
    /// A position with only a point and a source; the capture details are filled by whoever
    /// knows them.
    pub fn new(point: LngLat, source: PositionSource) -> Self {
        Position {
            point,
            accuracy_m: None,
            source,
            mock: false,
            fix_count: 0,
            satellites: None,
            hdop: None,
            fix_time: None,
            timed_out: false,
            manual_reason: None,
        }
    }

    /// A typed position with the inspector's reason.
    pub fn manual(point: LngLat, reason: impl Into<String>) -> Self {
        Position { manual_reason: Some(reason.into()), ..Position::new(point, PositionSource::Manual) }
    }

    pub fn with_accuracy(mut self, accuracy_m: Option<f64>) -> Self {
        self.accuracy_m = accuracy_m;
        self
    }
}

/// A photo as a record names it: content-addressed by the SHA-256 of the bytes that travel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhotoRef {
    /// Lower-case hex SHA-256 of the uploaded (derivative) JPEG.
    pub sha256: String,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub exif_time: Option<OffsetDateTime>,
    #[serde(default)]
    pub exif_position: Option<LngLat>,
    /// SHA-256 of the original camera file kept on the device.
    #[serde(default)]
    pub original_sha256: Option<String>,
    /// What the photo proves (证明内容).
    #[serde(default)]
    pub caption: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SewageIndicator {
    /// 化学需氧量 mg/L
    Cod,
    /// 氨氮 mg/L
    Nh3n,
    /// 总磷 mg/L
    Tp,
    /// 悬浮物 mg/L
    Ss,
    Ph,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reading {
    pub indicator: SewageIndicator,
    pub value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FacilityRunningState {
    Running,
    Faulty,
    Stopped,
}

impl FacilityRunningState {
    pub fn as_site_status(self) -> SiteStatus {
        match self {
            FacilityRunningState::Running => SiteStatus::Running,
            FacilityRunningState::Faulty => SiteStatus::Faulty,
            FacilityRunningState::Stopped => SiteStatus::Stopped,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SewageFacilityBody {
    pub running_state: FacilityRunningState,
    #[serde(default)]
    pub inlet_observation: String,
    #[serde(default)]
    pub outlet_observation: String,
    #[serde(default)]
    pub readings: Vec<Reading>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ColourGrade {
    Normal,
    Greyish,
    Dark,
    Black,
}

impl ColourGrade {
    pub fn is_abnormal(self) -> bool {
        matches!(self, ColourGrade::Dark | ColourGrade::Black)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OdourGrade {
    None,
    Slight,
    Noticeable,
    Strong,
}

impl OdourGrade {
    pub fn is_abnormal(self) -> bool {
        matches!(self, OdourGrade::Noticeable | OdourGrade::Strong)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WaterBodyBody {
    pub colour: ColourGrade,
    pub odour: OdourGrade,
    #[serde(default)]
    pub water_depth_cm: Option<f64>,
    #[serde(default)]
    pub transparency_cm: Option<f64>,
    #[serde(default)]
    pub dissolved_oxygen_mg_l: Option<f64>,
    #[serde(default)]
    pub orp_mv: Option<f64>,
    #[serde(default)]
    pub ammonia_n_mg_l: Option<f64>,
    /// Share of surveyed residents who judge the water black-odorous (%).
    #[serde(default)]
    pub public_survey_pct: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnforcementOfficer {
    pub name: String,
    /// 执法证号
    pub credential_no: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InspectedParty {
    pub name: String,
    /// 统一社会信用代码
    pub uscc: String,
    #[serde(default)]
    pub legal_representative: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskSource {
    /// 日常
    Routine,
    /// 专项
    SpecialCampaign,
    /// 投诉举报
    Complaint,
    /// 转办交办
    Referral,
    /// 巡查
    Patrol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChecklistResult {
    NoProblem,
    Problem,
    NotApplicable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChecklistItem {
    pub item: String,
    pub result: ChecklistResult,
    #[serde(default)]
    pub note: String,
}

impl Signature {
    /// A signature with a name only (no image): what older records hold.
    pub fn named(signer: impl Into<String>) -> Signature {
        Signature::Signed { signer: signer.into(), blob: None, signed_at: None, covers: None }
    }
}

/// A signature, or the recorded reason it is missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Signature {
    /// Signed; `blob` names the signature image (drawn on the pad; content-addressed like
    /// photos) when there is one.
    Signed {
        #[serde(default)]
        signer: String,
        #[serde(default)]
        blob: Option<String>,
        /// When the signature was made (device clock).
        #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
        signed_at: Option<OffsetDateTime>,
        /// SHA-256 of the record content the signature covers
        /// ([`crate::documents::signed_content_hash`]): a signature whose content has changed
        /// since is stale and fails validation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        covers: Option<String>,
    },
    /// 拒绝签字: the reason is required.
    Refused { reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnforcementBody {
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub ended_at: OffsetDateTime,
    pub place: String,
    pub party: InspectedParty,
    pub person_present: String,
    /// At least two, each with a credential number.
    pub inspectors: Vec<EnforcementOfficer>,
    pub recorder: String,
    pub task_source: TaskSource,
    #[serde(default)]
    pub checklist: Vec<ChecklistItem>,
    /// 检查情况 (≤ 2000 characters).
    #[serde(default)]
    pub findings: String,
    #[serde(default)]
    pub violations: Vec<String>,
    /// 责令改正期限
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub rectification_deadline: Option<Date>,
    pub party_signature: Signature,
    pub inspector_signatures: Vec<Signature>,
    #[serde(default)]
    pub witness_signature: Option<Signature>,
    /// 记录人签名
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorder_signature: Option<Signature>,
}

impl EnforcementBody {
    /// Every signature with who signs in which role (party, each inspector, recorder, witness).
    pub fn signatures(&self) -> Vec<(SignerRole, &Signature)> {
        let mut out = vec![(SignerRole::Party, &self.party_signature)];
        out.extend(self.inspector_signatures.iter().enumerate().map(|(n, s)| (SignerRole::Inspector(n), s)));
        out.extend(self.recorder_signature.iter().map(|s| (SignerRole::Recorder, s)));
        out.extend(self.witness_signature.iter().map(|s| (SignerRole::Witness, s)));
        out
    }

    pub fn signatures_mut(&mut self) -> Vec<&mut Signature> {
        let mut out = vec![&mut self.party_signature];
        out.extend(self.inspector_signatures.iter_mut());
        out.extend(self.recorder_signature.iter_mut());
        out.extend(self.witness_signature.iter_mut());
        out
    }

    /// The places a signature goes on the record, in the order the form lists them, with the
    /// name printed beside each and what is there so far: the party (unless they refused: the
    /// refusal is shown instead and the witness signs), each inspector, the recorder, the
    /// witness. The app's signing card and the documents list signers from this.
    pub fn signing_slots(&self) -> Vec<SigningSlot> {
        let mut out = Vec::new();
        if !matches!(self.party_signature, Signature::Refused { .. }) {
            out.push(SigningSlot {
                role: SignerRole::Party,
                name: self.person_present.clone(),
                signature: Some(self.party_signature.clone()),
            });
        }
        for (n, o) in self.inspectors.iter().enumerate() {
            out.push(SigningSlot {
                role: SignerRole::Inspector(n),
                name: o.name.clone(),
                signature: self.inspector_signatures.get(n).cloned(),
            });
        }
        out.push(SigningSlot {
            role: SignerRole::Recorder,
            name: self.recorder.clone(),
            signature: self.recorder_signature.clone(),
        });
        out.push(SigningSlot {
            role: SignerRole::Witness,
            name: String::new(),
            signature: self.witness_signature.clone(),
        });
        out
    }

    /// Whether anything has been signed (a refusal counts: it is part of the signed record).
    pub fn has_signatures(&self) -> bool {
        self.signatures().iter().any(|(_, s)| matches!(s, Signature::Signed { blob: Some(_), .. }))
    }
}

/// One place a signature goes ([`EnforcementBody::signing_slots`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SigningSlot {
    pub role: SignerRole,
    /// The name printed beside the signature (the witness gives theirs when signing).
    pub name: String,
    pub signature: Option<Signature>,
}

/// Who signs an on-site record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", content = "index", rename_all = "snake_case")]
pub enum SignerRole {
    /// 被检查单位现场负责人
    Party,
    /// 执法人员, by position in `inspectors`.
    Inspector(usize),
    /// 记录人
    Recorder,
    /// 见证人
    Witness,
}

impl SignerRole {
    pub fn label_zh(self) -> &'static str {
        match self {
            SignerRole::Party => "被检查单位现场负责人",
            SignerRole::Inspector(_) => "执法人员",
            SignerRole::Recorder => "记录人",
            SignerRole::Witness => "见证人",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VillageRemediationBody {
    #[serde(default)]
    pub checklist: Vec<ChecklistItem>,
    /// Observed state of domestic sewage treatment; `Some` proposes the village's flag.
    #[serde(default)]
    pub sewage_treated: Option<bool>,
    #[serde(default)]
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InspectionBody {
    SewageFacility(SewageFacilityBody),
    WaterBody(WaterBodyBody),
    Enforcement(Box<EnforcementBody>),
    VillageRemediation(VillageRemediationBody),
}

impl InspectionBody {
    pub fn kind(&self) -> InspectionKind {
        match self {
            InspectionBody::SewageFacility(_) => InspectionKind::SewageFacility,
            InspectionBody::WaterBody(_) => InspectionKind::WaterBody,
            InspectionBody::Enforcement(_) => InspectionKind::Enforcement,
            InspectionBody::VillageRemediation(_) => InspectionKind::VillageRemediation,
        }
    }
}

/// One version of an inspection record as the inspector submits it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Inspection {
    #[serde(default = "schema_v1")]
    pub schema_version: u16,
    pub id: InspectionId,
    /// 1 for the first submission; a resubmission after a return is `replaces_version + 1`.
    pub version: u32,
    #[serde(default)]
    pub replaces_version: Option<u32>,
    pub site_id: SiteId,
    pub body: InspectionBody,
    #[serde(default)]
    pub position: Option<Position>,
    /// The device's clock when the record was made; display and fraud checks only.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub device_time: OffsetDateTime,
    #[serde(default)]
    pub photos: Vec<PhotoRef>,
    #[serde(default)]
    pub proposed_status: Option<SiteStatus>,
    #[serde(default)]
    pub notes: String,
    /// Document numbers and the context printed on the record's documents; absent on records
    /// made before documents existed (and then absent from the signed bytes too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<crate::documents::DocumentInfo>,
}

impl Inspection {
    pub fn kind(&self) -> InspectionKind {
        self.body.kind()
    }

    /// Every blob hash the record names (photos and signature scans), deduplicated.
    pub fn blob_hashes(&self) -> Vec<String> {
        let mut out: Vec<String> = self.photos.iter().map(|p| p.sha256.clone()).collect();
        if let InspectionBody::Enforcement(e) = &self.body {
            for (_, s) in e.signatures() {
                if let Signature::Signed { blob: Some(h), .. } = s {
                    out.push(h.clone());
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}
