//! The one set of Chinese words for the domain's values: what the app and the console show
//! (`ui::i18n` adds English beside them) and what the official documents print. Kept together so a
//! wording fixed once is fixed on the screen and on paper.

use crate::inspection::{
    ChecklistResult, ColourGrade, FacilityRunningState, InspectionKind, OdourGrade, PositionSource,
    SewageIndicator, TaskSource,
};
use crate::site::{SiteKind, SiteStatus};
use crate::thresholds::{BlackOdorousLevel, Judgement};

impl InspectionKind {
    pub fn label_zh(self) -> &'static str {
        match self {
            InspectionKind::WaterBody => "黑臭水体检查",
            InspectionKind::SewageFacility => "污水处理设施检查",
            InspectionKind::Enforcement => "执法检查",
            InspectionKind::VillageRemediation => "村庄环境整治检查",
        }
    }
}

impl crate::review::ReviewStatus {
    pub fn label_zh(self) -> &'static str {
        match self {
            crate::review::ReviewStatus::Submitted => "待审核",
            crate::review::ReviewStatus::Approved => "已通过",
            crate::review::ReviewStatus::Returned => "已退回",
            crate::review::ReviewStatus::Rejected => "不予通过",
        }
    }
}

impl SiteKind {
    pub fn label_zh(self) -> &'static str {
        match self {
            SiteKind::Village => "行政村",
            SiteKind::WaterBody => "黑臭水体",
            SiteKind::Facility => "污水处理设施",
            SiteKind::Enterprise => "企业",
        }
    }
}

impl SiteStatus {
    pub fn label_zh(self) -> &'static str {
        match self {
            SiteStatus::Planned => "未开始",
            SiteStatus::InProgress | SiteStatus::Remediating => "整治中",
            SiteStatus::Completed => "已完成",
            SiteStatus::Accepted => "已验收",
            SiteStatus::Identified => "已排查",
            SiteStatus::Eliminated => "已消除",
            SiteStatus::Running => "正常运行",
            SiteStatus::Faulty => "故障",
            SiteStatus::Stopped => "停运",
        }
    }
}

impl TaskSource {
    pub const ALL: [TaskSource; 5] = [
        TaskSource::Routine,
        TaskSource::SpecialCampaign,
        TaskSource::Complaint,
        TaskSource::Referral,
        TaskSource::Patrol,
    ];

    pub fn label_zh(self) -> &'static str {
        match self {
            TaskSource::Routine => "日常检查",
            TaskSource::SpecialCampaign => "专项检查",
            TaskSource::Complaint => "投诉举报",
            TaskSource::Referral => "转办交办",
            TaskSource::Patrol => "巡查",
        }
    }
}

impl ChecklistResult {
    pub const ALL: [ChecklistResult; 3] =
        [ChecklistResult::NoProblem, ChecklistResult::Problem, ChecklistResult::NotApplicable];

    pub fn label_zh(self) -> &'static str {
        match self {
            ChecklistResult::NoProblem => "未发现问题",
            ChecklistResult::Problem => "发现问题",
            ChecklistResult::NotApplicable => "不适用",
        }
    }
}

impl ColourGrade {
    pub const ALL: [ColourGrade; 4] =
        [ColourGrade::Normal, ColourGrade::Greyish, ColourGrade::Dark, ColourGrade::Black];

    pub fn label_zh(self) -> &'static str {
        match self {
            ColourGrade::Normal => "正常",
            ColourGrade::Greyish => "灰暗",
            ColourGrade::Dark => "发黑",
            ColourGrade::Black => "黑色",
        }
    }
}

impl OdourGrade {
    pub const ALL: [OdourGrade; 4] =
        [OdourGrade::None, OdourGrade::Slight, OdourGrade::Noticeable, OdourGrade::Strong];

    pub fn label_zh(self) -> &'static str {
        match self {
            OdourGrade::None => "无异味",
            OdourGrade::Slight => "轻微",
            OdourGrade::Noticeable => "明显",
            OdourGrade::Strong => "强烈",
        }
    }
}

impl FacilityRunningState {
    pub const ALL: [FacilityRunningState; 3] =
        [FacilityRunningState::Running, FacilityRunningState::Faulty, FacilityRunningState::Stopped];

    /// The same words as the site status it sets.
    pub fn label_zh(self) -> &'static str {
        self.as_site_status().label_zh()
    }
}

impl SewageIndicator {
    pub const ALL: [SewageIndicator; 5] = [
        SewageIndicator::Cod,
        SewageIndicator::Nh3n,
        SewageIndicator::Tp,
        SewageIndicator::Ss,
        SewageIndicator::Ph,
    ];

