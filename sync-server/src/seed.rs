//! Demo data for all of Hubei at real scale: the 17 real prefecture-level units, generated
//! counties, townships and villages (names are generated and marked so), this year's
//! remediation task list of 1571 villages, 123 listed black-odorous water bodies, sewage
//! facilities, inspected enterprises, targets with a monthly plan, a state partway through the
//! year, and one demo user per role.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use shared::auth::{Role, UserInfo};
use shared::geo::LngLat;
use shared::region::{HUBEI, HUBEI_PREFECTURES, Region, RegionCode, RegionLevel};
use shared::site::*;
use shared::target::{Target, TargetMetric};
use shared::{SiteId, UserId};
use time::OffsetDateTime;

use crate::domain::auth::hash_password;
use crate::domain::rollup;
use crate::error::AppResult;
use crate::store::{Store, UserRow};

/// County-level units under each ordinary prefecture (the directly administered four have none).
const COUNTIES: [(&str, u16, f64, f64); 13] = [
    ("420100", 13, 114.30, 30.59),
    ("420200", 6, 115.04, 30.20),
    ("420300", 8, 110.80, 32.63),
    ("420500", 13, 111.29, 30.69),
    ("420600", 9, 112.14, 32.04),
    ("420700", 3, 114.89, 30.39),
    ("420800", 5, 112.20, 31.04),
    ("420900", 7, 113.92, 30.92),
    ("421000", 8, 112.24, 30.33),
    ("421100", 10, 114.87, 30.45),
    ("421200", 6, 114.32, 29.84),
    ("421300", 3, 113.38, 31.69),
    ("422800", 8, 109.49, 30.27),
];

/// Directly administered units: code, townships, centre.
const DIRECT: [(&str, u16, f64, f64); 4] = [
    ("429004", 20, 113.45, 30.36),
    ("429005", 16, 112.90, 30.40),
    ("429006", 25, 113.17, 30.66),
    ("429021", 8, 110.68, 31.74),
];

pub const TASK_VILLAGES: usize = 1571;
pub const LISTED_WATER_BODIES: usize = 123;
pub const SEWAGE_RATE_TARGET: f64 = 46.58;
pub const DEMO_YEAR: i32 = 2026;

/// Demo accounts: username, password, role, display name.
pub const DEMO_USERS: [(&str, &str, Role, &str); 6] = [
    ("inspector", "Qingliu-2026!", Role::Inspector, "演示检查员"),
    ("inspector2", "Qingliu-2026!", Role::Inspector, "演示检查员二"),
    ("reviewer", "Qingliu-2026!", Role::TownshipReviewer, "演示乡镇审核员"),
    ("county", "Qingliu-2026!", Role::CountyViewer, "演示县级用户"),
    ("prefecture", "Qingliu-2026!", Role::PrefectureViewer, "演示市级用户"),
    ("admin", "Qingliu-2026!", Role::ProvinceAdmin, "演示省级管理员"),
];

/// Cumulative monthly plan used for every demo target.
pub const MONTHLY_PLAN: [f64; 12] = [0.03, 0.08, 0.15, 0.24, 0.34, 0.45, 0.55, 0.65, 0.75, 0.85, 0.93, 1.0];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙", "胡", "朱", "高", "林", "何",
    "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧",
];
const FEATURES: &[&str] = &[
    "湾", "岗", "畈", "冲", "垸", "桥", "港", "坪", "铺", "河", "岭", "坡", "台", "嘴", "店", "集", "庙",
    "垱", "湖", "山",
];
const PLACE_A: &[&str] = &[
    "青", "石", "桃", "柳", "白", "金", "龙", "凤", "新", "大", "小", "东", "西", "南", "北", "长", "清",
    "永", "丰", "安", "平", "兴", "隆", "福", "双", "三", "五", "高", "沙", "松",
];
const PLACE_B: &[&str] = &[
    "山", "河", "林", "田", "阳", "源", "溪", "湖", "峰", "桥", "口", "店", "坪", "港", "岭", "洲", "塘",
    "垸", "冲", "湾",
];

