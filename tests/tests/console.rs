//! The browser console in headless Chromium (Debian's, driven by chromedriver), served by a real
//! sync-server at `/`: a township reviewer approves one record and returns another with a
//! comment, and approves a third from the keyboard alone; the county dashboard's totals move accordingly; a county viewer sees only their own
//! county, in the table and when the browser asks the API for another county directly.
//!
//! Needs the UI bundle in `ui/dist` (`scripts/build-ui.sh`; `scripts/test.sh` builds it first)
//! and `chromium` + `chromium-driver` (installed by `scripts/test.sh`).

use std::path::{Path, PathBuf};

use qingliu_tests::fixture::{self, PASSWORD};
use qingliu_tests::records::*;
use qingliu_tests::webdriver::{Driver, chromedriver, console_login};
use qingliu_tests::{ApiClient, TestServer};
use shared::DeviceId;
use shared::site::SiteStatus;

fn dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist")
}

/// A server with the console and the fixture, and inspector_a logged in with a registered tablet.
async fn console_and_tablet() -> (TestServer, fixture::Fixture, ApiClient, DeviceId) {
    assert!(dist().join("index.html").exists(), "ui/dist missing: run scripts/build-ui.sh first");
    let server = TestServer::start_with(|c| c.console_dir = Some(dist())).await;
    let fx = fixture::install(server.state.store.as_ref());
    let mut a = ApiClient::new(&server.base);
    a.login("inspector_a", PASSWORD).await.unwrap();
    let device = DeviceId::new();
    a.register_device(device, "平板").await.unwrap();
    (server, fx, a, device)
}

async fn login(d: &Driver, base: &str, user: &str) {
    console_login(d, base, user).await;
}

