//! Who may see what. Out-of-scope objects are answered as if they did not exist.

use shared::auth::Role;
use shared::region::RegionCode;

use crate::domain::Actor;
use crate::store::{RecordRow, SiteFilter};

/// Whether the actor's region covers a village.
pub fn region_covers(actor: &Actor, village: &RegionCode) -> bool {
    actor.user.region.contains(village)
}

/// Read access to an inspection record: its author, or any non-inspector whose region covers it.
pub fn can_read_record(actor: &Actor, r: &RecordRow) -> bool {
    if r.submitted_by == actor.user.id {
        return true;
    }
    actor.user.role != Role::Inspector && region_covers(actor, &r.village)
}

/// Review rights: township reviewers (and the province admin) within their region.
pub fn can_review(actor: &Actor, r: &RecordRow) -> bool {
    matches!(actor.user.role, Role::TownshipReviewer | Role::ProvinceAdmin)
        && region_covers(actor, &r.village)
}

/// The sites a user syncs: inspectors get their assigned villages, others their region.
pub fn site_filter(actor: &Actor) -> SiteFilter {
    match actor.user.role {
        Role::Inspector => SiteFilter::AssignedTo(actor.user.id),
        _ => {
            let (lo, hi) = actor.user.region.descendant_range();
            SiteFilter::VillageRange(lo, hi)
        }
    }
}
