use shared::region::RegionLevel;
use sync_server::domain::rollup::metric;
use sync_server::seed;
use sync_server::store::CounterKey;

use crate::assert_counters_match_recount;

/// The demo data set has the stated shape: all of Hubei at real scale.
#[tokio::test(flavor = "multi_thread")]
async fn demo_seed_produces_the_stated_counts() {
    let server = qingliu_tests::TestServer::start().await;
    let store = server.state.store.clone();
    let report = tokio::task::spawn_blocking(move || {
        seed::seed_demo(store.as_ref(), 2026, time::OffsetDateTime::now_utc())
    })
    .await
    .unwrap()
    .unwrap();
    let store = server.state.store.as_ref();
    let mut tx = store.read().unwrap();
    assert_eq!(tx.count_regions(RegionLevel::Province).unwrap(), 1);
    assert_eq!(tx.count_regions(RegionLevel::Prefecture).unwrap(), 17);
    let counties = tx.count_regions(RegionLevel::County).unwrap();
    // 99 counties + the 4 directly administered units = 103 county-level units.
    assert_eq!(counties + 4, 103);
    let townships = tx.count_regions(RegionLevel::Township).unwrap();
    assert!((1200..=1500).contains(&townships), "{townships} townships");
    let villages = tx.count_regions(RegionLevel::Village).unwrap();
    assert!((23_000..=26_000).contains(&villages), "{villages} villages");
    let prefectures = tx.region_children(&"420000".parse().unwrap()).unwrap();
    let names: Vec<_> = prefectures.iter().map(|r| r.name.as_str()).collect();
    assert!(names.contains(&"武汉市") && names.contains(&"神农架林区"));
    assert!(prefectures.iter().all(|p| !p.generated), "prefectures are real");

    let province = CounterKey { region: "420000".parse().unwrap(), metric: String::new(), year: 0 };
    let get = |tx: &mut Box<dyn sync_server::store::Tx + '_>, m: &str, y: i32| {
        tx.counter(&CounterKey { metric: m.into(), year: y, ..province.clone() }).unwrap()
    };
    assert_eq!(get(&mut tx, metric::TASK_VILLAGES, 2026), 1571);
    assert_eq!(get(&mut tx, metric::WATER_BODIES_LISTED, 0), 123);
    assert_eq!(get(&mut tx, metric::VILLAGES, 0) as u64, villages);
    let done = get(&mut tx, metric::TASK_VILLAGES_DONE, 2026);
    assert!(done > 0 && done < 1571, "partway through the year: {done}");
    let wb_done = get(&mut tx, metric::WATER_BODIES_DONE, 0);
    assert!(wb_done > 0 && wb_done < 123);
    let rate = 100.0 * get(&mut tx, metric::VILLAGES_SEWAGE_TREATED, 0) as f64 / villages as f64;
    assert!(rate > 46.58 - 8.0 && rate < 46.58, "sewage treatment rate {rate:.2} a few points under target");
    // Every prefecture has task villages, and some are behind the monthly plan.
    let mut behind = 0;
    for p in &prefectures {
        let k = |m: &str, y| CounterKey { region: p.code, metric: m.into(), year: y };
        let task = tx.counter(&k(metric::TASK_VILLAGES, 2026)).unwrap();
        assert!(task > 0, "{} has no task villages", p.name);
        let done = tx.counter(&k(metric::TASK_VILLAGES_DONE, 2026)).unwrap();
        let targets = tx.targets(2026, &p.code).unwrap();
        let t =
            targets.iter().find(|t| t.metric == shared::target::TargetMetric::VillagesRemediated).unwrap();
        t.validate().unwrap();
        if (done as f64) < t.planned_by(11) {
            behind += 1;
        }
    }
    assert!(behind > 0 && behind < 17, "{behind} prefectures behind plan");
    let province_targets = tx.targets(2026, &"420000".parse().unwrap()).unwrap();
    let values: Vec<_> = province_targets.iter().map(|t| (t.metric, t.value)).collect();
    assert!(values.contains(&(shared::target::TargetMetric::VillagesRemediated, 1571.0)));
    assert!(values.contains(&(shared::target::TargetMetric::WaterBodiesEliminated, 123.0)));
    assert!(values.contains(&(shared::target::TargetMetric::SewageTreatmentRate, 46.58)));
    drop(tx);
    assert_counters_match_recount(store);
    assert!(report.summary().contains("演示账号"));

    // Every demo user can log in with the printed credentials.
    for (user, password, role, _) in seed::DEMO_USERS {
        let mut c = server.client();
        let r = c.login(user, password).await.unwrap();
        assert_eq!(r.user.role, role);
    }
}
