//! Chinese words for the domain's values as the forms print them.

use shared::clock::BEIJING;
use shared::inspection::{
    ChecklistResult, ColourGrade, FacilityRunningState, OdourGrade, Position, PositionSource,
    SewageIndicator, TaskSource,
};
use shared::site::SiteStatus;
use shared::thresholds::{BlackOdorousLevel, Judgement};
use time::{Date, OffsetDateTime};

pub fn task_source(s: TaskSource) -> &'static str {
    match s {
        TaskSource::Routine => "日常检查",
        TaskSource::SpecialCampaign => "专项检查",
        TaskSource::Complaint => "投诉举报",
        TaskSource::Referral => "转办交办",
        TaskSource::Patrol => "巡查",
    }
}

pub fn checklist_result(r: ChecklistResult) -> &'static str {
    match r {
        ChecklistResult::NoProblem => "未发现问题",
        ChecklistResult::Problem => "发现问题",
        ChecklistResult::NotApplicable => "不适用",
    }
}

pub fn colour(c: ColourGrade) -> &'static str {
    match c {
        ColourGrade::Normal => "正常",
        ColourGrade::Greyish => "灰暗",
        ColourGrade::Dark => "发黑",
        ColourGrade::Black => "黑色",
    }
}

pub fn odour(o: OdourGrade) -> &'static str {
    match o {
        OdourGrade::None => "无异味",
        OdourGrade::Slight => "轻微",
        OdourGrade::Noticeable => "明显",
        OdourGrade::Strong => "强烈",
    }
}

pub fn running(r: FacilityRunningState) -> &'static str {
    match r {
        FacilityRunningState::Running => "正常运行",
        FacilityRunningState::Faulty => "故障",
        FacilityRunningState::Stopped => "停运",
    }
}

pub fn indicator(i: SewageIndicator) -> &'static str {
    match i {
        SewageIndicator::Cod => "化学需氧量（mg/L）",
        SewageIndicator::Nh3n => "氨氮（mg/L）",
        SewageIndicator::Tp => "总磷（mg/L）",
        SewageIndicator::Ss => "悬浮物（mg/L）",
        SewageIndicator::Ph => "pH",
    }
}

pub fn site_status(s: SiteStatus) -> &'static str {
    match s {
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

pub fn judgement(j: &Judgement) -> String {
    let level = match j.level {
        BlackOdorousLevel::Undetermined => "无法判定",
        BlackOdorousLevel::NotBlackOdorous => "非黑臭",
        BlackOdorousLevel::Mild => "轻度黑臭",
        BlackOdorousLevel::Severe => "重度黑臭",
    };
    let basis: Vec<&str> = j
        .basis
        .iter()
        .map(|b| match b.as_str() {
            "transparency" => "透明度",
            "dissolved_oxygen" => "溶解氧",
            "orp" => "氧化还原电位",
            "ammonia_nitrogen" => "氨氮",
            "public_survey" => "公众调查",
            "sensory" => "感官",
            other => other,
        })
        .collect();
    if basis.is_empty() { level.to_string() } else { format!("{level}（依据：{}）", basis.join("、")) }
}

fn source(s: PositionSource) -> &'static str {
    match s {
        PositionSource::Gps => "本机定位",
        PositionSource::Receiver => "外接 GNSS 接收机",
        PositionSource::Exif => "照片 EXIF",
        PositionSource::Manual => "手动输入",
    }
}

pub fn position(p: &Position) -> String {
    let mut s =
        format!("东经 {:.6}°，北纬 {:.6}°（WGS-84，{}", p.point.lng(), p.point.lat(), source(p.source));
    if let Some(a) = p.accuracy_m {
        s.push_str(&format!("，精度 {a:.0} 米"));
    }
    s.push('）');
    if let Some(r) = &p.manual_reason {
        s.push_str(&format!("；手动输入原因：{r}"));
    }
    s
}

/// 2026年11月20日09时30分, in Beijing time.
pub fn minute(t: OffsetDateTime) -> String {
    let t = t.to_offset(BEIJING);
    format!("{}年{:02}月{:02}日{:02}时{:02}分", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

/// 2026年11月20日09时30分15秒, in Beijing time.
pub fn second(t: OffsetDateTime) -> String {
    let t = t.to_offset(BEIJING);
    format!("{}{:02}秒", minute(t), t.second())
}

pub fn date(d: Date) -> String {
    format!("{}年{:02}月{:02}日", d.year(), u8::from(d.month()), d.day())
}

/// A number without trailing zeros: 1.50 → 1.5, 2.00 → 2.
pub fn num(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
