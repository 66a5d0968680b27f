//! Sites: things in the world tracked across many visits, each with a remediation lifecycle.

use serde::{Deserialize, Serialize};

use crate::geo::LngLat;
use crate::ids::SiteId;
use crate::region::RegionCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SiteKind {
    /// 行政村
    Village,
    /// 黑臭水体
    WaterBody,
    /// 农村生活污水处理设施
    Facility,
    /// 被检查企业
    Enterprise,
}

impl SiteKind {
    pub const ALL: [SiteKind; 4] =
        [SiteKind::Village, SiteKind::WaterBody, SiteKind::Facility, SiteKind::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            SiteKind::Village => "village",
            SiteKind::WaterBody => "water_body",
            SiteKind::Facility => "facility",
            SiteKind::Enterprise => "enterprise",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The status a newly registered site of this kind starts in.
    pub fn initial_status(self) -> Option<SiteStatus> {
        match self {
            SiteKind::Village => Some(SiteStatus::Planned),
            SiteKind::WaterBody => Some(SiteStatus::Identified),
            SiteKind::Facility => Some(SiteStatus::Running),
            SiteKind::Enterprise => None,
        }
    }
}

/// Remediation / running status. One flat enum so that a proposed change is a single string on
/// the wire; [`SiteStatus::applies_to`] says which kind each value belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SiteStatus {
    // Village: 未开始 → 整治中 → 已完成 → 已验收
    Planned,
    InProgress,
    Completed,
    // Water body: 已排查 → 整治中 → 已消除 → 已验收 (relapse goes back to remediating)
    Identified,
    Remediating,
    Eliminated,
    // Shared final state of villages and water bodies.
    Accepted,
    // Facility running state.
    Running,
    Faulty,
    Stopped,
}

impl SiteStatus {
    pub const ALL: [SiteStatus; 10] = [
        SiteStatus::Planned,
        SiteStatus::InProgress,
        SiteStatus::Completed,
        SiteStatus::Identified,
        SiteStatus::Remediating,
        SiteStatus::Eliminated,
        SiteStatus::Accepted,
        SiteStatus::Running,
        SiteStatus::Faulty,
        SiteStatus::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SiteStatus::Planned => "planned",
            SiteStatus::InProgress => "in_progress",
            SiteStatus::Completed => "completed",
            SiteStatus::Identified => "identified",
            SiteStatus::Remediating => "remediating",
            SiteStatus::Eliminated => "eliminated",
            SiteStatus::Accepted => "accepted",
            SiteStatus::Running => "running",
            SiteStatus::Faulty => "faulty",
            SiteStatus::Stopped => "stopped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn applies_to(self, kind: SiteKind) -> bool {
        use SiteStatus::*;
        match kind {
            SiteKind::Village => matches!(self, Planned | InProgress | Completed | Accepted),
            SiteKind::WaterBody => matches!(self, Identified | Remediating | Eliminated | Accepted),
            SiteKind::Facility => matches!(self, Running | Faulty | Stopped),
            SiteKind::Enterprise => false,
        }
    }

