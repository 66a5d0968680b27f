//! Rollup counters: what each site contributes to the per-region totals. Counters are changed by
//! the difference between a site's contributions before and after a change, in the same
//! transaction, so that reading totals never scans sites or inspections; a full recount from the
//! same function proves them.

use std::collections::BTreeMap;

use shared::region::{RegionCode, RegionLevel};
use shared::site::{Site, SiteDetails, SiteStatus};

use crate::store::{CounterKey, StoreResult, Tx};

pub mod metric {
    /// Administrative villages (denominator of the sewage treatment rate).
    pub const VILLAGES: &str = "villages";
    pub const VILLAGES_SEWAGE_TREATED: &str = "villages_sewage_treated";
    /// Villages on the remediation task list of a year, and those done.
    pub const TASK_VILLAGES: &str = "task_villages";
    pub const TASK_VILLAGES_DONE: &str = "task_villages_done";
    /// Listed black-odorous water bodies, and those eliminated.
    pub const WATER_BODIES_LISTED: &str = "water_bodies_listed";
    pub const WATER_BODIES_DONE: &str = "water_bodies_done";
    /// Per YYYYMM period: task villages / listed water bodies that came to count as done then.
    pub const TASK_VILLAGES_DONE_MONTH: &str = "task_villages_done_month";
    pub const WATER_BODIES_DONE_MONTH: &str = "water_bodies_done_month";
    pub const FACILITIES: &str = "facilities";
    pub const FACILITIES_RUNNING: &str = "facilities_running";
}

/// (metric, period) pairs a site counts 1 toward. The period is 0 for metrics that are not per
/// period, the task year (YYYY) for per-year ones, and YYYYMM for per-month ones.
pub fn contributions(site: &Site) -> Vec<(&'static str, i32)> {
    let mut out = Vec::new();
    let done = site.status.is_some_and(SiteStatus::counts_as_done);
    match &site.details {
        SiteDetails::Village(v) => {
            out.push((metric::VILLAGES, 0));
            if v.sewage_treated {
                out.push((metric::VILLAGES_SEWAGE_TREATED, 0));
            }
            if let Some(y) = v.task_year {
                out.push((metric::TASK_VILLAGES, y));
                if done {
                    out.push((metric::TASK_VILLAGES_DONE, y));
                    if let Some(m) = site.done_month {
                        out.push((metric::TASK_VILLAGES_DONE_MONTH, m as i32));
                    }
                }
            }
        }
        SiteDetails::WaterBody(w) => {
            if w.listed {
                out.push((metric::WATER_BODIES_LISTED, 0));
                if done {
                    out.push((metric::WATER_BODIES_DONE, 0));
                    if let Some(m) = site.done_month {
                        out.push((metric::WATER_BODIES_DONE_MONTH, m as i32));
                    }
                }
            }
        }
        SiteDetails::Facility(_) => {
            out.push((metric::FACILITIES, 0));
            if site.status == Some(SiteStatus::Running) {
                out.push((metric::FACILITIES_RUNNING, 0));
            }
        }
        SiteDetails::Enterprise(_) => {}
    }
    out
}

/// The regions whose counters a site in `village` feeds: every ancestor above the village.
fn counted_regions(village: &RegionCode) -> impl Iterator<Item = RegionCode> {
    village.lineage().into_iter().filter(|r| r.level() != RegionLevel::Village)
}

/// Apply the change of one site (None = absent) to the counters.
pub fn apply_site_change(tx: &mut dyn Tx, before: Option<&Site>, after: Option<&Site>) -> StoreResult<()> {
    let mut delta: BTreeMap<(RegionCode, &'static str, i32), i64> = BTreeMap::new();
    for (site, sign) in [(before, -1i64), (after, 1i64)] {
        if let Some(s) = site {
            for region in counted_regions(&s.village) {
                for (m, y) in contributions(s) {
                    *delta.entry((region, m, y)).or_default() += sign;
                }
            }
        }
    }
    for ((region, m, y), d) in delta {
        if d != 0 {
            tx.add_counter(&CounterKey { region, metric: m.to_string(), year: y }, d)?;
        }
    }
    Ok(())
}

/// Recompute every counter from the sites.
pub fn recount(tx: &mut dyn Tx) -> StoreResult<BTreeMap<CounterKey, i64>> {
    let mut out: BTreeMap<CounterKey, i64> = BTreeMap::new();
    tx.for_each_site(&mut |s| {
        for region in counted_regions(&s.village) {
            for (m, y) in contributions(s) {
                *out.entry(CounterKey { region, metric: m.to_string(), year: y }).or_default() += 1;
            }
        }
    })?;
    Ok(out)
}

/// Write the recount as the counters of an empty table (used by the seeder, in bulk).
pub fn write_counts(tx: &mut dyn Tx, counts: &BTreeMap<CounterKey, i64>) -> StoreResult<()> {
    for (k, v) in counts {
        tx.add_counter(k, *v)?;
    }
    Ok(())
}
