//! Region totals read from the maintained counters.

use serde::Serialize;
use shared::region::{Region, RegionCode};

use crate::domain::rollup::metric;
use crate::domain::{Actor, scope};
use crate::error::{AppError, AppResult};
use crate::store::{CounterKey, Store};

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Progress {
    pub region: Region,
    pub year: i32,
    pub villages: i64,
    pub villages_sewage_treated: i64,
    pub task_villages: i64,
    pub task_villages_done: i64,
    pub water_bodies_listed: i64,
    pub water_bodies_done: i64,
    pub facilities: i64,
    pub facilities_running: i64,
}

pub fn progress(store: &dyn Store, actor: &Actor, code: &RegionCode, year: i32) -> AppResult<Progress> {
    if !scope::region_covers(actor, code) || actor.user.role == shared::auth::Role::Inspector {
        return Err(AppError::not_found());
    }
    let mut tx = store.read()?;
    let region = tx.region(code)?.ok_or_else(AppError::not_found)?;
    let mut get = |m: &str, y: i32| tx.counter(&CounterKey { region: *code, metric: m.to_string(), year: y });
    Ok(Progress {
        villages: get(metric::VILLAGES, 0)?,
        villages_sewage_treated: get(metric::VILLAGES_SEWAGE_TREATED, 0)?,
        task_villages: get(metric::TASK_VILLAGES, year)?,
        task_villages_done: get(metric::TASK_VILLAGES_DONE, year)?,
        water_bodies_listed: get(metric::WATER_BODIES_LISTED, 0)?,
        water_bodies_done: get(metric::WATER_BODIES_DONE, 0)?,
        facilities: get(metric::FACILITIES, 0)?,
        facilities_running: get(metric::FACILITIES_RUNNING, 0)?,
        region,
        year,
    })
}