async fn logout(d: &Driver) {
    d.click("#logout").await;
    d.wait("#username", 20).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reviewer_approves_and_returns_dashboard_follows_and_scopes_hold_in_chromium() {
    assert!(dist().join("index.html").exists(), "ui/dist missing: run scripts/build-ui.sh first");
    let server = TestServer::start_with(|c| c.console_dir = Some(dist())).await;
    let fx = fixture::install(server.state.store.as_ref());
    let base = server.base.clone();

    // The console's files come from the server, under a CSP, with no external origin.
    let page = reqwest::get(format!("{base}/")).await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("default-src 'self'") && !csp.contains("http"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"), "no external resources: {html}");

    // Two submissions from the field: a village's remediation and a water body's elimination.
    let mut a = ApiClient::new(&base);
    a.login("inspector_a", PASSWORD).await.unwrap();
    let device = DeviceId::new();
    a.register_device(device, "平板").await.unwrap();
    let v = village(fx.site("village1").id, Some(SiteStatus::Completed), Some(true));
    let w = water_body(fx.site("water1").id, vec![], Some(SiteStatus::Eliminated));
    let f = facility(fx.site("facility1").id, shared::inspection::FacilityRunningState::Running);
    a.push(&batch(device, vec![submit(1, &v), submit(2, &w), submit(3, &f)])).await.unwrap();

    let home = tempfile::tempdir().unwrap();
    let (_driver_proc, driver_base) = chromedriver(home.path()).await;
    let d = Driver::chromium(&driver_base, &home.path().join("profile")).await;
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");

    // County viewer before: nothing remediated; only their own county's townships listed.
    login(&d, &base, "county_1").await;
    let before = d.wait_text("#kpi-villages .kpi-value", 20, |t| !t.is_empty()).await;
    assert_eq!(before, "0");
    let water_before = d.wait_text("#kpi-water .kpi-value", 20, |t| !t.is_empty()).await;
    assert_eq!(water_before, "0");
    let regions: Vec<String> = serde_json::from_value(
        d.script("return [...document.querySelectorAll('#progress-table tr[data-region]')].map(r => r.dataset.region)").await,
    )
    .unwrap();
    assert_eq!(regions, vec!["421102101000", "421102102000"], "the county's two townships, nothing else");
    // The browser's own session asking for the other county is refused like any unknown region.
    let other = d
        .script_async(
            "const done = arguments[arguments.length - 1];
             const t = sessionStorage.getItem('qingliu.console.token');
             fetch('/api/v1/tracking/421103000000', {headers: {authorization: 'Bearer ' + t}})
               .then(r => r.json().then(b => done([r.status, b.code])));",
        )
        .await;
    assert_eq!(other, serde_json::json!([404, "not_found"]));
    d.screenshot(&shots.join("console-dashboard-before.png")).await;
    logout(&d).await;

    // The reviewer: the queue holds all three; approve the village, return the water body.
    login(&d, &base, "reviewer_1").await;
    d.wait_text("#queue-total", 20, |t| t.contains('3')).await;
    d.screenshot(&shots.join("console-queue.png")).await;
    d.click(&format!("tr[data-id='{}'] button.open", v.id)).await;
    d.wait_text("#record-title", 20, |t| t.contains("测试村")).await;
    d.wait_text("#distance", 20, |t| t.contains('m')).await;
    d.screenshot(&shots.join("console-record.png")).await;
    d.click("#approve").await;
    d.wait_text("#queue-total", 20, |t| t.contains('2')).await;

    d.click(&format!("tr[data-id='{}'] button.open", w.id)).await;
    d.wait("#return", 20).await;
    // A return without a comment is refused in the browser and nothing is sent.
    d.click("#return").await;
    d.wait("#review-error", 10).await;
    d.type_into("#comment", "照片不清晰，请补拍水面").await;
    d.click("#return").await;
    d.wait_text("#queue-total", 20, |t| t.contains('1')).await;
    // The last one from the keyboard alone: X selects the row under the cursor, A approves.
    d.wait(&format!("tr[data-id='{}']", f.id), 20).await;
    d.type_into("#queue", "x").await;
    d.wait_text("#bulk-approve", 10, |t| t.contains("(1)")).await;
    d.type_into("#queue", "a").await;
    d.wait_text("#queue-total", 20, |t| t.contains('0')).await;

    let admin = {
        let mut c = ApiClient::new(&base);
        c.login("admin", PASSWORD).await.unwrap();
        c
    };
    let rv = admin.inspection(v.id).await.unwrap();
    let rw = admin.inspection(w.id).await.unwrap();
    assert_eq!(rv["record"]["status"], "approved");
    assert_eq!(rw["record"]["status"], "returned");
    assert_eq!(rw["record"]["review"]["comment"], "照片不清晰，请补拍水面");
    assert_eq!(admin.inspection(f.id).await.unwrap()["record"]["status"], "approved");
    logout(&d).await;

    // The province admin reads the audit log's head off the admin page: the number and hash of
    // the last entry (their own login), as the server computes it.
    login(&d, &base, "admin").await;
    // The dashboard opens first after login; switch once it is there.
    d.wait_text("#kpi-villages .kpi-value", 20, |t| !t.is_empty()).await;
    d.click("button[data-nav=admin]").await;
    let shown = d.wait_text("#audit-head-value", 20, |t| t.contains(':')).await;
    let head = sync_server::domain::audit::head(server.state.store.as_ref()).unwrap();
    assert_eq!(shown, format!("{}:{}", head.seq, head.hash));
    assert!(
        sync_server::domain::audit::verify(server.state.store.as_ref(), Some(&head))
            .unwrap()
            .problems
            .is_empty()
    );
    d.screenshot(&shots.join("console-admin-audit.png")).await;
    logout(&d).await;

    // County viewer after: the approved village counts, the returned water body does not.
    login(&d, &base, "county_1").await;
    d.wait_text("#kpi-villages .kpi-value", 20, |t| t == "1").await;
    assert_eq!(d.wait_text("#kpi-water .kpi-value", 20, |t| !t.is_empty()).await, "0");
    // Drill down to the township: its row for the village shows the completion.
    d.click("#progress-table tr[data-region='421102101000'] button.drill").await;
    d.wait_text("#crumbs", 20, |t| t.contains("421102101000")).await;
    let village_row = format!("#progress-table tr[data-region='{}']", fx.site("village1").village);
    d.wait_text(&village_row, 20, |t| t.contains("1 /")).await;
    d.screenshot(&shots.join("console-dashboard-after.png")).await;
    d.quit().await;
}

/// The reviewer's view of a reused photo: the queue filtered to photo reuse holds the copy and
/// not its original; the copy's detail shows both photos side by side (both decoded by the
/// browser), and the link opens the other record; 疑点统计 counts the flag for the township and
/// for the inspector.
#[tokio::test(flavor = "multi_thread")]
async fn reviewer_sees_a_reused_photo_beside_its_original_and_the_flag_statistics_in_chromium() {
    use qingliu_tests::photos::{derivatives, tablet_photo};
    let (server, fx, a, device) = console_and_tablet().await;
    let base = server.base.clone();
    let original = tablet_photo("iphone6-gps-8mp.jpg");
    let cropped = derivatives(&original)
        .into_iter()
        .find(|(what, _)| what.starts_with("cropped 5 % around"))
        .expect("a cropped derivative")
        .1;
    let honest = tablet_photo("nokia83-gps-9mp.jpg");
    for bytes in [&original, &cropped, &honest] {
        a.upload(bytes, 1 << 20).await.unwrap();
    }
    let first = water_body(fx.site("water1").id, vec![photo_ref(&original)], None);
    let mut copy = village(fx.site("village1").id, None, None);
    copy.photos = vec![photo_ref(&honest), photo_ref(&cropped)];
    a.push(&batch(device, vec![submit(1, &first), submit(2, &copy)])).await.unwrap();

    let home = tempfile::tempdir().unwrap();
    let (_driver_proc, driver_base) = chromedriver(home.path()).await;
    let d = Driver::chromium(&driver_base, &home.path().join("profile")).await;
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");

    login(&d, &base, "reviewer_1").await;
    d.wait_text("#queue-total", 20, |t| t.contains('2')).await;
    d.script(
        "const s = document.querySelector('#f-flag'); s.value = 'photo_reuse';
         s.dispatchEvent(new Event('change', {bubbles: true})); return null;",
    )
    .await;
    d.wait_text("#queue-total", 20, |t| t.contains('1') && !t.contains('2')).await;
    assert!(d.find(&format!("tr[data-id='{}']", first.id)).await.is_none(), "the original is not a reuse");
    d.click(&format!("tr[data-id='{}'] button.open", copy.id)).await;

    // The flag names the other record's site and which photo; both photos are there, decoded.
    let flag = d.wait_text("#flags li[data-flag='photo_reuse']", 20, |t| !t.is_empty()).await;
    assert!(flag.contains("测试塘"), "the flag names the other site: {flag}");
    d.wait(".evidence img.evidence-mine", 20).await;
    d.wait(".evidence img.evidence-other", 20).await;
    let sizes = d
        .script_async(
            "const done = arguments[arguments.length - 1];
             const imgs = ['.evidence img.evidence-mine', '.evidence img.evidence-other']
               .map(s => document.querySelector(s));
             Promise.all(imgs.map(i => i.decode().then(() => [i.naturalWidth, i.naturalHeight], () => [0, 0])))
               .then(done);",
        )
        .await;
    let sizes: Vec<(u32, u32)> = serde_json::from_value(sizes).unwrap();
    let dims = |jpeg: &[u8]| {
        let i = image::load_from_memory(jpeg).unwrap();
        (i.width(), i.height())
    };
    // This record's second photo (the crop) on the left, the other record's original on the right.
    assert_eq!(sizes, vec![dims(&cropped), dims(&original)], "both photos shown at their own size");
    let caption = d.wait_text(".evidence figure:first-child figcaption", 10, |t| !t.is_empty()).await;
    assert!(caption.contains('2'), "the caption names this record's photo 2: {caption}");
    d.screenshot(&shots.join("console-evidence-photo-reuse.png")).await;

    // The other record opens from the evidence.
    d.click(".evidence button.open-other").await;
    d.wait_text("#record-title", 20, |t| t.contains("测试塘")).await;

    // 疑点统计: the township's row and the inspector's row count the one flagged record.
    d.click("button[data-nav=flag_stats]").await;
    let town_row =
        format!("#flag-stats-table tr[data-key='{}']", fx.site("village1").village.parent().unwrap());
    let row = d.wait_text(&town_row, 20, |t| !t.is_empty()).await;
    assert!(row.contains("照片重复"), "the row names the kind: {row}");
    let cells: Vec<String> = serde_json::from_value(
        d.script(&format!(
            "return [...document.querySelectorAll(\"{town_row} td.num\")].map(c => c.textContent)"
        ))
        .await,
    )
    .unwrap();
    assert_eq!(cells, vec!["1", "1"], "one flagged record, one flag");
    d.screenshot(&shots.join("console-flag-stats.png")).await;
    d.script(
        "const s = document.querySelector('#fs-by'); s.value = 'inspector';
         s.dispatchEvent(new Event('change', {bubbles: true})); return null;",
    )
    .await;
    d.wait_text("#flag-stats-table tbody", 20, |t| t.contains("inspector_a")).await;
    d.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reviewer_views_and_downloads_the_documents_the_tablet_made_in_chromium() {
    use qingliu_tests::documents::{Blobs, enforcement_record, sign_all};
    use shared::documents::{DocumentKind, NumberBlockRequest, NumberBlockResponse};
    // A tablet took numbers, made a signed enforcement record and its 笔录, and synced.
    let (server, fx, a, device) = console_and_tablet().await;
    let base = server.base.clone();
    let req =
        NumberBlockRequest { device_id: device, year: 2026, kinds: DocumentKind::ALL.to_vec(), size: 10 };
    let blocks: NumberBlockResponse =
        a.send_json(reqwest::Method::POST, "/api/v1/documents/number-blocks", &req).await.unwrap();
    let mut blobs = Blobs::default();
    let mut i = enforcement_record(&mut blobs, &["coolpix-gps-small.jpg"]);
    i.site_id = fx.site("enterprise1").id;
    let number_of = |kind| {
        let b = blocks.blocks.iter().find(|b| b.kind == kind).unwrap();
        shared::documents::DocumentNumber { kind, year: b.year, serial: b.first }
    };
    i.document.as_mut().unwrap().numbers =
        vec![number_of(DocumentKind::InspectionRecord), number_of(DocumentKind::RectificationOrder)];
    sign_all(&mut blobs, &mut i);
    for h in i.blob_hashes() {
        a.upload(&blobs.0[&h], 1 << 20).await.unwrap();
    }
    let on_tablet =
        qingliu_documents::render(DocumentKind::InspectionRecord, &i, i.document.as_ref().unwrap(), &blobs.0)
            .unwrap();
    // The tablet signed the 笔录's digest; the order's is not the order the server makes now.
    i.document.as_mut().unwrap().digests = vec![
        shared::documents::DocumentDigest {
            kind: DocumentKind::InspectionRecord,
            sha256: qingliu_tests::client::sha256_hex(&on_tablet),
        },
        shared::documents::DocumentDigest { kind: DocumentKind::RectificationOrder, sha256: "0".repeat(64) },
    ];
    a.push(&batch(device, vec![submit(1, &i)])).await.unwrap();

    let home = tempfile::tempdir().unwrap();
    let (_driver_proc, driver_base) = chromedriver(home.path()).await;
    let d = Driver::chromium(&driver_base, &home.path().join("profile")).await;
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    login(&d, &base, "reviewer_1").await;
    d.click(&format!("tr[data-id='{}'] button.open", i.id)).await;
    let number =
        d.wait_text("#documents li[data-kind=inspection_record] .doc-number", 20, |t| !t.is_empty()).await;
    assert_eq!(number, number_of(DocumentKind::InspectionRecord).to_string());
    d.wait("#documents li[data-kind=rectification_order]", 5).await;
    d.click("#documents li[data-kind=inspection_record] button.doc-view").await;
    d.wait("#doc-view", 20).await;
    // What the console shows is the tablet's document, byte for byte.
    let shown =
        d.wait_attr("#documents li[data-kind=inspection_record]", "data-sha256", 20, |v| v.len() == 64).await;
    assert_eq!(shown, qingliu_tests::client::sha256_hex(&on_tablet));
    let check = "#documents li[data-kind=inspection_record] .doc-check";
    assert_eq!(d.wait_attr(check, "data-check", 20, |v| !v.is_empty()).await, "matches");
    d.wait_text(check, 5, |t| t.contains("与现场出具的文书一致")).await;
    d.click("#documents li[data-kind=rectification_order] button.doc-view").await;
    let check = "#documents li[data-kind=rectification_order] .doc-check";
    assert_eq!(d.wait_attr(check, "data-check", 20, |v| !v.is_empty()).await, "differs");
    d.wait_text(check, 5, |t| t.contains("与现场出具的文书不一致")).await;
    d.script("document.querySelector('#documents').scrollIntoView(); return null;").await;
    d.next_frame().await;
    d.screenshot(&shots.join("console-document.png")).await;
}

/// The whole province in the console: Hubei's demo registry (about 26,000 villages and 28,000
/// sites) behind a province admin. The progress table lists every village of the province yet
/// keeps a few dozen rows in the page, scrolls to the last village, filters and sorts; the map
/// draws every site as counted marks, pans and zooms. The browser's performance timeline gives
/// the figures (first draw, each redraw, the longest task while the table changes), written to
/// `tests/artifacts/console-province-scale.json` for BENCHMARKS.md: measured, not asserted.
#[tokio::test(flavor = "multi_thread")]
async fn province_admin_reads_every_village_and_every_site_in_chromium() {
    use shared::region::{HUBEI, RegionLevel};
    assert!(dist().join("index.html").exists(), "ui/dist missing: run scripts/build-ui.sh first");
    let server = TestServer::start_with(|c| c.console_dir = Some(dist())).await;
    let store = server.state.store.clone();
    let (villages, sites) = tokio::task::spawn_blocking(move || {
        sync_server::seed::seed_demo(store.as_ref(), 7, time::OffsetDateTime::now_utc()).unwrap();
        let mut tx = store.read().unwrap();
        let (lo, hi) = shared::region::RegionCode::parse(HUBEI).unwrap().descendant_range();
        let mut villages: Vec<String> = tx
            .regions_in(RegionLevel::Village, &lo, &hi)
            .unwrap()
            .iter()
            .map(|r| r.code.to_string())
            .collect();
        villages.sort();
        let named = tx.regions_in(RegionLevel::Village, &lo, &hi).unwrap().swap_remove(1234);
        let mut sites = 0usize;
        tx.for_each_site(&mut |s| sites += usize::from(s.position.is_some())).unwrap();
        ((villages, named), sites)
    })
    .await
    .unwrap();
    let (villages, named) = villages;
    assert!(villages.len() > 20_000 && sites > 25_000, "{} villages, {sites} sites", villages.len());
    let base = server.base.clone();
    let home = tempfile::tempdir().unwrap();
    let (_driver_proc, driver_base) = chromedriver(home.path()).await;
    let d = Driver::chromium(&driver_base, &home.path().join("profile")).await;
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");

    d.goto(&format!("{base}/")).await;
    d.wait("#username", 30).await;
    d.type_into("#username", "admin").await;
    d.type_into("#password", "Qingliu-2026!").await;
    d.click("#login").await;
    d.wait_text("#progress-count", 30, |t| t == "17 / 17").await;
    // Long tasks (over 50 ms on the main thread) are what a user feels as a frozen page.
    d.script(
        "window.__long = []; new PerformanceObserver(l => window.__long.push(...l.getEntries().map(e => e.duration)))
           .observe({type: 'longtask'}); return null;",
    )
    .await;

    // Every village of the province, in code order; only a window of rows is in the page.
    d.script(
        "const s = document.querySelector('#rows-level'); s.value = 'village';
         s.dispatchEvent(new Event('change', {bubbles: true})); return null;",
    )
    .await;
    let n = villages.len();
    d.wait_text("#progress-count", 60, |t| t == format!("{n} / {n}")).await;
    let drawn = || {
        d.script("return [...document.querySelectorAll('#progress-table tr[data-region]')].map(r => r.dataset.region)")
    };
    let first: Vec<String> = serde_json::from_value(drawn().await).unwrap();
    assert_eq!(first.first(), villages.first(), "code order from the first village");
    assert!(first.len() < 80, "a window of rows, not {}", first.len());
    // Scroll to the end: the last village of the province appears, still a window of rows.
    d.script("const v = document.querySelector('.vscroll'); v.scrollTop = v.scrollHeight; return null;")
        .await;
    let last = villages.last().unwrap().clone();
    d.wait(&format!("#progress-table tr[data-region='{last}']"), 20).await;
    let end: Vec<String> = serde_json::from_value(drawn().await).unwrap();
    assert!(end.len() < 80 && end.last() == Some(&last), "{:?}", end.last());
    d.screenshot(&shots.join("console-progress-villages.png")).await;
    // Most complete first: a village on this year's list that is done reads 100 %.
    d.click("button.sort[data-sort=villages]").await;
    d.wait_text("#progress-table tr[data-region] td:nth-child(3)", 20, |t| t == "100.0%").await;
    // A filter by name finds the village wherever it was.
    d.type_into("#progress-filter", &named.name).await;
    d.wait_text("#progress-count", 20, |t| t.ends_with(&format!(" / {n}")) && !t.starts_with(&n.to_string()))
        .await;
    d.wait(&format!("#progress-table tr[data-region='{}']", named.code), 20).await;
    let table_long: Vec<f64> = serde_json::from_value(d.script("return window.__long").await).unwrap();

    // The map: every site with a position, merged into counted marks at province zoom.
    d.script("window.__long = []; return null;").await;
    d.click("button[data-nav=map]").await;
    let shown =
        d.wait_attr("canvas.map-points", "data-shown", 60, |v| v.parse::<usize>().unwrap_or(0) > 0).await;
    let canvas = d.wait("canvas.map-points", 5).await;
    assert_eq!(d.attr(&canvas, "data-points").await.unwrap(), sites.to_string());
    assert_eq!(shown, sites.to_string(), "the province view holds every site");
    let marks: usize = d.attr(&canvas, "data-marks").await.unwrap().parse().unwrap();
    assert!(marks < sites / 4, "{marks} marks for {sites} sites");
    d.screenshot(&shots.join("console-map-province.png")).await;
    // Pan with the mouse, then zoom in at a point with the wheel: a step closer, fewer sites.
    d.draw_strokes(&canvas, &[vec![(0, 0), (-40, -20), (-80, -40), (-120, -60), (-160, -80)]]).await;
    let zoom: u8 = d.attr(&canvas, "data-zoom").await.unwrap().parse().unwrap();
    d.script(
        "const c = document.querySelector('canvas.map-points'); const r = c.getBoundingClientRect();
         c.dispatchEvent(new WheelEvent('wheel', {deltaY: -120, clientX: r.left + r.width / 2,
           clientY: r.top + r.height / 2, bubbles: true, cancelable: true})); return null;",
    )
    .await;
    d.wait_attr("canvas.map-points", "data-zoom", 10, |z| z == (zoom + 1).to_string()).await;
    d.next_frame().await;
    let closer: usize = d.attr(&canvas, "data-shown").await.unwrap().parse().unwrap();
    assert!(closer < sites, "zoomed in, {closer} of {sites} sites on screen");
    d.screenshot(&shots.join("console-map-zoomed.png")).await;
    let timing = d
        .script(
            "const ms = n => performance.getEntriesByName(n).map(e => e.duration);
             const geo = performance.getEntriesByType('resource').find(e => e.name.includes('/map/points'));
             return {first_draw: ms('qingliu-map-first-draw'), draws: ms('qingliu-map-draw'), long: window.__long,
                     fetch_ms: geo && geo.duration, wire_bytes: geo && geo.encodedBodySize, json_bytes: geo && geo.decodedBodySize};",
        )
        .await;
    let first_draw = timing["first_draw"][0].as_f64().expect("the first draw is measured");
    let mut draws: Vec<f64> = serde_json::from_value(timing["draws"].clone()).unwrap();
    assert!(draws.len() >= 3, "drawn at open, while panning and after zooming: {draws:?}");
    draws.sort_by(f64::total_cmp);
    let map_long: Vec<f64> = serde_json::from_value(timing["long"].clone()).unwrap();
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let report = serde_json::json!({
        "villages": n, "sites": sites, "marks_at_province_zoom": marks,
        "map_first_draw_ms": first_draw,
        "points_fetch_ms": timing["fetch_ms"], "points_wire_bytes": timing["wire_bytes"], "points_json_bytes": timing["json_bytes"],
        "map_draws": draws.len(), "map_draw_p50_ms": draws[draws.len() / 2], "map_draw_max_ms": max(&draws),
        "map_longest_task_ms": max(&map_long),
        "table_longest_task_ms": max(&table_long), "table_long_tasks": table_long.len(),
    });
    println!("{report:#}");
    std::fs::write(shots.join("console-province-scale.json"), format!("{report:#}\n")).unwrap();
    d.quit().await;
}

/// The province admin gives a system a service account on the admin page: the key shows once,
/// works at once as a read-only province viewer, and stops working the moment it is revoked;
/// the page never shows a key again.
#[tokio::test(flavor = "multi_thread")]
async fn province_admin_gives_a_system_a_key_and_revokes_it_in_chromium() {
    assert!(dist().join("index.html").exists(), "ui/dist missing: run scripts/build-ui.sh first");
    let server = TestServer::start_with(|c| c.console_dir = Some(dist())).await;
    let fx = fixture::install(server.state.store.as_ref());
    let base = server.base.clone();
    let home = tempfile::tempdir().unwrap();
    let (_driver_proc, driver_base) = chromedriver(home.path()).await;
    let d = Driver::chromium(&driver_base, &home.path().join("profile")).await;
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");

    login(&d, &base, "admin").await;
    d.wait_text("#kpi-villages .kpi-value", 20, |t| !t.is_empty()).await;
    d.click("button[data-nav=admin]").await;
    d.wait("#service-accounts", 20).await;
    d.type_into("#sa-name", "hubei-platform").await;
    d.type_into("#sa-display", "省数字政府平台").await;
    d.type_into("#sa-region", "420000").await;
    d.type_into("#sa-purpose", "数据共享（一套数），联系人 王工").await;
    d.click("#create-service-account").await;
    let key = d.wait_text("#sa-new-key", 20, |t| t.starts_with("qlk_")).await;
    d.wait("#service-accounts tr[data-account='hubei-platform']", 20).await;
    d.screenshot(&shots.join("console-service-accounts.png")).await;

    // The key reads the province as a viewer, at once.
    let mut system = ApiClient::new(&base);
    system.token = Some(key.clone());
    let me: shared::auth::UserInfo = system.get("/api/v1/me").await.unwrap();
    assert_eq!(
        (me.role, me.region.to_string().as_str()),
        (shared::auth::Role::ProvinceViewer, "420000000000")
    );
    assert!(system.get::<serde_json::Value>("/api/v1/feed").await.is_ok());

    // The system subscribes a receiver that is down; a record arrives; the admin page shows
    // the subscription failing, with the receiver's error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let hook: shared::integration::CreatedWebhook = system
        .send_json(
            reqwest::Method::POST,
            "/api/v1/webhooks",
            &serde_json::json!({"url": format!("http://{closed}/hook"), "events": ["version"]}),
        )
        .await
        .unwrap();
    let mut a = ApiClient::new(&base);
    a.login("inspector_a", PASSWORD).await.unwrap();
    let device = DeviceId::new();
    a.register_device(device, "平板").await.unwrap();
    a.push(&batch(device, vec![submit(1, &water_body(fx.site("water1").id, vec![], None))])).await.unwrap();
    let row = format!("#webhooks tr[data-webhook='{}'][data-state=failing]", hook.webhook.id);
    let mut shown = false;
    for _ in 0..100 {
        d.click("#webhooks-reload").await;
        if d.find(&row).await.is_some() {
            shown = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(shown, "the failing subscription is shown");
    let text = d.wait_text(&row, 20, |t| t.contains("无法连接")).await;
    assert!(text.contains("失败重试中"), "{text}");
    d.script("document.querySelector('#webhooks').scrollIntoView()").await;
    d.screenshot(&shots.join("console-webhooks.png")).await;

    // Revoked from the page: the next request with it is refused; the page shows it revoked
    // and nowhere the key itself (the one-time notice aside).
    d.click("#service-accounts tr[data-account='hubei-platform'] .key button.danger").await;
    d.wait("#service-accounts tr[data-account='hubei-platform'] .key.muted", 20).await;
    assert_eq!(system.get::<serde_json::Value>("/api/v1/me").await.unwrap_err().status, 401);
    let table = d.wait_text("#service-accounts table", 20, |t| t.contains("hubei-platform")).await;
    assert!(!table.contains(&key));
    assert!(table.contains("已吊销"), "{table}");
    d.quit().await;
}