    /// Whether a site in this status counts as done toward a remediation target
    /// (village remediated, water body eliminated).
    pub fn counts_as_done(self) -> bool {
        matches!(self, SiteStatus::Completed | SiteStatus::Eliminated | SiteStatus::Accepted)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("状态 {0} 不适用于该类点位")]
    WrongKind(&'static str),
    #[error("不允许从 {from} 变更为 {to}")]
    Illegal { from: &'static str, to: &'static str },
}

/// Check a site status transition. Staying in the same status is not a transition.
pub fn check_transition(kind: SiteKind, from: SiteStatus, to: SiteStatus) -> Result<(), TransitionError> {
    use SiteStatus::*;
    if !to.applies_to(kind) {
        return Err(TransitionError::WrongKind(to.as_str()));
    }
    if !from.applies_to(kind) {
        return Err(TransitionError::WrongKind(from.as_str()));
    }
    let ok = match kind {
        SiteKind::Village => matches!(
            (from, to),
            (Planned, InProgress)
                | (InProgress, Completed)
                | (Completed, Accepted)
                // Acceptance failed: back to work.
                | (Completed, InProgress)
        ),
        SiteKind::WaterBody => matches!(
            (from, to),
            (Identified, Remediating)
                | (Remediating, Eliminated)
                | (Eliminated, Accepted)
                // Relapse (返黑返臭).
                | (Eliminated, Remediating)
                | (Accepted, Remediating)
        ),
        SiteKind::Facility => from != to,
        SiteKind::Enterprise => false,
    };
    if ok { Ok(()) } else { Err(TransitionError::Illegal { from: from.as_str(), to: to.as_str() }) }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WaterType {
    /// 河流
    River,
    /// 沟渠
    Ditch,
    /// 坑塘
    Pond,
    /// 湖泊
    Lake,
    /// 水库
    Reservoir,
}

impl WaterType {
    /// Closed waters are one body each; rivers and ditches are split into stretches.
    pub fn is_linear(self) -> bool {
        matches!(self, WaterType::River | WaterType::Ditch)
    }
}

/// Main pollution cause codes of the published lists. `a` and `b` are the published meanings;
/// the rest follow the same list's order and are configurable labels in the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PollutionCause {
    /// 生活污水
    #[serde(rename = "a")]
    DomesticSewage,
    /// 畜禽养殖
    #[serde(rename = "b")]
    Livestock,
    /// 水产养殖
    #[serde(rename = "c")]
    Aquaculture,
    /// 种植业面源
    #[serde(rename = "d")]
    Farming,
    /// 工业废水
    #[serde(rename = "e")]
    Industrial,
    /// 垃圾
    #[serde(rename = "f")]
    Garbage,
    /// 内源污染
    #[serde(rename = "g")]
    Sediment,
    /// 其他
    #[serde(rename = "h")]
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JudgementMethod {
    /// 感官判定
    Sensory,
    /// 公众调查
    PublicSurvey,
    /// 水质监测
    Monitoring,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SupervisionLevel {
    /// 国家监管 (area ≥ 2000 m²)
    National,
    /// 省级监管
    Provincial,
}

/// Area from which a water body is on the national supervision list.
pub const NATIONAL_SUPERVISION_AREA_M2: f64 = 2000.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WaterBodyDetails {
    pub water_type: WaterType,
    #[serde(default)]
    pub area_m2: Option<f64>,
    #[serde(default)]
    pub length_m: Option<f64>,
    #[serde(default)]
    pub width_m: Option<f64>,
    #[serde(default)]
    pub start_name: String,
    #[serde(default)]
    pub start: Option<LngLat>,
    #[serde(default)]
    pub end_name: String,
    #[serde(default)]
    pub end: Option<LngLat>,
    #[serde(default)]
    pub pollution_causes: Vec<PollutionCause>,
    /// e.g. "2026Q3"
    #[serde(default)]
    pub planned_completion: String,
    #[serde(default)]
    pub holds_water_all_year: bool,
    pub judged_by: JudgementMethod,
    /// On the supervision list (监管清单) tracked against the 123 target.
    #[serde(default)]
    pub listed: bool,
}

impl WaterBodyDetails {
    pub fn supervision_level(&self) -> SupervisionLevel {
        match self.area_m2 {
            Some(a) if a >= NATIONAL_SUPERVISION_AREA_M2 => SupervisionLevel::National,
            _ => SupervisionLevel::Provincial,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FacilityType {
    /// 集中式
    Centralised,
    /// 分散式
    Decentralised,
    /// 纳管 (connected to a town sewer)
    SewerConnected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FacilityDetails {
    pub facility_type: FacilityType,
    /// Design capacity in tonnes per day.
    pub design_capacity_tpd: f64,
}

/// Facilities below this capacity fall under the provincial standard DB42/1537-2019.
pub const PROVINCIAL_STANDARD_MAX_TPD: f64 = 500.0;

impl FacilityDetails {
    pub fn under_provincial_standard(&self) -> bool {
        self.design_capacity_tpd < PROVINCIAL_STANDARD_MAX_TPD
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnterpriseDetails {
    /// 统一社会信用代码
    pub uscc: String,
    #[serde(default)]
    pub legal_representative: String,
    #[serde(default)]
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VillageDetails {
    /// Year of the remediation task this village is on, if any.
    #[serde(default)]
    pub task_year: Option<i32>,
    /// Counts toward the rural domestic sewage treatment rate.
    #[serde(default)]
    pub sewage_treated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SiteDetails {
    Village(VillageDetails),
    WaterBody(WaterBodyDetails),
    Facility(FacilityDetails),
    Enterprise(EnterpriseDetails),
}

impl SiteDetails {
    pub fn kind(&self) -> SiteKind {
        match self {
            SiteDetails::Village(_) => SiteKind::Village,
            SiteDetails::WaterBody(_) => SiteKind::WaterBody,
            SiteDetails::Facility(_) => SiteKind::Facility,
            SiteDetails::Enterprise(_) => SiteKind::Enterprise,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Site {
    pub id: SiteId,
    /// The administrative village the site belongs to.
    pub village: RegionCode,
    pub name: String,
    /// Registered position (WGS-84).
    #[serde(default)]
    pub position: Option<LngLat>,
    #[serde(default)]
    pub status: Option<SiteStatus>,
    pub details: SiteDetails,
    /// Server's change counter for the site, bumped on every change.
    #[serde(default)]
    pub version: u64,
    /// Produced by the demo generator.
    #[serde(default)]
    pub generated: bool,
    /// When the site last came to count as done (remediated, eliminated), as YYYYMM in
    /// Asia/Shanghai; `None` while it does not. Monthly dispatch counts completions by it.
    #[serde(default)]
    pub done_month: Option<u32>,
}

impl Site {
    pub fn kind(&self) -> SiteKind {
        self.details.kind()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn village_lifecycle() {
        use SiteStatus::*;
        let k = SiteKind::Village;
        assert!(check_transition(k, Planned, InProgress).is_ok());
        assert!(check_transition(k, InProgress, Completed).is_ok());
        assert!(check_transition(k, Completed, Accepted).is_ok());
        assert!(check_transition(k, Planned, Accepted).is_err());
        assert!(check_transition(k, Accepted, Planned).is_err());
        assert!(matches!(
            check_transition(k, Planned, Eliminated),
            Err(TransitionError::WrongKind("eliminated"))
        ));
    }

    #[test]
    fn water_body_relapse() {
        use SiteStatus::*;
        let k = SiteKind::WaterBody;
        assert!(check_transition(k, Eliminated, Remediating).is_ok());
        assert!(check_transition(k, Accepted, Remediating).is_ok());
        assert!(check_transition(k, Identified, Eliminated).is_err());
    }

    #[test]
    fn facility_any_change_enterprise_none() {
        use SiteStatus::*;
        assert!(check_transition(SiteKind::Facility, Running, Faulty).is_ok());
        assert!(check_transition(SiteKind::Facility, Faulty, Faulty).is_err());
        assert!(check_transition(SiteKind::Enterprise, Running, Faulty).is_err());
    }

    #[test]
    fn supervision_level_from_area() {
        let mut w = WaterBodyDetails {
            water_type: WaterType::Pond,
            area_m2: Some(2000.0),
            length_m: None,
            width_m: None,
            start_name: String::new(),
            start: None,
            end_name: String::new(),
            end: None,
            pollution_causes: vec![PollutionCause::DomesticSewage],
            planned_completion: "2026Q3".into(),
            holds_water_all_year: true,
            judged_by: JudgementMethod::Sensory,
            listed: true,
        };
        assert_eq!(w.supervision_level(), SupervisionLevel::National);
        w.area_m2 = Some(1999.9);
        assert_eq!(w.supervision_level(), SupervisionLevel::Provincial);
        let json = serde_json::to_value(&w).unwrap();
        assert_eq!(json["pollution_causes"][0], "a");
    }
}
