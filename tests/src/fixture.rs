//! A small, fully known world: two counties, three townships, a few villages and sites, and one
//! user per role (two inspectors and two reviewers in different townships).

use std::collections::BTreeMap;

use shared::auth::{Role, UserInfo};
use shared::geo::LngLat;
use shared::region::{Region, RegionCode};
use shared::site::*;
use shared::{SiteId, UserId};
use sync_server::domain::auth::hash_password;
use sync_server::domain::rollup;
use sync_server::store::{Store, UserRow};

pub const PASSWORD: &str = "correct horse battery";

pub fn code(s: &str) -> RegionCode {
    RegionCode::parse(s).expect("valid code")
}

#[derive(Debug, Clone)]
pub struct Fixture {
    pub t1: RegionCode,
    pub t2: RegionCode,
    pub t3: RegionCode,
    pub users: BTreeMap<&'static str, UserInfo>,
    /// Sites by a short name: `village1`, `water1`, `facility1`, `enterprise1`, `water2`, …
    pub sites: BTreeMap<&'static str, Site>,
}

impl Fixture {
    pub fn user(&self, name: &str) -> &UserInfo {
        &self.users[name]
    }
    pub fn site(&self, name: &str) -> &Site {
        &self.sites[name]
    }
}

fn site(village: RegionCode, name: &str, status: Option<SiteStatus>, details: SiteDetails) -> Site {
    Site {
        id: SiteId::new(),
        village,
        name: name.into(),
        position: Some(LngLat::new(114.87, 30.45)),
        status,
        details,
        version: 0,
        generated: false,
        done_month: None,
    }
}

/// Write the fixture into an empty store.
pub fn install(store: &dyn Store) -> Fixture {
    let mut tx = store.write().expect("tx");
    let province = code("420000");
    let pref = code("421100");
    let c1 = code("421102");
    let c2 = code("421103");
    let t1 = code("421102101000");
    let t2 = code("421102102000");
    let t3 = code("421103101000");
    let mut regions = vec![province, pref, c1, c2, t1, t2, t3];
    let villages1: Vec<RegionCode> = (201..=204).map(|v| t1.child(v).expect("child")).collect();
    let villages2: Vec<RegionCode> = (201..=203).map(|v| t2.child(v).expect("child")).collect();
    let villages3: Vec<RegionCode> = (201..=202).map(|v| t3.child(v).expect("child")).collect();
    regions.extend(villages1.iter().chain(&villages2).chain(&villages3));
    for r in &regions {
        tx.insert_region(&Region {
            code: *r,
            name: format!("测试{}", r),
            level: r.level(),
            parent: r.parent(),
            generated: false,
        })
        .expect("region");
    }
    let mut sites: BTreeMap<&'static str, Site> = BTreeMap::new();
    let names = ["village1", "village2", "village3", "village4"];
    for (n, v) in villages1.iter().enumerate() {
        sites.insert(
            names[n],
            site(
                *v,
                "测试村",
                Some(SiteStatus::InProgress),
                SiteDetails::Village(VillageDetails { task_year: Some(2026), sewage_treated: false }),
            ),
        );
    }
    sites.insert(
        "village_t2",
        site(
            villages2[0],
            "测试二村",
            Some(SiteStatus::Planned),
            SiteDetails::Village(VillageDetails { task_year: Some(2026), sewage_treated: false }),
        ),
    );
    sites.insert(
        "village_t3",
        site(
            villages3[0],
            "测试三村",
            Some(SiteStatus::InProgress),
            SiteDetails::Village(VillageDetails { task_year: Some(2026), sewage_treated: true }),
        ),
    );
    let wb = |listed| {
        SiteDetails::WaterBody(WaterBodyDetails {
            water_type: WaterType::Pond,
            area_m2: Some(2500.0),
            length_m: None,
            width_m: None,
            start_name: String::new(),
            start: None,
            end_name: String::new(),
            end: None,
            pollution_causes: vec![PollutionCause::DomesticSewage],
            planned_completion: "2026Q4".into(),
            holds_water_all_year: true,
            judged_by: JudgementMethod::Sensory,
            listed,
        })
    };
    sites.insert("water1", site(villages1[0], "测试塘", Some(SiteStatus::Remediating), wb(true)));
    sites.insert("water2", site(villages2[0], "测试二塘", Some(SiteStatus::Identified), wb(true)));
    // In t1 but in a village no inspector is assigned to.
    sites.insert(
        "water_unassigned",
        site(villages1[3], "无人负责塘", Some(SiteStatus::Identified), wb(false)),
    );
    sites.insert(
        "facility1",
        site(
            villages1[1],
            "测试污水站",
            Some(SiteStatus::Running),
            SiteDetails::Facility(FacilityDetails {
                facility_type: FacilityType::Centralised,
                design_capacity_tpd: 50.0,
            }),
        ),
    );
    sites.insert(
        "enterprise1",
        site(
            villages1[2],
            "测试化工有限公司",
            None,
            SiteDetails::Enterprise(EnterpriseDetails {
                uscc: "91350100M000100Y43".into(),
                legal_representative: "张三".into(),
                address: "测试工业园".into(),
            }),
        ),
    );
    for s in sites.values_mut() {
        let seq = tx.next_change_seq().expect("seq");
        s.version = seq;
        tx.insert_site(s, seq).expect("site");
    }
    let counts = rollup::recount(tx.as_mut()).expect("recount");
    rollup::write_counts(tx.as_mut(), &counts).expect("counts");

    let hash = hash_password(PASSWORD).expect("hash");
    let mut users = BTreeMap::new();
    for (name, role, region) in [
        ("inspector_a", Role::Inspector, t1),
        ("inspector_b", Role::Inspector, t2),
        ("reviewer_1", Role::TownshipReviewer, t1),
        ("reviewer_2", Role::TownshipReviewer, t2),
        ("county_1", Role::CountyViewer, c1),
        ("county_2", Role::CountyViewer, c2),
        ("admin", Role::ProvinceAdmin, province),
    ] {
        let info = UserInfo {
            id: UserId::new(),
            username: name.into(),
            display_name: format!("{name} 显示名"),
            role,
            region,
        };
        tx.insert_user(&UserRow { info: info.clone(), password_hash: hash.clone(), disabled: false })
            .expect("user");
        if role == Role::Inspector {
            // Assigned villages are a subset of the township: the fourth village of t1 is
            // nobody's, so tests can tell "assigned" from "in the township".
            let assigned: Vec<RegionCode> = regions
                .iter()
                .copied()
                .filter(|r| {
                    region.contains(r)
                        && r.level() == shared::region::RegionLevel::Village
                        && *r != villages1[3]
                })
                .collect();
            tx.assign_villages(&info.id, &assigned).expect("assign");
        }
        users.insert(name, info);
    }
    tx.commit().expect("commit");
    Fixture { t1, t2, t3, users, sites }
}
