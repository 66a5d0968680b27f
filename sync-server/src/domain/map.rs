//! The console map's points: sites with a registered position and records waiting for review,
//! in the caller's scope, as columns (`shared::console::MapPoints`). Read from the site table and
//! the flat export columns, so no record's JSON is decoded.

use shared::auth::Role;
use shared::console::MapPoints;
use shared::region::RegionCode;
use shared::review::ReviewStatus;

use crate::domain::Actor;
use crate::domain::export::sites_filter;
use crate::domain::queue::{QueueQuery, record_query};
use crate::error::AppResult;
use crate::store::Store;

pub fn map_points(store: &dyn Store, actor: &Actor, area: Option<RegionCode>) -> AppResult<MapPoints> {
    let filter = sites_filter(actor, area)?;
    // Inspectors review nothing: their map holds their sites only.
    let reviews = actor.user.role != Role::Inspector;
    let q = QueueQuery { status: Some(ReviewStatus::Submitted), village: area, ..Default::default() };
    let rq = if reviews { Some(record_query(actor, &q, None)?) } else { None };
    let mut out = MapPoints { v: 1, ..Default::default() };
    let mut tx = store.read()?;
    let mut after = 0;
    loop {
        let page = tx.sites_changed(&filter, after, 5000)?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        for (_, s) in &page {
            if let Some(p) = s.position {
                out.sites.push(&s.name, p.lng(), p.lat());
            }
        }
    }
    let Some(rq) = rq else { return Ok(out) };
    let mut pending = 0usize;
    tx.for_each_export_row(&rq, &mut |r| {
        pending += 1;
        if pending > MapPoints::PENDING_CAP {
            return false;
        }
        if let (Some(lng), Some(lat), Ok(id)) = (r.lng, r.lat, r.id.parse()) {
            out.pending.ids.push(id);
            out.pending.push(r.site_name, lng, lat);
        }
        true
    })?;
    out.pending_capped = pending > MapPoints::PENDING_CAP;
    Ok(out)
}