fn place(rng: &mut StdRng) -> String {
    format!("{}{}", PLACE_A.choose(rng).unwrap_or(&"青"), PLACE_B.choose(rng).unwrap_or(&"山"))
}

fn village_name(rng: &mut StdRng) -> String {
    if rng.gen_bool(0.5) {
        format!("{}家{}村", SURNAMES.choose(rng).unwrap_or(&"王"), FEATURES.choose(rng).unwrap_or(&"湾"))
    } else {
        format!("{}村", place(rng))
    }
}

/// What the seeder made.
#[derive(Debug, Clone, Default)]
pub struct SeedReport {
    pub regions: BTreeMap<&'static str, u64>,
    pub sites: BTreeMap<&'static str, u64>,
    pub task_villages: u64,
    pub task_villages_done: u64,
    pub water_bodies_listed: u64,
    pub water_bodies_done: u64,
    pub villages_sewage_treated: u64,
    pub demo_township: String,
}

impl SeedReport {
    pub fn summary(&self) -> String {
        let villages = self.regions.get("village").copied().unwrap_or(0).max(1);
        let mut s = String::new();
        s.push_str("演示数据已生成（名称为程序生成，非真实地名） / demo data seeded (generated names):\n");
        for (k, v) in &self.regions {
            s.push_str(&format!("  regions.{k}: {v}\n"));
        }
        for (k, v) in &self.sites {
            s.push_str(&format!("  sites.{k}: {v}\n"));
        }
        s.push_str(&format!(
            "  {DEMO_YEAR} task villages: {} ({} done), listed water bodies: {} ({} eliminated), sewage treatment rate: {:.2} %\n",
            self.task_villages,
            self.task_villages_done,
            self.water_bodies_listed,
            self.water_bodies_done,
            100.0 * self.villages_sewage_treated as f64 / villages as f64
        ));
        s.push_str(&format!("  demo township: {}\n", self.demo_township));
        s.push_str(&credentials_text());
        s
    }
}

pub fn credentials_text() -> String {
    let mut s = String::from("演示账号 / demo accounts (username / password / role):\n");
    for (u, p, r, _) in DEMO_USERS {
        s.push_str(&format!("  {u:<11} {p}  {}\n", r.as_str()));
    }
    s
}

pub fn is_seeded(store: &dyn Store) -> AppResult<bool> {
    Ok(store.read()?.count_regions(RegionLevel::Province)? > 0)
}

fn jitter(rng: &mut StdRng, lng: f64, lat: f64, spread: f64) -> LngLat {
    LngLat::new(lng + rng.gen_range(-spread..spread), lat + rng.gen_range(-spread..spread))
}

fn region(code: RegionCode, name: String, generated: bool) -> Region {
    Region { code, name, level: code.level(), parent: code.parent(), generated }
}

struct Village {
    name: String,
    code: RegionCode,
    prefecture: usize,
    centre: LngLat,
}

/// Generate a valid unified social credit code.
fn uscc(rng: &mut StdRng, county: &RegionCode) -> String {
    const ALPHA: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut body = format!("91{}", county.gb2260());
    while body.len() < 17 {
        body.push(ALPHA[rng.gen_range(0..ALPHA.len())] as char);
    }
    let check = shared::uscc::check_char(body.as_bytes()).unwrap_or('0');
    format!("{body}{check}")
}

