//! What the console reads and sends: tracking against targets, monthly dispatch, the supervision
//! list, the review queue, record detail with history, and user administration. The server
//! produces these and the browser console consumes them, so both compile the same definitions.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::auth::{Role, UserInfo};
use crate::flags::Flag;
use crate::inspection::Inspection;
use crate::region::{Region, RegionCode};
use crate::review::{ReviewDecision, ReviewStatus};
use crate::site::Site;
use crate::sync::InspectionRecord;
use crate::{ApiError, DeviceId, InspectionId, UserId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CountProgress {
    pub target: f64,
    pub done: i64,
    /// done / target, percent (0 when there is no target).
    pub pct: f64,
    /// What the monthly plan expects done by the end of the month.
    pub planned: f64,
    pub behind: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateProgress {
    pub target_pct: f64,
    pub treated: i64,
    pub villages: i64,
    pub rate_pct: f64,
    pub planned_pct: f64,
    pub behind: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegionProgress {
    pub region: Region,
    pub villages: CountProgress,
    pub water_bodies: CountProgress,
    pub sewage: RateProgress,
    pub behind: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tracking {
    pub year: i32,
    /// The month (1–12) the plan is read at.
    pub month: u8,
    /// Share of the year elapsed at the end of that month.
    pub year_elapsed: f64,
    pub region: RegionProgress,
    /// One row per child region (for a township: per village).
    pub children: Vec<RegionProgress>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonthRow {
    pub month: u8,
    pub villages_done: i64,
    pub villages_planned: f64,
    pub villages_cumulative: i64,
    pub water_done: i64,
    pub water_planned: f64,
    pub water_cumulative: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dispatch {
    pub region: Region,
    pub year: i32,
    pub villages_target: f64,
    pub water_target: f64,
    pub months: Vec<MonthRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SupervisionRow {
    pub progress: RegionProgress,
    /// Units the region is short of its plan (villages + water bodies).
    pub shortfall: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueItem {
    pub record: InspectionRecord,
    pub site_name: String,
    pub flags: Vec<Flag>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueuePage {
    /// How many records match, counted up to a cap (10,000; 1,000 under a flag filter): see
    /// `total_capped`.
    pub total: u64,
    /// More than `total` match (the queue does not count a province's million per page).
    #[serde(default)]
    pub total_capped: bool,
    pub items: Vec<QueueItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BulkItem {
    pub id: InspectionId,
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BulkReview {
    pub items: Vec<BulkItem>,
    pub decision: ReviewDecision,
    #[serde(default)]
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BulkResult {
    pub id: InspectionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ReviewStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

/// One record as a reviewer sees it: the current version, every version, the audit trail, the
/// site it was made at and the warnings computed against that site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordDetail {
    pub record: InspectionRecord,
    /// Every submitted version, oldest first.
    pub versions: Vec<Inspection>,
    pub history: Vec<AuditView>,
    #[serde(default)]
    pub site: Option<Site>,
    #[serde(default)]
    pub flags: Vec<Flag>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditView {
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: OffsetDateTime,
    pub user_id: Option<UserId>,
    pub device_id: Option<DeviceId>,
    pub action: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewUser {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub username: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub display_name: String,
    pub role: Role,
    pub region: RegionCode,
    /// At least 10 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 10, max_length = 1024))]
    pub password: String,
    /// Inspectors: the villages they are assigned to (inside `region`).
    #[serde(default)]
    pub villages: Vec<RegionCode>,
}

/// A change to an existing user; absent fields stay as they are. Disabling a user (or setting a
/// new password) revokes every token they hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<RegionCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 10, max_length = 1024))]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub villages: Option<Vec<RegionCode>>,
}

/// A user as administrators see them (never the password hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserView {
    pub user: UserInfo,
    #[serde(default)]
    pub disabled: bool,
    pub villages: Vec<RegionCode>,
}

/// The console's settings: the map's optional tile source (after login: it may hold a key).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsoleConfig {
    /// Tile URL with `{z}`, `{x}`, `{y}`; none means a plain grid (works with no internet).
    #[serde(default)]
    pub tile_url: Option<String>,
    /// The tiles are drawn in GCJ-02: shift WGS-84 points before placing them.
    #[serde(default)]
    pub tile_gcj02: bool,
}

/// The audit log's head: the number and chained hash of its last entry. Written down outside
/// the server, it later proves the log up to it was not rewritten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditHead {
    /// Number of the last entry (entries are numbered from 1 without gaps; 0 for an empty log).
    pub seq: u64,
    /// Lower-case hex SHA-256 of that entry, chained over every entry before it.
    pub hash: String,
}

/// What the flag statistics (疑点统计) are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FlagStatsBy {
    Township,
    Inspector,
}

/// Flags of one township or inspector in a year: per kind and per month (Asia/Shanghai).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlagStatsRow {
    /// The township's code or the inspector's username.
    pub key: String,
    pub name: String,
    /// Records with at least one flag.
    pub records: u64,
    /// Flags in all.
    pub total: u64,
    /// Flags per kind (`Flag::kind`).
    pub by_kind: std::collections::BTreeMap<String, u64>,
    /// Flags per month, January first.
    pub by_month: Vec<u64>,
}

/// 疑点统计: flags of current record versions in the caller's region, most flagged first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlagStats {
    pub by: FlagStatsBy,
    pub year: i32,
    pub rows: Vec<FlagStatsRow>,
}

/// Points of one kind for the console's map, as parallel columns (a province's 28,000 sites
/// are about a sixth of their GeoJSON): `names[i]` is at (`lng[i]`, `lat[i]`), WGS-84 rounded to
/// 1e-6° (about 0.1 m).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PointColumns {
    /// Record ids, for points that open a record (empty for sites).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<InspectionId>,
    pub names: Vec<String>,
    pub lng: Vec<f64>,
    pub lat: Vec<f64>,
}

impl PointColumns {
    pub fn push(&mut self, name: &str, lng: f64, lat: f64) {
        let round = |x: f64| (x * 1e6).round() / 1e6;
        self.names.push(name.to_string());
        self.lng.push(round(lng));
        self.lat.push(round(lat));
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// What the console's map draws: the sites in scope with a registered position, and the
/// records waiting for review with theirs (newest first, at most `MapPoints::PENDING_CAP`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MapPoints {
    #[serde(default = "one")]
    pub v: u32,
    pub sites: PointColumns,
    pub pending: PointColumns,
    /// More records wait than `pending` holds.
    #[serde(default)]
    pub pending_capped: bool,
}

fn one() -> u32 {
    1
}

impl MapPoints {
    pub const PENDING_CAP: usize = 20_000;
}