    pub fn label_zh(self) -> &'static str {
        match self {
            SewageIndicator::Cod => "化学需氧量",
            SewageIndicator::Nh3n => "氨氮",
            SewageIndicator::Tp => "总磷",
            SewageIndicator::Ss => "悬浮物",
            SewageIndicator::Ph => "pH",
        }
    }

    /// The unit a reading is given in (pH has none).
    pub fn unit(self) -> Option<&'static str> {
        match self {
            SewageIndicator::Ph => None,
            _ => Some("mg/L"),
        }
    }
}

impl PositionSource {
    pub const ALL: [PositionSource; 4] =
        [PositionSource::Gps, PositionSource::Receiver, PositionSource::Exif, PositionSource::Manual];

    pub fn label_zh(self) -> &'static str {
        match self {
            PositionSource::Gps => "本机定位",
            PositionSource::Receiver => "外接 GNSS 接收机",
            PositionSource::Exif => "照片 EXIF",
            PositionSource::Manual => "手动输入",
        }
    }
}

impl BlackOdorousLevel {
    pub const ALL: [BlackOdorousLevel; 4] = [
        BlackOdorousLevel::Undetermined,
        BlackOdorousLevel::NotBlackOdorous,
        BlackOdorousLevel::Mild,
        BlackOdorousLevel::Severe,
    ];

    pub fn label_zh(self) -> &'static str {
        match self {
            BlackOdorousLevel::Undetermined => "无法判定",
            BlackOdorousLevel::NotBlackOdorous => "非黑臭",
            BlackOdorousLevel::Mild => "轻度黑臭",
            BlackOdorousLevel::Severe => "重度黑臭",
        }
    }
}

/// What a judgement's basis names (see [`Judgement::basis`]); an unknown name is shown as is.
pub fn basis_label_zh(basis: &str) -> &str {
    match basis {
        "transparency" => "透明度",
        "dissolved_oxygen" => "溶解氧",
        "orp" => "氧化还原电位",
        "ammonia_nitrogen" => "氨氮",
        "public_survey" => "公众调查",
        "sensory" => "感官",
        other => other,
    }
}

impl Judgement {
    /// 轻度黑臭（依据：透明度、溶解氧）
    pub fn text_zh(&self) -> String {
        let level = self.level.label_zh();
        if self.basis.is_empty() {
            level.to_string()
        } else {
            let basis: Vec<&str> = self.basis.iter().map(|b| basis_label_zh(b)).collect();
            format!("{level}（依据：{}）", basis.join("、"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn distinct<T: Copy>(all: &[T], label: impl Fn(T) -> &'static str) -> usize {
        all.iter().map(|v| label(*v)).filter(|l| !l.is_empty()).collect::<HashSet<_>>().len()
    }

    #[test]
    fn every_value_has_its_own_words() {
        assert_eq!(distinct(&InspectionKind::ALL, InspectionKind::label_zh), 4);
        assert_eq!(distinct(&SiteKind::ALL, SiteKind::label_zh), 4);
        // 整治中 names both a village's and a water body's remediation: one per site kind.
        assert_eq!(distinct(&SiteStatus::ALL, SiteStatus::label_zh), 9);
        for kind in SiteKind::ALL {
            let of_kind: Vec<_> = SiteStatus::ALL.into_iter().filter(|s| s.applies_to(kind)).collect();
            assert_eq!(distinct(&of_kind, SiteStatus::label_zh), of_kind.len(), "{kind:?}");
        }
        assert_eq!(distinct(&TaskSource::ALL, TaskSource::label_zh), 5);
        assert_eq!(distinct(&ChecklistResult::ALL, ChecklistResult::label_zh), 3);
        assert_eq!(distinct(&ColourGrade::ALL, ColourGrade::label_zh), 4);
        assert_eq!(distinct(&OdourGrade::ALL, OdourGrade::label_zh), 4);
        assert_eq!(distinct(&FacilityRunningState::ALL, FacilityRunningState::label_zh), 3);
        assert_eq!(distinct(&SewageIndicator::ALL, SewageIndicator::label_zh), 5);
        assert_eq!(distinct(&PositionSource::ALL, PositionSource::label_zh), 4);
        assert_eq!(distinct(&BlackOdorousLevel::ALL, BlackOdorousLevel::label_zh), 4);
    }

    #[test]
    fn a_judgement_reads_with_its_basis() {
        let j = Judgement {
            level: BlackOdorousLevel::Mild,
            basis: vec!["transparency".into(), "dissolved_oxygen".into()],
        };
        assert_eq!(j.text_zh(), "轻度黑臭（依据：透明度、溶解氧）");
        assert_eq!(Judgement { level: BlackOdorousLevel::Severe, basis: vec![] }.text_zh(), "重度黑臭");
    }
}
