use shared::region::RegionLevel;
use sync_server::domain::rollup::metric;
use sync_server::seed;
use sync_server::store::CounterKey;

use crate::assert_counters_match_recount;

/// The demo data set has the stated shape: all of Hubei at real scale, and four weeks of field
/// records sent through the real ingest path, where only the deliberate fakes raise flags.
#[tokio::test(flavor = "multi_thread")]
async fn demo_seed_produces_the_stated_counts_and_an_honest_field_history() {
    let server = qingliu_tests::TestServer::start().await;
    let st = server.state.clone();
    let now = time::OffsetDateTime::now_utc();
    let (report, records) = tokio::task::spawn_blocking(move || {
        let report = seed::seed_demo(st.store.as_ref(), 2026, now)?;
        let records = sync_server::seed_records::seed_demo_records(&st, 2026, now)?;
        Ok::<_, sync_server::error::AppError>((report, records))
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

    demo_records_raise_exactly_the_deliberate_flags(&server, &records).await;
}

/// Zero false flags on the demo's field history: every stored flag belongs to a deliberate
/// fake, each fake raises exactly the flag it was made for, and the reviewer's queue filtered
/// to flagged records holds their township's fakes and nothing else.
async fn demo_records_raise_exactly_the_deliberate_flags(
    server: &qingliu_tests::TestServer,
    records: &sync_server::seed_records::DemoRecords,
) {
    use std::collections::BTreeMap;
    eprintln!("{}", records.summary());
    assert!(records.records >= 60 && records.photos > records.records, "{}", records.summary());
    assert!(records.approved > 10 && records.returned == 2, "{}", records.summary());
    let mut made: Vec<&str> = records.fakes.iter().map(|(_, k)| *k).collect();
    made.sort();
    made.dedup();
    assert_eq!(made, vec!["clock_skew", "copied_position", "impossible_travel", "photo_reuse"]);

    let store = server.state.store.as_ref();
    let mut raised: BTreeMap<shared::InspectionId, Vec<String>> = BTreeMap::new();
    store
        .read()
        .unwrap()
        .for_each_flag(
            "0",
            "9",
            time::OffsetDateTime::UNIX_EPOCH,
            time::OffsetDateTime::now_utc() + time::Duration::days(1),
            &mut |row| raised.entry(row.record_id).or_default().push(row.flag.kind().to_string()),
        )
        .unwrap();
    let expected: BTreeMap<shared::InspectionId, Vec<String>> =
        records.fakes.iter().map(|(id, k)| (*id, vec![k.to_string()])).collect();
    assert_eq!(raised, expected, "flags raised on the demo records against the deliberate fakes");

    // Every version was checked at push, and every signature and photo verifies.
    let versions = sync_server::domain::integrity::verify_versions(store).unwrap();
    assert_eq!(versions.checked as usize, records.records);
    assert!(versions.problems.is_empty(), "{:?}", versions.problems);
    let photos = sync_server::domain::integrity::verify_blobs(store, server.state.blobs.as_ref()).unwrap();
    assert!(photos.problems.is_empty(), "{:?}", photos.problems);

    let mut reviewer = server.client();
    reviewer.login("reviewer", "Qingliu-2026!").await.unwrap();
    let q: shared::console::QueuePage = reviewer.get("/api/v1/review/queue?flag=any").await.unwrap();
    let mut flagged: Vec<_> = q.items.iter().map(|it| it.record.inspection.id).collect();
    flagged.sort();
    let mut own_fakes: Vec<_> = records
        .fakes
        .iter()
        .filter(|(_, k)| ["photo_reuse", "impossible_travel"].contains(k))
        .map(|(id, _)| *id)
        .collect();
    own_fakes.sort();
    assert_eq!(flagged, own_fakes, "the reviewer's flagged queue holds their township's fakes");
}
