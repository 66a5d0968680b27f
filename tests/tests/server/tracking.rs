//! Tracking (progress, dispatch, supervision), the review queue with bulk review, and exports.

use qingliu_tests::records::*;
use reqwest::StatusCode;
use shared::ErrorCode;
use shared::review::ReviewDecision;
use shared::site::SiteStatus;
use shared::target::{Target, TargetMetric};

use crate::{assert_counters_match_recount, inspector, login, setup};

fn plan() -> Vec<f64> {
    (1..=12).map(|m| m as f64 / 12.0).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_dispatch_and_supervision_follow_approvals() {
    let (server, fx) = setup().await;
    let year = sync_server::shanghai_year(server.state.now());
    {
        let mut tx = server.state.store.write().unwrap();
        for (region, value) in [("420000000000", 6.0), ("421102000000", 5.0)] {
            tx.upsert_target(&Target {
                year,
                region: region.parse().unwrap(),
                metric: TargetMetric::VillagesRemediated,
                value,
                monthly_plan: plan(),
            })
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let (a, da) = inspector(&server, "inspector_a").await;
    let v = village(fx.site("village1").id, Some(SiteStatus::Completed), Some(true));
    let w = water_body(fx.site("water1").id, vec![], Some(SiteStatus::Eliminated));
    a.push(&batch(da, vec![submit(1, &v), submit(2, &w)])).await.unwrap();
    let admin = login(&server, "admin").await;
    let at = |m: u8| format!("/api/v1/tracking/420000?year={year}&month={m}");
    let before: serde_json::Value = admin.get(&at(12)).await.unwrap();
    assert_eq!(before["region"]["villages"]["target"], 6.0);
    assert_eq!(before["region"]["villages"]["done"], 0);
    assert_eq!(before["region"]["villages"]["behind"], true);
    assert_eq!(before["children"].as_array().unwrap().len(), 1, "one prefecture in the fixture");

    let r1 = login(&server, "reviewer_1").await;
    r1.review(v.id, 1, ReviewDecision::Approve, "").await.unwrap();
    r1.review(w.id, 1, ReviewDecision::Approve, "").await.unwrap();
    assert_counters_match_recount(server.state.store.as_ref());

    let after: serde_json::Value = admin.get(&at(12)).await.unwrap();
    assert_eq!(after["region"]["villages"]["done"], 1);
    assert_eq!(after["region"]["water_bodies"]["done"], 1);
    assert_eq!(
        after["region"]["sewage"]["treated"],
        before["region"]["sewage"]["treated"].as_i64().unwrap() + 1
    );
    // In January only 1/12 of 6 is planned: one done is on schedule.
    let jan: serde_json::Value = admin.get(&at(1)).await.unwrap();
    assert_eq!(jan["region"]["villages"]["behind"], false);

    // Drill-down to the township's villages.
    let t1: serde_json::Value = admin.get(&format!("/api/v1/tracking/{}?year={year}", fx.t1)).await.unwrap();
    let rows = t1["children"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let row1 = rows.iter().find(|r| r["region"]["code"] == fx.site("village1").village.to_string()).unwrap();
    assert_eq!(
        (row1["villages"]["target"].as_f64(), row1["villages"]["done"].as_i64()),
        (Some(1.0), Some(1))
    );

    // Dispatch: the completion counts in this month.
    let month = (sync_server::shanghai_month(server.state.now()) % 100) as usize;
    let d: serde_json::Value = admin.get(&format!("/api/v1/dispatch/420000?year={year}")).await.unwrap();
    assert_eq!(d["months"][month - 1]["villages_done"], 1);
    assert_eq!(d["months"][month - 1]["water_done"], 1);
    assert_eq!(d["months"][11]["villages_cumulative"], 1);
    let planned: f64 =
        d["months"].as_array().unwrap().iter().map(|m| m["villages_planned"].as_f64().unwrap()).sum();
    assert!((planned - 6.0).abs() < 1e-9, "monthly increments add up to the target: {planned}");

    // Supervision: the county with a target of 5 and 1 done is behind at year end; a county
    // viewer of the other county does not see it.
    let list: serde_json::Value =
        admin.get(&format!("/api/v1/supervision?year={year}&month=12&level=county")).await.unwrap();
    let codes: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["progress"]["region"]["code"].as_str().unwrap().to_string())
        .collect();
    assert!(codes.contains(&"421102000000".to_string()), "{codes:?}");
    let c2 = login(&server, "county_2").await;
    let theirs: serde_json::Value =
        c2.get(&format!("/api/v1/supervision?year={year}&month=12&level=township")).await.unwrap();
    assert!(
        theirs
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["progress"]["region"]["code"].as_str().unwrap().starts_with("421103"))
    );
    assert_eq!(c2.get::<serde_json::Value>(&at(12)).await.unwrap_err().status, StatusCode::NOT_FOUND);
    assert_eq!(a.get::<serde_json::Value>(&at(12)).await.unwrap_err().status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn review_queue_filters_and_bulk_review() {
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let w1 = water_body(fx.site("water1").id, vec![], None);
    let f1 = facility(fx.site("facility1").id, shared::inspection::FacilityRunningState::Running);
    let w2 = water_body(fx.site("water1").id, vec![], None);
    a.push(&batch(da, vec![submit(1, &w1), submit(2, &f1), submit(3, &w2)])).await.unwrap();
    let (b, db) = inspector(&server, "inspector_b").await;
    b.push(&batch(db, vec![submit(1, &water_body(fx.site("water2").id, vec![], None))])).await.unwrap();

    let r1 = login(&server, "reviewer_1").await;
    let page: serde_json::Value = r1.get("/api/v1/review/queue").await.unwrap();
    assert_eq!(page["total"], 3);
    let ids: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["record"]["inspection"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids[0], w2.id.to_string(), "newest first");
    assert!(!ids.contains(&fx.site("water2").id.to_string()));
    let water: serde_json::Value = r1.get("/api/v1/review/queue?kind=water_body&limit=1").await.unwrap();
    assert_eq!((water["total"].as_u64(), water["items"].as_array().unwrap().len()), (Some(2), 1));
    let other_village: serde_json::Value =
        r1.get(&format!("/api/v1/review/queue?village={}", fx.site("village4").village)).await.unwrap();
    assert_eq!(other_village["total"], 0);
    let outside =
        r1.get::<serde_json::Value>(&format!("/api/v1/review/queue?village={}", fx.t2)).await.unwrap_err();
    assert_eq!(outside.status, StatusCode::NOT_FOUND);

    let bulk = serde_json::json!({
        "items": [{"id": w1.id, "version": 1}, {"id": f1.id, "version": 7}, {"id": w2.id, "version": 1}],
        "decision": "approve"
    });
    let res: serde_json::Value =
        r1.send_json(reqwest::Method::POST, "/api/v1/review/bulk", &bulk).await.unwrap();
    assert_eq!(res[0]["status"], "approved");
    assert_eq!(res[1]["error"]["code"], "stale_version");
    assert_eq!(res[2]["status"], "approved");
    // Time filters: everything arrived just now.
    let hour_ago = (time::OffsetDateTime::now_utc() - time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let recent: serde_json::Value =
        r1.get(&format!("/api/v1/review/queue?status=submitted&from={hour_ago}")).await.unwrap();
    assert_eq!(recent["total"], 1);
    let older: serde_json::Value =
        r1.get(&format!("/api/v1/review/queue?status=submitted&to={hour_ago}")).await.unwrap();
    assert_eq!(older["total"], 0);
    let left: serde_json::Value = r1.get("/api/v1/review/queue").await.unwrap();
    assert_eq!(left["total"], 1);
    let approved: serde_json::Value = r1.get("/api/v1/review/queue?status=approved").await.unwrap();
    assert_eq!(approved["total"], 2);
    assert_eq!(
        a.get::<serde_json::Value>("/api/v1/review/queue").await.unwrap_err().error.code,
        ErrorCode::Forbidden
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn exports_parse_back_with_the_expected_rows() {
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let mut records = Vec::new();
    for n in 0..25 {
        let mut i = water_body(fx.site("water1").id, vec![], None);
        i.notes = format!("第{n}条, 含逗号和\"引号\"");
        records.push(i);
    }
    let muts = records.iter().enumerate().map(|(n, i)| submit(n as u64 + 1, i)).collect();
    a.push(&batch(da, muts)).await.unwrap();

    let r1 = login(&server, "reviewer_1").await;
    let (status, headers, bytes) = r1.get_bytes("/api/v1/exports/inspections.csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-disposition"].to_str().unwrap().contains("inspections.csv"));
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 BOM for Excel");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    let rows = parse_csv(text);
    assert_eq!(rows[0][0], "记录编号");
    assert_eq!(rows.len(), 26, "header + 25 rows");
    let row = rows.iter().find(|r| r[13] == "第7条, 含逗号和\"引号\"").expect("quoted fields round-trip");
    assert_eq!(row[4], "测试塘");
    assert_eq!(row[5], fx.site("water1").village.to_string());
    let sent = records.iter().find(|i| i.id.to_string() == row[0]).expect("a sent record");
    let at = sent.position.as_ref().expect("position").point;
    assert_eq!(row[8], format!("{:.6}", at.lng()));
    assert_eq!((rows[0][14].as_str(), row[14].as_str(), row[15].as_str()), ("定位来源", "本机定位", ""));
    assert_eq!(
        (rows[0][20].as_str(), row[20].as_str()),
        ("position_source", "gps"),
        "the code in its own column"
    );
    assert_eq!((rows[0][16].as_str(), row[16].as_str()), ("预警", ""), "honest records carry no flags");

    let geo: serde_json::Value =
        serde_json::from_slice(&r1.get_bytes("/api/v1/exports/inspections.geojson").await.2).unwrap();
    assert_eq!(geo["type"], "FeatureCollection");
    let features = geo["features"].as_array().unwrap();
    assert_eq!(features.len(), 25);
    assert_eq!(features[0]["geometry"]["type"], "Point");
    let sent = records.iter().find(|i| features[0]["id"] == i.id.to_string()).expect("a sent record");
    let at = sent.position.as_ref().expect("position").point;
    assert_eq!(features[0]["geometry"]["coordinates"][0], at.lng(), "RFC 7946 order: longitude first");
    assert_eq!(features[0]["geometry"]["coordinates"][1], at.lat());
    assert_eq!(features[0]["properties"]["flags"], serde_json::json!([]));
    assert_eq!(features[0]["properties"]["position_source"], "gps");
    assert_eq!(features[0]["properties"]["fix_count"], 1);

    // Scoped: the other county's viewer gets an empty list, an inspector nothing at all.
    let c2 = login(&server, "county_2").await;
    let other: serde_json::Value =
        serde_json::from_slice(&c2.get_bytes("/api/v1/exports/inspections.geojson").await.2).unwrap();
    assert_eq!(other["features"].as_array().unwrap().len(), 0);
    assert_eq!(a.get_bytes("/api/v1/exports/inspections.csv").await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn exports_carry_each_rows_own_flags_across_read_batches() {
    // The export reads flags a batch of rows at a time (500): more rows than that, some of them
    // flagged, must each come out with their own.
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let records: Vec<_> = (0..530)
        .map(|n| {
            let mut i = water_body(fx.site("water1").id, vec![], None);
            if n % 97 == 3
                && let Some(p) = &mut i.position
            {
                p.accuracy_m = Some(500.0);
            }
            i
        })
        .collect();
    for (n, chunk) in records.chunks(500).enumerate() {
        let muts = chunk.iter().enumerate().map(|(k, i)| submit((n * 500 + k) as u64 + 1, i)).collect();
        a.push(&batch(da, muts)).await.unwrap();
    }
    let r1 = login(&server, "reviewer_1").await;
    let (status, _, bytes) = r1.get_bytes("/api/v1/exports/inspections.csv").await;
    assert_eq!(status, StatusCode::OK);
    let rows = parse_csv(std::str::from_utf8(&bytes[3..]).unwrap());
    assert_eq!(rows.len(), 531, "header + every record");
    let mut flagged = 0;
    for (n, i) in records.iter().enumerate() {
        let row = rows.iter().find(|r| r[0] == i.id.to_string()).expect("every record exported");
        if n % 97 == 3 {
            assert!(!row[16].is_empty(), "record {n} lost its flag");
            flagged += 1;
        } else {
            assert_eq!(row[16], "", "record {n} got another's flag");
        }
    }
    assert_eq!(flagged, 6);
}

/// A small RFC 4180 reader for the test (quotes, doubled quotes, CRLF).
pub(crate) fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => field.push(c),
        }
    }
    rows
}

#[tokio::test(flavor = "multi_thread")]
async fn xlsx_exports_parse_back_with_typed_cells() {
    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let sent: Vec<_> = (0..12).map(|_| water_body(fx.site("water1").id, vec![], None)).collect();
    let muts = sent.iter().enumerate().map(|(n, i)| submit(n as u64 + 1, i)).collect();
    a.push(&batch(da, muts)).await.unwrap();
    let r1 = login(&server, "reviewer_1").await;
    let (status, _, bytes) = r1.get_bytes("/api/v1/exports/inspections.xlsx").await;
    assert_eq!(status, StatusCode::OK);
    let mut wb: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = wb.worksheet_range("检查记录").unwrap();
    let rows: Vec<_> = sheet.rows().collect();
    assert_eq!(rows.len(), 13, "header + 12 rows");
    assert_eq!(rows[0][0], Data::String("记录编号".into()));
    assert_eq!(rows[1][1], Data::Float(1.0), "version is a number cell");
    assert!(matches!(rows[1][6], Data::DateTime(_)), "received time is a date cell: {:?}", rows[1][6]);
    let first = sent.iter().find(|i| rows[1][0] == Data::String(i.id.to_string())).expect("a sent record");
    assert_eq!(rows[1][8], Data::Float(first.position.as_ref().expect("position").point.lng()));
    assert_eq!(rows[0][16], Data::String("预警".into()));
    assert_eq!(rows[1][4], Data::String("测试塘".into()));
    assert_eq!(rows[0][14], Data::String("定位来源".into()));
    assert_eq!(rows[1][14], Data::String("本机定位".into()));
    assert_eq!(rows[1][20], Data::String("gps".into()));

    let admin = login(&server, "admin").await;
    let (status, _, bytes) = admin.get_bytes("/api/v1/exports/progress/421102").await;
    assert_eq!(status, StatusCode::OK);
    let mut wb: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let name = wb.sheet_names()[0].clone();
    let sheet = wb.worksheet_range(&name).unwrap();
    let rows: Vec<_> = sheet.rows().collect();
    assert_eq!(rows[0][2], Data::String("村庄整治目标".into()));
    assert_eq!(rows[1][0], Data::String("421102000000".into()), "the region itself first");
    assert_eq!(rows.len(), 1 + 1 + 2, "the county and its two townships");
    // Out of scope: the region does not exist for them.
    let c2 = login(&server, "county_2").await;
    assert_eq!(c2.get_bytes("/api/v1/exports/progress/421102").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn sites_geojson_and_supervision_csv_are_scoped_to_the_caller() {
    let (server, fx) = setup().await;
    let ids_in = |prefix: &str| -> std::collections::BTreeSet<String> {
        fx.sites
            .values()
            .filter(|s| s.village.as_str().starts_with(prefix))
            .map(|s| s.id.to_string())
            .collect()
    };
    let features = |v: &serde_json::Value| -> std::collections::BTreeSet<String> {
        v["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_string()).collect()
    };
    let c1 = login(&server, "county_1").await;
    let (status, headers, bytes) = c1.get_bytes("/api/v1/exports/sites.geojson").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/geo+json");
    let geo: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(features(&geo), ids_in("421102"), "every site of the county, nothing else");
    let f = &geo["features"][0];
    assert_eq!(
        (f["geometry"]["coordinates"][0].as_f64(), f["geometry"]["coordinates"][1].as_f64()),
        (Some(114.87), Some(30.45))
    );
    // Narrowed to a township inside the scope; a township outside it is unknown.
    let t2: serde_json::Value = serde_json::from_slice(
        &c1.get_bytes(&format!("/api/v1/exports/sites.geojson?region={}", fx.t2)).await.2,
    )
    .unwrap();
    assert_eq!(features(&t2), ids_in(&fx.t2.as_str()[..9]));
    assert_eq!(
        c1.get_bytes(&format!("/api/v1/exports/sites.geojson?region={}", fx.t3)).await.0,
        StatusCode::NOT_FOUND
    );
    // An inspector gets exactly their assigned villages' sites.
    let (a, _) = inspector(&server, "inspector_a").await;
    let mine: serde_json::Value =
        serde_json::from_slice(&a.get_bytes("/api/v1/exports/sites.geojson").await.2).unwrap();
    let villages: Vec<_> = ["village1", "village2", "village3"].iter().map(|n| fx.site(n).village).collect();
    let assigned: std::collections::BTreeSet<String> =
        fx.sites.values().filter(|s| villages.contains(&s.village)).map(|s| s.id.to_string()).collect();
    assert_eq!(features(&mine), assigned);

    // The supervision list as CSV: every township of the county is behind a plan it has not started.
    let year = sync_server::shanghai_year(server.state.now());
    {
        let mut tx = server.state.store.write().unwrap();
        tx.upsert_target(&Target {
            year,
            region: "421102000000".parse().unwrap(),
            metric: TargetMetric::VillagesRemediated,
            value: 5.0,
            monthly_plan: plan(),
        })
        .unwrap();
        tx.commit().unwrap();
    }
    let json: Vec<serde_json::Value> =
        c1.get(&format!("/api/v1/supervision?level=township&year={year}&month=12")).await.unwrap();
    let (status, _, bytes) =
        c1.get_bytes(&format!("/api/v1/exports/supervision.csv?level=township&year={year}&month=12")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    let rows = parse_csv(std::str::from_utf8(&bytes[3..]).unwrap());
    assert_eq!(rows[0][0], "区划代码");
    assert_eq!(rows.len(), json.len() + 1);
    assert!(!json.is_empty());
    for (row, j) in rows[1..].iter().zip(&json) {
        assert_eq!(row[0], j["progress"]["region"]["code"].as_str().unwrap());
        assert_eq!(row[2], format!("{:.0}", j["shortfall"].as_f64().unwrap()));
    }
    let err = c1.get_bytes("/api/v1/exports/supervision.csv?level=village").await;
    assert_eq!(err.0, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_for_review_carries_its_site_and_flags() {
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let mut w = water_body(fx.site("water1").id, vec![], None);
    if let Some(p) = &mut w.position {
        p.accuracy_m = Some(500.0);
    }
    a.push(&batch(da, vec![submit(1, &w)])).await.unwrap();
    let r1 = login(&server, "reviewer_1").await;
    let d = r1.inspection(w.id).await.unwrap();
    assert_eq!(d["site"]["id"], fx.site("water1").id.to_string());
    let flags: Vec<&str> =
        d["flags"].as_array().unwrap().iter().map(|f| f["flag"].as_str().unwrap()).collect();
    assert!(flags.contains(&"weak_accuracy"), "{flags:?}");
}

/// Progress rows at any level below a region (issue 12): a county's villages in one list are
/// exactly the rows its townships list one by one, counties and townships likewise; a level at
/// or above the region is refused with the field named; the XLSX follows the same rows.
#[tokio::test(flavor = "multi_thread")]
async fn progress_rows_at_any_level_match_the_drill_down() {
    use shared::console::{RegionProgress, Tracking};
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let v = village(fx.site("village1").id, Some(SiteStatus::Completed), Some(true));
    a.push(&batch(da, vec![submit(1, &v)])).await.unwrap();
    login(&server, "reviewer_1").await.review(v.id, 1, ReviewDecision::Approve, "").await.unwrap();

    let admin = login(&server, "admin").await;
    let rows = |t: Tracking| t.children;
    let drill = async |code: &str, depth: usize| -> Vec<RegionProgress> {
        let mut level: Vec<RegionProgress> =
            rows(admin.get(&format!("/api/v1/tracking/{code}")).await.unwrap());
        for _ in 1..depth {
            let mut next = Vec::new();
            for r in &level {
                next.extend(rows(admin.get(&format!("/api/v1/tracking/{}", r.region.code)).await.unwrap()));
            }
            level = next;
        }
        level.sort_by_key(|r| r.region.code);
        level
    };
    for (code, level, depth) in [
        ("421102000000", "village", 2),
        ("420000000000", "county", 2),
        ("420000000000", "township", 3),
        ("420000000000", "village", 4),
    ] {
        let mut flat: Vec<RegionProgress> =
            rows(admin.get(&format!("/api/v1/tracking/{code}?level={level}")).await.unwrap());
        flat.sort_by_key(|r| r.region.code);
        let expected = drill(code, depth).await;
        assert!(!flat.is_empty());
        assert_eq!(flat, expected, "{code} at {level}");
    }
    let villages: Vec<RegionProgress> =
        rows(admin.get("/api/v1/tracking/420000000000?level=village").await.unwrap());
    let done = villages.iter().find(|r| r.region.code == fx.site("village1").village).unwrap();
    assert_eq!((done.villages.done, done.villages.target), (1, 1.0));
    // Not at or above the region itself.
    for bad in ["county", "prefecture", "nonsense"] {
        let e =
            admin.get::<Tracking>(&format!("/api/v1/tracking/421102000000?level={bad}")).await.unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(e.error.fields[0].field, "level");
    }
    // The XLSX holds the region's row and one per village.
    let (status, _, bytes) = admin.get_bytes("/api/v1/exports/progress/420000000000?level=village").await;
    assert_eq!(status, StatusCode::OK);
    let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    use calamine::Reader;
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(sheet.height(), 1 + 1 + villages.len());
}