/// Seed an empty database with the demo data set. Runs in one transaction.
pub fn seed_demo(store: &dyn Store, seed: u64, now: OffsetDateTime) -> AppResult<SeedReport> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tx = store.write()?;
    let mut report = SeedReport::default();
    let province = RegionCode::parse(HUBEI).map_err(|e| crate::error::AppError::Internal(e.to_string()))?;
    tx.insert_region(&region(province, "湖北省".into(), false))?;
    *report.regions.entry("province").or_default() += 1;

    // Regions: prefectures (real), counties/townships/villages (generated).
    let mut villages: Vec<Village> = Vec::new();
    let mut townships: Vec<RegionCode> = Vec::new();
    let parse = |s: &str| RegionCode::parse(s).map_err(|e| crate::error::AppError::Internal(e.to_string()));
    for (pi, (code, name, _)) in HUBEI_PREFECTURES.iter().enumerate() {
        let pref = parse(code)?;
        tx.insert_region(&region(pref, (*name).into(), false))?;
        *report.regions.entry("prefecture").or_default() += 1;
        // Townships hang below counties, or directly below a directly administered unit.
        let mut parents: Vec<(RegionCode, u16, f64, f64)> = Vec::new();
        if let Some((_, n, lng, lat)) = COUNTIES.iter().find(|c| c.0 == *code) {
            for c in 1..=*n {
                let county = pref.child(c)?;
                let suffix = if c <= 2 && *code == "420100" { "区" } else { "县" };
                tx.insert_region(&region(county, format!("{}{}", place(&mut rng), suffix), true))?;
                *report.regions.entry("county").or_default() += 1;
                let towns = rng.gen_range(9..=15);
                parents.push((
                    county,
                    towns,
                    *lng + rng.gen_range(-0.5..0.5),
                    *lat + rng.gen_range(-0.4..0.4),
                ));
            }
        } else if let Some((_, n, lng, lat)) = DIRECT.iter().find(|d| d.0 == *code) {
            parents.push((pref, *n, *lng, *lat));
        }
        for (parent, towns, lng, lat) in parents {
            for t in 0..towns {
                // A couple of subdistricts (街道), then towns (镇), then townships (乡).
                let own = match t {
                    0 => 1,
                    t if t < towns * 2 / 3 => 100 + t,
                    t => 200 + t,
                };
                let town = parent.child(own)?;
                let suffix = match town.township_kind() {
                    Some(shared::region::TownshipKind::Subdistrict) => "街道",
                    Some(shared::region::TownshipKind::Town) => "镇",
                    _ => "乡",
                };
                tx.insert_region(&region(town, format!("{}{}", place(&mut rng), suffix), true))?;
                *report.regions.entry("township").or_default() += 1;
                townships.push(town);
                let tcentre = jitter(&mut rng, lng, lat, 0.15);
                for v in 0..rng.gen_range(15..=25u16) {
                    let vcode = town.child(201 + v)?;
                    let name = village_name(&mut rng);
                    tx.insert_region(&region(vcode, name.clone(), true))?;
                    *report.regions.entry("village").or_default() += 1;
                    villages.push(Village {
                        name,
                        code: vcode,
                        prefecture: pi,
                        centre: jitter(&mut rng, tcentre.lng(), tcentre.lat(), 0.05),
                    });
                }
            }
        }
    }

    // The demo township: the first town of Huanggang's first county; both inspectors and the
    // reviewer work there, the second inspector in the next township.
    let demo_town = townships
        .iter()
        .copied()
        .find(|t| {
            t.as_str().starts_with("4211") && t.township_kind() == Some(shared::region::TownshipKind::Town)
        })
        .unwrap_or(townships[0]);
    let other_town = townships
        .iter()
        .copied()
        .find(|t| t.parent() == demo_town.parent() && *t != demo_town)
        .unwrap_or(demo_town);
    report.demo_township = demo_town.to_string();

    // Per-prefecture pace, so that some regions are behind plan.
    let pace: Vec<f64> = (0..HUBEI_PREFECTURES.len()).map(|_| rng.gen_range(0.80..1.08)).collect();
    let sewage: Vec<f64> = (0..HUBEI_PREFECTURES.len()).map(|_| rng.gen_range(0.33..0.53)).collect();

    // The task list: 1571 villages spread over every prefecture, always including the demo
    // township's villages.
    let mut order: Vec<usize> = (0..villages.len()).collect();
    order.shuffle(&mut rng);
    let demo_first: Vec<usize> =
        (0..villages.len()).filter(|&i| demo_town.contains(&villages[i].code)).take(6).collect();
    let mut task: Vec<bool> = vec![false; villages.len()];
    let mut chosen = 0;
    for &i in demo_first.iter().chain(order.iter()) {
        if chosen == TASK_VILLAGES {
            break;
        }
        if !task[i] {
            task[i] = true;
            chosen += 1;
        }
    }

    let mut sites: Vec<Site> = Vec::new();
    for (i, v) in villages.iter().enumerate() {
        let p = v.prefecture;
        let (task_year, status) = if task[i] {
            let r: f64 = rng.gen_range(0.0..1.0);
            let status = if r < pace[p] * 0.92 {
                if rng.gen_bool(0.3) { SiteStatus::Accepted } else { SiteStatus::Completed }
            } else if r < pace[p] * 0.92 + 0.05 {
                SiteStatus::InProgress
            } else {
                SiteStatus::Planned
            };
            (Some(DEMO_YEAR), status)
        } else if rng.gen_bool(0.55) {
            (Some(rng.gen_range(2021..DEMO_YEAR)), SiteStatus::Accepted)
        } else {
            (None, SiteStatus::Planned)
        };
        let in_demo = demo_town.contains(&v.code);
        // Keep a few demo-township villages open so the demo has work to do.
        let status = if in_demo && task[i] { SiteStatus::InProgress } else { status };
        sites.push(Site {
            id: SiteId::new(),
            village: v.code,
            name: v.name.clone(),
            position: Some(v.centre),
            status: Some(status),
            details: SiteDetails::Village(VillageDetails {
                task_year,
                sewage_treated: rng.gen_bool(sewage[p]),
            }),
            version: 0,
            generated: true,
            done_month: None,
        });
    }

    // Water bodies: 123 listed (spread by prefecture, a few in the demo township) + unlisted.
    let demo_villages: Vec<usize> =
        (0..villages.len()).filter(|&i| demo_town.contains(&villages[i].code)).collect();
    let mut wb_villages: Vec<usize> = demo_villages.iter().copied().take(3).collect();
    wb_villages.extend(
        order
            .iter()
            .copied()
            .filter(|i| !demo_town.contains(&villages[*i].code))
            .take(LISTED_WATER_BODIES + 40 - 3),
    );
    for (n, &vi) in wb_villages.iter().enumerate() {
        let v = &villages[vi];
        let listed = n < LISTED_WATER_BODIES;
        let water_type = *[
            WaterType::Pond,
            WaterType::Ditch,
            WaterType::River,
            WaterType::Pond,
            WaterType::Lake,
            WaterType::Reservoir,
        ]
        .choose(&mut rng)
        .unwrap_or(&WaterType::Pond);
        let status = if !listed || demo_town.contains(&v.code) {
            if rng.gen_bool(0.5) { SiteStatus::Identified } else { SiteStatus::Remediating }
        } else {
            let r: f64 = rng.gen_range(0.0..1.0);
            if r < pace[v.prefecture] * 0.9 {
                if rng.gen_bool(0.4) { SiteStatus::Accepted } else { SiteStatus::Eliminated }
            } else if r < 0.95 {
                SiteStatus::Remediating
            } else {
                SiteStatus::Identified
            }
        };
        let start = jitter(&mut rng, v.centre.lng(), v.centre.lat(), 0.01);
        let linear = water_type.is_linear();
        let (length, width) =
            if linear { (rng.gen_range(200.0..3000.0f64), rng.gen_range(2.0..15.0f64)) } else { (0.0, 0.0) };
        let area = if linear { length * width } else { rng.gen_range(300.0..12000.0) };
        let base = place(&mut rng);
        let name = match water_type {
            WaterType::River => format!("{base}河（示例段）"),
            WaterType::Ditch => format!("{base}沟渠"),
            WaterType::Pond => format!("{base}塘"),
            WaterType::Lake => format!("{base}湖"),
            WaterType::Reservoir => format!("{base}水库"),
        };
        sites.push(Site {
            id: SiteId::new(),
            village: v.code,
            name,
            position: Some(start),
            status: Some(status),
            details: SiteDetails::WaterBody(WaterBodyDetails {
                water_type,
                area_m2: Some((area * 10.0).round() / 10.0),
                length_m: linear.then_some(length.round()),
                width_m: linear.then_some(width.round()),
                start_name: if linear { format!("{}起点", base) } else { String::new() },
                start: linear.then_some(start),
                end_name: if linear { format!("{}终点", base) } else { String::new() },
                end: linear.then(|| jitter(&mut rng, start.lng(), start.lat(), 0.01)),
                pollution_causes: vec![PollutionCause::DomesticSewage, PollutionCause::Livestock]
                    [..rng.gen_range(1..=2)]
                    .to_vec(),
                planned_completion: format!("{DEMO_YEAR}Q{}", rng.gen_range(1..=4)),
                holds_water_all_year: rng.gen_bool(0.7),
                judged_by: *[
                    JudgementMethod::Sensory,
                    JudgementMethod::PublicSurvey,
                    JudgementMethod::Monitoring,
                ]
                .choose(&mut rng)
                .unwrap_or(&JudgementMethod::Sensory),
                listed,
            }),
            version: 0,
            generated: true,
            done_month: None,
        });
    }

    // Facilities: about one per twelve villages, and two in every demo-township village.
    let mut fac_villages: Vec<usize> = demo_villages.iter().flat_map(|&i| [i, i]).collect();
    fac_villages.extend(order.iter().copied().step_by(12));
    for vi in fac_villages {
        let v = &villages[vi];
        let r: f64 = rng.gen_range(0.0..1.0);
        let status = if r < 0.85 {
            SiteStatus::Running
        } else if r < 0.95 {
            SiteStatus::Faulty
        } else {
            SiteStatus::Stopped
        };
        let facility_type =
            *[FacilityType::Centralised, FacilityType::Decentralised, FacilityType::SewerConnected]
                .choose(&mut rng)
                .unwrap_or(&FacilityType::Centralised);
        sites.push(Site {
            id: SiteId::new(),
            village: v.code,
            name: format!("{}污水处理站", place(&mut rng)),
            position: Some(jitter(&mut rng, v.centre.lng(), v.centre.lat(), 0.005)),
            status: Some(status),
            details: SiteDetails::Facility(FacilityDetails {
                facility_type,
                design_capacity_tpd: [5.0, 10.0, 20.0, 30.0, 50.0, 100.0, 200.0][rng.gen_range(0..7)],
            }),
            version: 0,
            generated: true,
            done_month: None,
        });
    }

    // Enterprises for enforcement visits.
    let mut ent_villages: Vec<usize> = demo_villages.iter().copied().take(3).collect();
    ent_villages.extend(order.iter().copied().skip(7).step_by(80));
    for vi in ent_villages {
        let v = &villages[vi];
        let county =
            v.code.lineage().into_iter().find(|r| r.level() == RegionLevel::County).unwrap_or(v.code);
        let base = place(&mut rng);
        sites.push(Site {
            id: SiteId::new(),
            village: v.code,
            name: format!("湖北{base}示例化工有限公司"),
            position: Some(jitter(&mut rng, v.centre.lng(), v.centre.lat(), 0.01)),
            status: None,
            details: SiteDetails::Enterprise(EnterpriseDetails {
                uscc: uscc(&mut rng, &county),
                legal_representative: format!("{}某", SURNAMES.choose(&mut rng).unwrap_or(&"王")),
                address: format!("{}工业园", base),
            }),
            version: 0,
            generated: true,
            done_month: None,
        });
    }

    // Completion months: this year's completions follow the monthly plan up to now; earlier
    // years' anywhere in their year.
    let now_month = crate::shanghai_month(now);
    let last_month = if (now_month / 100) as i32 == DEMO_YEAR { now_month % 100 } else { 12 };
    let weights: Vec<f64> = (0..last_month as usize)
        .map(|m| MONTHLY_PLAN[m] - if m == 0 { 0.0 } else { MONTHLY_PLAN[m - 1] })
        .collect();
    let pick = |rng: &mut StdRng| -> u32 {
        let total: f64 = weights.iter().sum();
        let mut x = rng.gen_range(0.0..total);
        for (m, w) in weights.iter().enumerate() {
            if x < *w {
                return m as u32 + 1;
            }
            x -= w;
        }
        last_month
    };
    for s in sites.iter_mut() {
        if s.status.is_some_and(SiteStatus::counts_as_done) {
            let year = match &s.details {
                SiteDetails::Village(v) => v.task_year.unwrap_or(DEMO_YEAR),
                _ => DEMO_YEAR,
            };
            let month = if year == DEMO_YEAR { pick(&mut rng) } else { rng.gen_range(1..=12) };
            s.done_month = Some(year as u32 * 100 + month);
        }
    }
    for s in sites.iter_mut() {
        let errors = shared::validate::validate_site(s);
        if !errors.is_empty() {
            return Err(crate::error::AppError::Internal(format!("generated an invalid site: {errors:?}")));
        }
        let seq = tx.next_change_seq()?;
        s.version = seq;
        tx.insert_site(s, seq)?;
        *report.sites.entry(s.kind().as_str()).or_default() += 1;
        match &s.details {
            SiteDetails::Village(d) => {
                if d.task_year == Some(DEMO_YEAR) {
                    report.task_villages += 1;
                    if s.status.is_some_and(SiteStatus::counts_as_done) {
                        report.task_villages_done += 1;
                    }
                }
                if d.sewage_treated {
                    report.villages_sewage_treated += 1;
                }
            }
            SiteDetails::WaterBody(w) if w.listed => {
                report.water_bodies_listed += 1;
                if s.status.is_some_and(SiteStatus::counts_as_done) {
                    report.water_bodies_done += 1;
                }
            }
            _ => {}
        }
    }
    let counts = rollup::recount(tx.as_mut())?;
    rollup::write_counts(tx.as_mut(), &counts)?;

    // Targets: the province's figures, and each prefecture's and county's share of them.
    let plan = MONTHLY_PLAN.to_vec();
    let mut shares: BTreeMap<RegionCode, (f64, f64)> = BTreeMap::new();
    for s in &sites {
        let (v, w) = match &s.details {
            SiteDetails::Village(d) if d.task_year == Some(DEMO_YEAR) => (1.0, 0.0),
            SiteDetails::WaterBody(d) if d.listed => (0.0, 1.0),
            _ => continue,
        };
        for r in s.village.lineage() {
            if matches!(r.level(), RegionLevel::Province | RegionLevel::Prefecture | RegionLevel::County) {
                let e = shares.entry(r).or_default();
                e.0 += v;
                e.1 += w;
            }
        }
    }
    for (region, (v, w)) in shares {
        for (metric, value) in [
            (TargetMetric::VillagesRemediated, v),
            (TargetMetric::WaterBodiesEliminated, w),
            (TargetMetric::SewageTreatmentRate, SEWAGE_RATE_TARGET),
        ] {
            tx.upsert_target(&Target { year: DEMO_YEAR, region, metric, value, monthly_plan: plan.clone() })?;
        }
    }

    // Demo users.
    for (username, password, role, display) in DEMO_USERS {
        let region = match role {
            Role::Inspector if username == "inspector2" => other_town,
            Role::Inspector | Role::TownshipReviewer => demo_town,
            Role::CountyViewer => demo_town.parent().unwrap_or(demo_town),
            Role::PrefectureViewer => demo_town.lineage()[1],
            Role::ProvinceViewer | Role::ProvinceAdmin => province,
        };
        let id = UserId::new();
        tx.insert_user(&UserRow {
            info: UserInfo { id, username: username.into(), display_name: display.into(), role, region },
            password_hash: hash_password(password)?,
            disabled: false,
        })?;
        if role == Role::Inspector {
            let assigned: Vec<RegionCode> =
                villages.iter().filter(|v| region.contains(&v.code)).map(|v| v.code).collect();
            tx.assign_villages(&id, &assigned)?;
        }
    }
    tx.append_audit(&crate::store::AuditEntry {
        at: now,
        user_id: None,
        device_id: None,
        action: "seed_demo".into(),
        entity: "database".into(),
        entity_id: "demo".into(),
        detail: serde_json::json!({ "seed": seed }),
    })?;
    tx.commit()?;
    Ok(report)
}
