//! Tracking against targets, province → prefecture → county → township → village: progress
//! tables, monthly dispatch (按月调度) and the supervision list (督办). Everything is read from
//! maintained counters and targets, never from inspections, so a province-wide table costs
//! O(regions).

use std::collections::{BTreeSet, HashMap};

use shared::auth::Role;
pub use shared::console::{
    CountProgress, Dispatch, MonthRow, RateProgress, RegionProgress, SupervisionRow, Tracking,
};
use shared::region::{Region, RegionCode, RegionLevel};
use shared::site::{Site, SiteDetails, SiteStatus};
use shared::target::{Target, TargetMetric};

use crate::domain::rollup::metric;
use crate::domain::{Actor, scope};
use crate::error::{AppError, AppResult};
use crate::store::{CounterKey, SiteFilter, Store, Tx};

/// The counters and targets the progress of a set of regions reads, fetched in two statements
/// whatever the number of regions (a supervision list reads all 1,265 townships at once).
struct Facts {
    counters: HashMap<CounterKey, i64>,
    targets: HashMap<(RegionCode, TargetMetric), Target>,
}

/// The counters [`region_progress`] reads for a region.
fn progress_counters(region: &RegionCode, year: i32) -> [CounterKey; 6] {
    let key = |m: &str, period: i32| CounterKey { region: *region, metric: m.into(), year: period };
    [
        key(metric::TASK_VILLAGES, year),
        key(metric::WATER_BODIES_LISTED, 0),
        key(metric::TASK_VILLAGES_DONE, year),
        key(metric::WATER_BODIES_DONE, 0),
        key(metric::VILLAGES, 0),
        key(metric::VILLAGES_SEWAGE_TREATED, 0),
    ]
}

impl Facts {
    /// Everything the progress of `regions` reads, plus `extra` counters.
    fn load(tx: &mut dyn Tx, year: i32, regions: &[RegionCode], extra: &[CounterKey]) -> AppResult<Facts> {
        let lineages: BTreeSet<RegionCode> = regions.iter().flat_map(|r| r.lineage()).collect();
        let lineages: Vec<RegionCode> = lineages.into_iter().collect();
        let targets =
            tx.targets_of(year, &lineages)?.into_iter().map(|t| ((t.region, t.metric), t)).collect();
        let mut keys: Vec<CounterKey> = regions.iter().flat_map(|r| progress_counters(r, year)).collect();
        keys.extend_from_slice(extra);
        keys.sort();
        keys.dedup();
        let values = tx.counters(&keys)?;
        Ok(Facts { counters: keys.into_iter().zip(values).collect(), targets })
    }

    /// The target of a region, or of its nearest ancestor that has one (for the plan shape and
    /// the rate); counts fall back to what the region actually holds (its task villages /
    /// listed water bodies) when no share was set for it.
    fn target(&self, region: &RegionCode, m: TargetMetric) -> Option<(Target, bool)> {
        region
            .lineage()
            .into_iter()
            .rev()
            .enumerate()
            .find_map(|(n, r)| self.targets.get(&(r, m)).map(|t| (t.clone(), n == 0)))
    }

    fn counter(&self, region: &RegionCode, m: &str, period: i32) -> i64 {
        let key = CounterKey { region: *region, metric: m.into(), year: period };
        self.counters.get(&key).copied().unwrap_or(0)
    }
}

fn count_progress(target: f64, done: i64, plan_share: f64) -> CountProgress {
    let planned = target * plan_share;
    CountProgress {
        target,
        done,
        pct: if target > 0.0 { 100.0 * done as f64 / target } else { 0.0 },
        planned,
        // Whole units: behind when fewer are done than the plan's rounded-down expectation.
        behind: (done as f64) < planned.floor(),
    }
}

fn plan_share(t: &Option<(Target, bool)>, month: u8) -> f64 {
    match t {
        Some((t, _)) => t.monthly_plan.get(usize::from(month.clamp(1, 12)) - 1).copied().unwrap_or(1.0),
        None => f64::from(month) / 12.0,
    }
}

