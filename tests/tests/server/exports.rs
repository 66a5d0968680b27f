//! The inspection list and the queue at province scale (issue 12): Chinese labels beside the
//! codes, photo links that lead to the photos, flags by text and by kind, and XLSX split into
//! sheets when one is full; exports of versions stored before their export columns existed.

use qingliu_tests::client::sha256_hex;
use qingliu_tests::records::*;
use reqwest::StatusCode;
use shared::review::ReviewDecision;

use crate::tracking::parse_csv;
use crate::{inspector, login, setup};

fn photo(n: usize, salt: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(29).wrapping_add(salt)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn exports_show_labels_keep_codes_and_link_the_photos() {
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let data = photo(40_000, 5);
    a.upload(&data, 16_384).await.unwrap();
    let with_photo = water_body(fx.site("water1").id, vec![photo_ref(&data)], None);
    let mut weak = water_body(fx.site("water1").id, vec![], None);
    weak.position.as_mut().unwrap().accuracy_m = Some(500.0);
    let returned = water_body(fx.site("water1").id, vec![], None);
    a.push(&batch(da, vec![submit(1, &with_photo), submit(2, &weak), submit(3, &returned)])).await.unwrap();
    let r1 = login(&server, "reviewer_1").await;
    r1.review(returned.id, 1, ReviewDecision::Return, "照片不清楚，请补拍").await.unwrap();

    let (status, _, bytes) = r1.get_bytes("/api/v1/exports/inspections.csv").await;
    assert_eq!(status, StatusCode::OK);
    let rows = parse_csv(std::str::from_utf8(&bytes[3..]).unwrap());
    let header = &rows[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("column {name}"));
    let row_of = |id: shared::ids::InspectionId| {
        rows.iter().find(|r| r[0] == id.to_string()).unwrap_or_else(|| panic!("row of {id}"))
    };
    assert_eq!(rows.len(), 4);
    // Labels people read, codes for machines in their own columns.
    let p = row_of(with_photo.id);
    assert_eq!((p[col("审核状态")].as_str(), p[col("status")].as_str()), ("待审核", "submitted"));
    assert_eq!((p[col("检查类型")].as_str(), p[col("kind")].as_str()), ("黑臭水体检查", "water_body"));
    assert_eq!((p[col("定位来源")].as_str(), p[col("position_source")].as_str()), ("本机定位", "gps"));
    assert_eq!(p[col("site_id")], fx.site("water1").id.to_string());
    assert_eq!(p[col("照片数")], "1");
    // The link is the server's own address for the photo, and leads to its bytes.
    let link = p[col("照片链接")].clone();
    assert_eq!(link, format!("{}/api/v1/blobs/{}", r1.base, sha256_hex(&data)));
    let got = r1.http.get(&link).bearer_auth(r1.token.clone().unwrap()).send().await.unwrap();
    assert_eq!(got.bytes().await.unwrap().to_vec(), data);
    assert_eq!(row_of(weak.id)[col("照片链接")], "");
    // Flags by text and by kind.
    let w = row_of(weak.id);
    assert!(w[col("预警")].contains("定位精度较差"), "{:?}", w[col("预警")]);
    assert_eq!(w[col("flag_kinds")], "weak_accuracy");
    assert_eq!(p[col("flag_kinds")], "");
    // The review as it stands.
    let r = row_of(returned.id);
    assert_eq!((r[col("审核状态")].as_str(), r[col("status")].as_str()), ("已退回", "returned"));
    assert_eq!(r[col("审核意见")], "照片不清楚，请补拍");

    let geo: serde_json::Value =
        serde_json::from_slice(&r1.get_bytes("/api/v1/exports/inspections.geojson").await.2).unwrap();
    let feature = |id: shared::ids::InspectionId| {
        geo["features"].as_array().unwrap().iter().find(|f| f["id"] == id.to_string()).unwrap().clone()
    };
    let f = feature(with_photo.id);
    assert_eq!(f["properties"]["status_zh"], "待审核");
    assert_eq!(f["properties"]["kind_zh"], "黑臭水体检查");
    assert_eq!(f["properties"]["photo_links"], serde_json::json!([link]));
    let f = feature(weak.id);
    assert_eq!(f["properties"]["flags"][0]["flag"], "weak_accuracy");
    assert_eq!(f["properties"]["accuracy_m"], 500.0);

    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
    let (_, _, bytes) = r1.get_bytes("/api/v1/exports/inspections.xlsx").await;
    let mut wb: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = wb.worksheet_range("检查记录").unwrap();
    let x: Vec<_> = sheet.rows().collect();
    let xrow = x.iter().find(|r| r[0] == Data::String(returned.id.to_string())).unwrap();
    assert_eq!(xrow[2], Data::String("已退回".into()));
    assert_eq!(xrow[18], Data::String("returned".into()));
    assert_eq!(xrow[12], Data::String("照片不清楚，请补拍".into()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_sheet_continues_on_the_next() {
    use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let sent: Vec<_> = (0..12).map(|_| water_body(fx.site("water1").id, vec![], None)).collect();
    a.push(&batch(da, sent.iter().enumerate().map(|(n, i)| submit(n as u64 + 1, i)).collect()))
        .await
        .unwrap();
    let store = server.state.store.clone();
    let bytes = tokio::task::spawn_blocking(move || {
        let admin = store.read().unwrap().user_by_username("admin").unwrap().unwrap().info;
        let actor = sync_server::domain::Actor { user: admin, token_hash: vec![] };
        let mut out = Vec::new();
        sync_server::domain::export::inspections_xlsx_sheets(
            store.as_ref(),
            &actor,
            &Default::default(),
            &Default::default(),
            5,
            &mut |c| {
                out.extend_from_slice(&c);
                true
            },
        )
        .unwrap();
        out
    })
    .await
    .unwrap();
    let mut wb: Xlsx<_> = open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(wb.sheet_names(), ["检查记录", "检查记录 2", "检查记录 3"]);
    let mut ids = Vec::new();
    for (name, rows) in [("检查记录", 5), ("检查记录 2", 5), ("检查记录 3", 2)] {
        let sheet = wb.worksheet_range(name).unwrap();
        let r: Vec<_> = sheet.rows().collect();
        assert_eq!(r[0][0], Data::String("记录编号".into()), "each sheet has its header");
        assert_eq!(r.len(), 1 + rows, "{name}");
        ids.extend(r[1..].iter().map(|row| row[0].to_string()));
    }
    let mut want: Vec<String> = sent.iter().map(|i| i.id.to_string()).collect();
    want.sort();
    ids.sort();
    assert_eq!(ids, want, "every record once, across the sheets");
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_stored_before_export_columns_are_filled_in_at_start() {
    // A database from before migration 0011 holds versions without export rows: the server
    // fills them in (with their stored flags) before it serves, so the export misses none.
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let mut weak = water_body(fx.site("water1").id, vec![], None);
    weak.position.as_mut().unwrap().accuracy_m = Some(500.0);
    let plain = water_body(fx.site("water1").id, vec![], None);
    a.push(&batch(da, vec![submit(1, &weak), submit(2, &plain)])).await.unwrap();
    let r1 = login(&server, "reviewer_1").await;
    let before = r1.get_bytes("/api/v1/exports/inspections.csv").await.2;
    qingliu_tests::database::Dba::open(&server.state.config).execute("DELETE FROM version_exports", &[]);
    let gone = parse_csv(
        std::str::from_utf8(&r1.get_bytes("/api/v1/exports/inspections.csv").await.2[3..]).unwrap(),
    );
    assert_eq!(gone.len(), 1, "without export columns the rows are missing (the test's premise)");
    assert_eq!(sync_server::domain::export::backfill(server.state.store.as_ref()).unwrap(), 2);
    let after = r1.get_bytes("/api/v1/exports/inspections.csv").await.2;
    assert_eq!(after, before, "the same export as when the columns were written at push");
    assert_eq!(sync_server::domain::export::backfill(server.state.store.as_ref()).unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_past_the_count_cap_says_so_and_pages_newest_first() {
    // More submitted records than the queue counts exactly: the count stops at the cap and says
    // so, and the pages (which then walk the arrival index instead of sorting) stay newest first.
    use sync_server::store::{FLAG_COUNT_CAP, LIST_COUNT_CAP};
    let (server, fx) = setup().await;
    let n = LIST_COUNT_CAP as usize + 30;
    let site = fx.site("water1");
    let user = fx.user("inspector_a").id;
    let base = time::OffsetDateTime::now_utc() - time::Duration::hours(10);
    let (mut ids, mut flagged, mut mocked) = (Vec::new(), Vec::new(), Vec::new());
    {
        let mut tx = server.state.store.write().unwrap();
        let device = qingliu_tests::records::store_device(tx.as_mut(), user, base);
        for k in 0..n {
            let i = water_body(site.id, vec![], None);
            let at = base + time::Duration::seconds(k as i64);
            qingliu_tests::records::store_submitted(tx.as_mut(), &i, site.village, user, device, at);
            // Every 9th flagged (more than the flag count cap), every 18th twice (one record,
            // however many flags, counts once) with a kind under the cap.
            if k % 9 == 7 {
                let mut flags = vec![shared::flags::Flag::WeakAccuracy { accuracy_m: 300.0 }];
                if k % 18 == 7 {
                    flags.push(shared::flags::Flag::MockLocation);
                    mocked.push(i.id.to_string());
                }
                let rows: Vec<_> = flags
                    .into_iter()
                    .map(|flag| sync_server::store::FlagRow {
                        record_id: i.id,
                        version: 1,
                        flag,
                        village: site.village,
                        user_id: user,
                        received_at: at,
                    })
                    .collect();
                tx.insert_flags(&rows).unwrap();
                flagged.push(i.id.to_string());
            }
            ids.push(i.id.to_string());
        }
        tx.commit().unwrap();
    }
    ids.reverse(); // newest first
    let r1 = login(&server, "reviewer_1").await;
    let first: serde_json::Value = r1.get("/api/v1/review/queue?limit=20").await.unwrap();
    assert_eq!(
        (first["total"].as_u64(), first["total_capped"].as_bool()),
        (Some(LIST_COUNT_CAP), Some(true))
    );
    let got = |page: &serde_json::Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["record"]["inspection"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(got(&first), ids[..20]);
    let last: serde_json::Value =
        r1.get(&format!("/api/v1/review/queue?limit=50&offset={}", LIST_COUNT_CAP)).await.unwrap();
    assert_eq!(got(&last), ids[LIST_COUNT_CAP as usize..], "the last page, oldest last");
    // Flag filters are counted from the flags, up to their own cap: each flagged record once,
    // newest first, whether the page walks the arrival index (past the cap) or starts from the
    // flags (under it).
    flagged.reverse();
    mocked.reverse();
    assert!(flagged.len() as u64 > FLAG_COUNT_CAP && (mocked.len() as u64) < FLAG_COUNT_CAP);
    let any: serde_json::Value = r1.get("/api/v1/review/queue?flag=any&limit=50").await.unwrap();
    assert_eq!((any["total"].as_u64(), any["total_capped"].as_bool()), (Some(FLAG_COUNT_CAP), Some(true)));
    assert_eq!(got(&any), flagged[..50]);
    let mock: serde_json::Value = r1.get("/api/v1/review/queue?flag=mock_location&limit=50").await.unwrap();
    assert_eq!(
        (mock["total"].as_u64(), mock["total_capped"].as_bool()),
        (Some(mocked.len() as u64), Some(false))
    );
    assert_eq!(got(&mock), mocked[..50]);
    let deep: serde_json::Value = r1
        .get(&format!("/api/v1/review/queue?flag=mock_location&limit=50&offset={}", mocked.len() - 10))
        .await
        .unwrap();
    assert_eq!(got(&deep), mocked[mocked.len() - 10..], "the last page of a flag kind");
    let none: serde_json::Value = r1.get("/api/v1/review/queue?flag=any&status=approved").await.unwrap();
    assert_eq!(none["total"], 0, "the record filters still apply");
    // A narrower filter under the cap is counted exactly.
    let hour_ago = (time::OffsetDateTime::now_utc() - time::Duration::hours(10)
        + time::Duration::seconds(n as i64 - 5))
    .format(&time::format_description::well_known::Rfc3339)
    .unwrap();
    let recent: serde_json::Value =
        r1.get(&format!("/api/v1/review/queue?from={}", hour_ago.replace('+', "%2B"))).await.unwrap();
    assert_eq!(recent["total_capped"], false);
    assert!(recent["total"].as_u64().unwrap() <= 5, "{}", recent["total"]);
}

/// The console map's points (issue 12): every site with a position in the caller's scope and
/// the records waiting for review there, nothing outside it; an inspector's map has sites only;
/// a region outside the scope is not found.
#[tokio::test(flavor = "multi_thread")]
async fn map_points_hold_the_scope_sites_and_the_waiting_records() {
    use shared::console::MapPoints;
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let w = water_body(fx.site("water1").id, vec![], None);
    let v = village(fx.site("village1").id, None, None);
    let done = water_body(fx.site("water1").id, vec![], None);
    a.push(&batch(da, vec![submit(1, &w), submit(2, &v), submit(3, &done)])).await.unwrap();
    let r1 = login(&server, "reviewer_1").await;
    r1.review(done.id, 1, ReviewDecision::Approve, "").await.unwrap();

    // What the store holds, per township prefix.
    let store = server.state.store.clone();
    let sites_in = move |prefix: &str| {
        let mut n = 0;
        store
            .read()
            .unwrap()
            .for_each_site(&mut |s| {
                n += usize::from(s.position.is_some() && s.village.to_string().starts_with(prefix))
            })
            .unwrap();
        n
    };
    let admin = login(&server, "admin").await;
    let all: MapPoints = admin.get("/api/v1/map/points").await.unwrap();
    assert_eq!(all.sites.len(), sites_in("42"));
    assert!(
        all.sites.len() > 3
            && all.sites.lng.len() == all.sites.len()
            && all.sites.lat.len() == all.sites.len()
    );
    assert!(all.sites.ids.is_empty());
    // The waiting records, newest first, at the positions they were taken; not the approved one.
    assert_eq!(all.pending.ids, vec![v.id, w.id]);
    let p = w.position.as_ref().unwrap().point;
    assert!((all.pending.lng[1] - p.lng()).abs() < 1e-6 && (all.pending.lat[1] - p.lat()).abs() < 1e-6);
    assert_eq!(all.pending.names[1], fx.site("water1").name);
    assert!(!all.pending_capped);

    // A reviewer: their township only; narrowing to another county is not found.
    let mine: MapPoints = r1.get("/api/v1/map/points").await.unwrap();
    assert_eq!(mine.sites.len(), sites_in("421102101"));
    assert!(mine.sites.len() < all.sites.len());
    assert_eq!(mine.pending.ids.len(), 2);
    let other = r1.get::<MapPoints>("/api/v1/map/points?region=421103000000").await.unwrap_err();
    assert_eq!((other.status, other.error.code), (StatusCode::NOT_FOUND, shared::ErrorCode::NotFound));
    let county2 = login(&server, "county_2").await;
    let theirs: MapPoints = county2.get("/api/v1/map/points").await.unwrap();
    assert!(theirs.pending.is_empty(), "nothing waits in county 2");
    // An inspector's map: their sites, no review queue.
    let own: MapPoints = a.get("/api/v1/map/points").await.unwrap();
    assert!(!own.sites.is_empty() && own.pending.is_empty());
}

/// Flag filters list each flagged record once, newest first, page after page, however many
/// flags it carries; the export filtered by a flag holds the same records (issue 12: rare
/// flags are found from the flags, not by walking every record).
#[tokio::test(flavor = "multi_thread")]
async fn flag_filters_list_each_flagged_record_once_in_order() {
    use shared::console::QueuePage;
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let mut flagged = Vec::new();
    let mut all = Vec::new();
    for n in 0..7u64 {
        let mut w = water_body(fx.site("water1").id, vec![], None);
        if n % 2 == 0 {
            // Two flags on one record: weak accuracy and a faked position.
            let p = w.position.as_mut().unwrap();
            p.accuracy_m = Some(500.0);
            p.mock = true;
            flagged.push(w.id);
        }
        all.push(submit(n + 1, &w));
    }
    for m in all {
        // One push each, so that arrival order is the order above.
        a.push(&batch(da, vec![m])).await.unwrap();
    }
    flagged.reverse();
    let r1 = login(&server, "reviewer_1").await;
    for filter in ["any", "mock_location", "weak_accuracy"] {
        let mut seen = Vec::new();
        for page in 0..3 {
            let q: QueuePage = r1
                .get(&format!("/api/v1/review/queue?flag={filter}&limit=2&offset={}", page * 2))
                .await
                .unwrap();
            assert_eq!((q.total, q.total_capped), (4, false), "{filter}");
            seen.extend(q.items.iter().map(|i| i.record.inspection.id));
        }
        assert_eq!(seen, flagged, "{filter}: each flagged record once, newest first");
    }
    let none: QueuePage = r1.get("/api/v1/review/queue?flag=photo_reuse").await.unwrap();
    assert_eq!((none.total, none.items.len()), (0, 0));
    let (status, _, bytes) = r1.get_bytes("/api/v1/exports/inspections.csv?flag=any").await;
    assert_eq!(status, StatusCode::OK);
    let rows = parse_csv(std::str::from_utf8(&bytes[3..]).unwrap());
    let ids: Vec<String> = rows[1..].iter().map(|r| r[0].clone()).collect();
    assert_eq!(ids, flagged.iter().map(|i| i.to_string()).collect::<Vec<_>>());
}

/// `sync-server verify` checks the export columns against the versions (issue 12): exports read
/// those columns, not the signed JSON, so an edit there — a note rewritten, a flag dropped — must
/// be found and named, and a table left as the server wrote it must verify.
#[tokio::test(flavor = "multi_thread")]
async fn verify_finds_an_edited_export_row() {
    use sync_server::domain::integrity::{ExportProblem, verify_exports};
    use sync_server::store::{ExportFlags, VersionExport};
    let (server, fx) = setup().await;
    let (a, da) = inspector(&server, "inspector_a").await;
    let plain = water_body(fx.site("water1").id, vec![], None);
    let mut weak = water_body(fx.site("water1").id, vec![], None);
    weak.position.as_mut().unwrap().accuracy_m = Some(500.0);
    a.push(&batch(da, vec![submit(1, &plain), submit(2, &weak)])).await.unwrap();
    let store = server.state.store.as_ref();
    let clean = verify_exports(store).unwrap();
    assert!(clean.checked >= 2 && clean.problems.is_empty(), "{clean:?}");

    let stored = |id| store.read().unwrap().version(&id, 1).unwrap().unwrap();
    let (p, w) = (stored(plain.id), stored(weak.id));
    let mut tx = store.write().unwrap();
    let mut rewritten = VersionExport::of(&p);
    rewritten.notes = "已整改到位".into();
    tx.put_version_export(&rewritten, &ExportFlags::of(&[])).unwrap();
    // The weak fix's flag dropped from what the exports print.
    tx.put_version_export(&VersionExport::of(&w), &ExportFlags::of(&[])).unwrap();
    tx.commit().unwrap();

    let mut found = verify_exports(store).unwrap().problems;
    found.sort_by_key(|p| p.to_string());
    let mut expected = vec![
        ExportProblem::Differs { record: plain.id.to_string(), version: 1 },
        ExportProblem::Differs { record: weak.id.to_string(), version: 1 },
    ];
    expected.sort_by_key(|p| p.to_string());
    assert_eq!(found, expected);
    // Written back as the server computes it, the table verifies again.
    let mut tx = store.write().unwrap();
    for i in [&p, &w] {
        let flags = sync_server::domain::export::export_flags(tx.as_mut(), i).unwrap();
        tx.put_version_export(&VersionExport::of(i), &ExportFlags::of(&flags)).unwrap();
    }
    tx.commit().unwrap();
    assert!(verify_exports(store).unwrap().problems.is_empty());
}
