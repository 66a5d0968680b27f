//! 疑点统计: the stored flags of current record versions in the caller's region, per township
//! or per inspector, per kind and per month (Asia/Shanghai), and the same as CSV.

use std::collections::{BTreeMap, HashMap};

use shared::ErrorCode;
use shared::auth::Role;
pub use shared::console::{FlagStats, FlagStatsBy, FlagStatsRow};
use shared::flags::FLAG_KINDS;
use shared::region::{RegionCode, RegionLevel};
use shared::{InspectionId, UserId};
use time::OffsetDateTime;

use crate::domain::{Actor, scope};
use crate::error::{AppError, AppResult};
use crate::store::Store;

/// The first instant of a year in Asia/Shanghai.
fn year_start(year: i32) -> AppResult<OffsetDateTime> {
    let date = time::Date::from_calendar_date(year, time::Month::January, 1)
        .map_err(|_| AppError::field(ErrorCode::OutOfRange, "year", "年份无效"))?;
    Ok(date.midnight().assume_offset(time::macros::offset!(+8)))
}

pub fn stats(
    store: &dyn Store,
    actor: &Actor,
    by: FlagStatsBy,
    year: i32,
    region: Option<RegionCode>,
) -> AppResult<FlagStats> {
    if actor.user.role == Role::Inspector {
        return Err(AppError::api(ErrorCode::Forbidden, "检查员不能查看疑点统计"));
    }
    let area = match region {
        Some(r) if scope::region_covers(actor, &r) => r,
        Some(_) => return Err(AppError::not_found()),
        None => actor.user.region,
    };
    let (lo, hi) = area.descendant_range();
    let (from, to) = (year_start(year)?, year_start(year + 1)?);
    let mut tx = store.read()?;
    #[derive(Default)]
    struct Acc {
        records: std::collections::HashSet<InspectionId>,
        total: u64,
        by_kind: BTreeMap<String, u64>,
        by_month: [u64; 12],
    }
    let mut groups: HashMap<String, Acc> = HashMap::new();
    let mut users: HashMap<String, UserId> = HashMap::new();
    tx.for_each_flag(&lo, &hi, from, to, &mut |row| {
        let key = match by {
            FlagStatsBy::Township => row
                .village
                .lineage()
                .into_iter()
                .find(|r| r.level() == RegionLevel::Township)
                .unwrap_or(row.village)
                .to_string(),
            FlagStatsBy::Inspector => {
                let k = row.user_id.to_string();
                users.insert(k.clone(), row.user_id);
                k
            }
        };
        let acc = groups.entry(key).or_default();
        acc.records.insert(row.record_id);
        acc.total += 1;
        *acc.by_kind.entry(row.flag.kind().to_string()).or_default() += 1;
        let month = crate::shanghai_month(row.received_at) % 100;
        acc.by_month[(month as usize).clamp(1, 12) - 1] += 1;
    })?;
    let mut rows = Vec::with_capacity(groups.len());
    for (key, acc) in groups {
        let (key, name) = match by {
            FlagStatsBy::Township => {
                let name = match RegionCode::parse(&key) {
                    Ok(code) => tx.region(&code)?.map(|r| r.name).unwrap_or_default(),
                    Err(_) => String::new(),
                };
                (key, name)
            }
            FlagStatsBy::Inspector => match users.get(&key) {
                Some(id) => match tx.user_by_id(id)? {
                    Some(u) => (u.info.username, u.info.display_name),
                    None => (key, String::new()),
                },
                None => (key, String::new()),
            },
        };
        rows.push(FlagStatsRow {
            key,
            name,
            records: acc.records.len() as u64,
            total: acc.total,
            by_kind: acc.by_kind,
            by_month: acc.by_month.to_vec(),
        });
    }
    rows.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.key.cmp(&b.key)));
    Ok(FlagStats { by, year, rows })
}

/// The statistics as CSV with a BOM: one row per township or inspector, a column per flag kind
/// and per month.
pub fn csv(s: &FlagStats) -> String {
    let first = match s.by {
        FlagStatsBy::Township => "乡镇代码,乡镇",
        FlagStatsBy::Inspector => "用户名,检查员",
    };
    let mut out = format!("\u{feff}{first},有疑点记录数,疑点合计");
    for k in FLAG_KINDS {
        out.push(',');
        out.push_str(k);
    }
    for m in 1..=12 {
        out.push_str(&format!(",{}年{m}月", s.year));
    }
    out.push_str("\r\n");
    for r in &s.rows {
        let mut cells =
            vec![csv_field(&r.key), csv_field(&r.name), r.records.to_string(), r.total.to_string()];
        cells.extend(FLAG_KINDS.iter().map(|k| r.by_kind.get(*k).copied().unwrap_or(0).to_string()));
        cells.extend(r.by_month.iter().map(|n| n.to_string()));
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

/// Names come from users: a leading = + - @ would make a spreadsheet run the cell as a formula.
fn csv_field(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@']) {
        crate::domain::export::csv_field(&format!("'{s}"))
    } else {
        crate::domain::export::csv_field(s)
    }
}