/// Progress of one region above village level, from counters and targets.
fn region_progress(f: &Facts, region: Region, year: i32, month: u8) -> RegionProgress {
    let code = region.code;
    let tv = f.target(&code, TargetMetric::VillagesRemediated);
    let tw = f.target(&code, TargetMetric::WaterBodiesEliminated);
    let tr = f.target(&code, TargetMetric::SewageTreatmentRate);
    let task = f.counter(&code, metric::TASK_VILLAGES, year);
    let listed = f.counter(&code, metric::WATER_BODIES_LISTED, 0);
    let v_target = match &tv {
        Some((t, true)) => t.value,
        _ => task as f64,
    };
    let w_target = match &tw {
        Some((t, true)) => t.value,
        _ => listed as f64,
    };
    let villages =
        count_progress(v_target, f.counter(&code, metric::TASK_VILLAGES_DONE, year), plan_share(&tv, month));
    let water_bodies =
        count_progress(w_target, f.counter(&code, metric::WATER_BODIES_DONE, 0), plan_share(&tw, month));
    let total = f.counter(&code, metric::VILLAGES, 0);
    let treated = f.counter(&code, metric::VILLAGES_SEWAGE_TREATED, 0);
    let target_pct = tr.as_ref().map(|(t, _)| t.value).unwrap_or(0.0);
    let rate_pct = if total > 0 { 100.0 * treated as f64 / total as f64 } else { 0.0 };
    let planned_pct = target_pct * plan_share(&tr, month);
    let sewage = RateProgress {
        target_pct,
        treated,
        villages: total,
        rate_pct,
        planned_pct,
        behind: rate_pct < planned_pct,
    };
    let behind = villages.behind || water_bodies.behind || sewage.behind;
    RegionProgress { region, villages, water_bodies, sewage, behind }
}

/// Village rows come from the village's own site: target 1 if it is on this year's task list.
/// `villages` all lie in `lo..hi`; the sites are read once and grouped, so a province's 25,000
/// villages cost one pass over its sites.
fn village_rows(
    tx: &mut dyn Tx,
    villages: Vec<Region>,
    (lo, hi): (String, String),
    year: i32,
) -> AppResult<Vec<RegionProgress>> {
    let filter = SiteFilter::VillageRange(lo, hi);
    let mut by_village: HashMap<RegionCode, Vec<Site>> = HashMap::new();
    let mut after = 0;
    loop {
        let page = tx.sites_changed(&filter, after, 5000)?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        for (_, s) in page {
            by_village.entry(s.village).or_default().push(s);
        }
    }
    let mut out = Vec::with_capacity(villages.len());
    for r in villages {
        let mut villages = count_progress(0.0, 0, 0.0);
        let mut water = count_progress(0.0, 0, 0.0);
        let mut treated = 0;
        for s in by_village.get(&r.code).into_iter().flatten() {
            let done = s.status.is_some_and(SiteStatus::counts_as_done);
            match &s.details {
                SiteDetails::Village(v) => {
                    if v.task_year == Some(year) {
                        villages = count_progress(1.0, i64::from(done), 0.0);
                    }
                    treated = i64::from(v.sewage_treated);
                }
                SiteDetails::WaterBody(w) if w.listed => {
                    water.target += 1.0;
                    water.done += i64::from(done);
                }
                _ => {}
            }
        }
        if water.target > 0.0 {
            water.pct = 100.0 * water.done as f64 / water.target;
        }
        let sewage = RateProgress {
            target_pct: 0.0,
            treated,
            villages: 1,
            rate_pct: 100.0 * treated as f64,
            planned_pct: 0.0,
            behind: false,
        };
        out.push(RegionProgress { region: r, villages, water_bodies: water, sewage, behind: false });
    }
    Ok(out)
}

fn check_viewer(actor: &Actor, code: &RegionCode) -> AppResult<()> {
    if actor.user.role == Role::Inspector || !scope::region_covers(actor, code) {
        return Err(AppError::not_found());
    }
    Ok(())
}

