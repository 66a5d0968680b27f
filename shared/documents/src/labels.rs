//! How the forms print positions, times and numbers. The words for the domain's values are
//! `shared::labels` (the same the app and the console show).

use shared::clock::BEIJING;
use shared::inspection::{Position, SewageIndicator};
use time::{Date, OffsetDateTime};

/// 化学需氧量（mg/L）: the indicator's words (from `shared::labels`) with its unit.
pub fn indicator(i: SewageIndicator) -> String {
    match i.unit() {
        Some(unit) => format!("{}（{unit}）", i.label_zh()),
        None => i.label_zh().to_string(),
    }
}

pub fn position(p: &Position) -> String {
    let mut s =
        format!("东经 {:.6}°，北纬 {:.6}°（WGS-84，{}", p.point.lng(), p.point.lat(), p.source.label_zh());
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