/// Progress of `code` and one row per region below it: its children, or with `level` every
/// region of that level inside it (a province's counties, townships or all its villages).
pub fn tracking(
    store: &dyn Store,
    actor: &Actor,
    code: &RegionCode,
    year: i32,
    month: u8,
    level: Option<RegionLevel>,
) -> AppResult<Tracking> {
    check_viewer(actor, code)?;
    if code.level() == RegionLevel::Village {
        return Err(AppError::field(shared::ErrorCode::InvalidValue, "region", "请选择乡镇及以上区划"));
    }
    if level.is_some_and(|l| l <= code.level()) {
        return Err(AppError::field(shared::ErrorCode::InvalidValue, "level", "级别应低于所选区划"));
    }
    let mut tx = store.read()?;
    let region = tx.region(code)?.ok_or_else(AppError::not_found)?;
    let rows = match level {
        None => tx.region_children(code)?,
        Some(l) => {
            let (lo, hi) = code.descendant_range();
            tx.regions_in(l, &lo, &hi)?
        }
    };
    let (children, row) = if rows.first().is_some_and(|r| r.level == RegionLevel::Village) {
        let f = Facts::load(tx.as_mut(), year, &[*code], &[])?;
        (
            village_rows(tx.as_mut(), rows, code.descendant_range(), year)?,
            region_progress(&f, region, year, month),
        )
    } else {
        let codes: Vec<RegionCode> = std::iter::once(*code).chain(rows.iter().map(|c| c.code)).collect();
        let f = Facts::load(tx.as_mut(), year, &codes, &[])?;
        let rows = rows.into_iter().map(|c| region_progress(&f, c, year, month)).collect();
        (rows, region_progress(&f, region, year, month))
    };
    Ok(Tracking { year, month, year_elapsed: f64::from(month) / 12.0, region: row, children })
}

/// Month by month: completions against the plan's increments.
pub fn dispatch(store: &dyn Store, actor: &Actor, code: &RegionCode, year: i32) -> AppResult<Dispatch> {
    check_viewer(actor, code)?;
    let mut tx = store.read()?;
    let region = tx.region(code)?.ok_or_else(AppError::not_found)?;
    let monthly: Vec<CounterKey> = (1..=12)
        .flat_map(|m| {
            [metric::TASK_VILLAGES_DONE_MONTH, metric::WATER_BODIES_DONE_MONTH].map(|metric| CounterKey {
                region: *code,
                metric: metric.into(),
                year: year * 100 + m,
            })
        })
        .collect();
    let f = Facts::load(tx.as_mut(), year, &[*code], &monthly)?;
    let p = region_progress(&f, region.clone(), year, 12);
    let tv = f.target(code, TargetMetric::VillagesRemediated);
    let tw = f.target(code, TargetMetric::WaterBodiesEliminated);
    let (mut cv, mut cw) = (0, 0);
    let mut months = Vec::with_capacity(12);
    for m in 1..=12u8 {
        let period = year * 100 + i32::from(m);
        let vd = f.counter(code, metric::TASK_VILLAGES_DONE_MONTH, period);
        let wd = f.counter(code, metric::WATER_BODIES_DONE_MONTH, period);
        cv += vd;
        cw += wd;
        let inc =
            |t: &Option<(Target, bool)>| plan_share(t, m) - if m == 1 { 0.0 } else { plan_share(t, m - 1) };
        months.push(MonthRow {
            month: m,
            villages_done: vd,
            villages_planned: p.villages.target * inc(&tv),
            villages_cumulative: cv,
            water_done: wd,
            water_planned: p.water_bodies.target * inc(&tw),
            water_cumulative: cw,
        });
    }
    Ok(Dispatch {
        region,
        year,
        villages_target: p.villages.target,
        water_target: p.water_bodies.target,
        months,
    })
}

/// Regions of one level inside the caller's scope that are behind the plan, most behind first.
pub fn supervision(
    store: &dyn Store,
    actor: &Actor,
    level: RegionLevel,
    year: i32,
    month: u8,
) -> AppResult<Vec<SupervisionRow>> {
    check_viewer(actor, &actor.user.region)?;
    if matches!(level, RegionLevel::Province | RegionLevel::Village) {
        return Err(AppError::field(shared::ErrorCode::InvalidValue, "level", "级别应为市、县或乡镇"));
    }
    let mut tx = store.read()?;
    let (lo, hi) = actor.user.region.descendant_range();
    let regions = tx.regions_in(level, &lo, &hi)?;
    let codes: Vec<RegionCode> = regions.iter().map(|r| r.code).collect();
    let f = Facts::load(tx.as_mut(), year, &codes, &[])?;
    let mut rows = Vec::new();
    for r in regions {
        let p = region_progress(&f, r, year, month);
        if p.behind {
            let short = |c: &CountProgress| (c.planned.floor() - c.done as f64).max(0.0);
            let shortfall = short(&p.villages) + short(&p.water_bodies);
            rows.push(SupervisionRow { progress: p, shortfall });
        }
    }
    rows.sort_by(|a, b| {
        b.shortfall.total_cmp(&a.shortfall).then(a.progress.region.code.cmp(&b.progress.region.code))
    });
    Ok(rows)
}
