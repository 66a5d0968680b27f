//! End to end in the real webview: the Tauri app (WebKitGTK) driven through tauri-driver and
//! WebKitWebDriver under Xvfb, against the real sync-server.
//!
//! Log in; stop the server; record a black-odorous water body inspection with a photo offline,
//! its position taken live from the platform (WebKitGTK asks a real GeoClue, fed by an NMEA
//! stream: `qingliu_tests::geoclue`); start the server again; sync; the server holds it with
//! the photo's hash and the position with its source and accuracy. A reviewer returns it
//! through the API; the app shows the comment; it is corrected with a typed position and its
//! reason and resubmitted; the server holds version 2 and flags the typed position. Every
//! screen is then opened at tablet (768×1024) and phone (360×800) size: nothing scrolls
//! sideways. Screenshots of the screens go to `tests/artifacts/`.
//!
//! A second test signs an enforcement visit on the pad with pointer actions while offline,
//! previews its 笔录 in the webview, syncs, and compares the server's PDF with the tablet's.
//!
//! A third is the township reviewer's tablet: the queue, its details and photos arrive while
//! online; offline, one record is approved and another returned with a comment; online again,
//! the decisions sync once, the inspector's tablet receives them and the console (headless
//! Chromium) shows them.
//!
//! Needs the app built with the UI bundle (`scripts/test.sh` does it) and points at it with
//! `QINGLIU_APP_BIN`; run with `cargo test -p qingliu-tests --test e2e_app -- --ignored`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use qingliu_tests::fixture::{self, PASSWORD};
use qingliu_tests::geoclue::GeoClue;
use qingliu_tests::process::{Proc, free_port, wait_until};
use qingliu_tests::webdriver::Driver;
use qingliu_tests::{TestServer, client::sha256_hex};
use shared::geo::{LngLat, distance_m};
use shared::inspection::PositionSource;
use shared::review::ReviewDecision;

/// Start Xvfb on a free display number; answers the process and the DISPLAY value.
fn xvfb() -> (Proc, String) {
    for n in 90..140 {
        let lock = format!("/tmp/.X{n}-lock");
        if Path::new(&lock).exists() {
            continue;
        }
        let child = Command::new("Xvfb")
            .args([&format!(":{n}"), "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (apt install xvfb)");
        let socket = format!("/tmp/.X11-unix/X{n}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !Path::new(&socket).exists() {
            assert!(Instant::now() < deadline, "Xvfb :{n} did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        return (Proc(child), format!(":{n}"));
    }
    panic!("no free X display");
}

/// The screen on show fits a window `w` px wide (nothing scrolls sideways); its screenshot goes
/// to `layout-<name>-<screen>.png`.
async fn layout_fits(d: &Driver, w: u32, name: &str, screen: &str, shots: &Path) -> Result<(), String> {
    // A resize and a new screen take a frame or two to lay out: wait for the layout to fit, and
    // fail only if it never does.
    let deadline = Instant::now() + Duration::from_secs(5);
    let (view, content) = loop {
        d.next_frame().await;
        let (view, content) = d.widths().await;
        if (view <= w as i64 && content <= view) || Instant::now() > deadline {
            break (view, content);
        }
    };
    d.screenshot(&shots.join(format!("layout-{name}-{screen}.png"))).await;
    (view > 0 && view <= w as i64 && content <= view)
        .then_some(())
        .ok_or(format!("{name} {screen}: content {content} px wide in a {view} px viewport"))
}

fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts")
}

/// tauri-driver on free ports with the app's data under `home`, and a session of the app.
async fn launch(app: &str, display: &str, home: &Path, dbus: Option<&str>) -> (Proc, Driver) {
    let (port, native) = (free_port(), free_port());
    let mut cmd = Command::new("tauri-driver");
    cmd.args(["--port", &port.to_string(), "--native-port", &native.to_string()])
        .env("DISPLAY", display)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("QINGLIU_APP_DATA", home.join("app"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(bus) = dbus {
        cmd.env("DBUS_SYSTEM_BUS_ADDRESS", bus);
    }
    let proc = Proc(cmd.spawn().expect("tauri-driver (cargo install tauri-driver@2.1.0 --locked)"));
    let d = Driver::tauri(&format!("http://127.0.0.1:{port}"), app).await;
    (proc, d)
}

/// First run: server address and login as inspector_a; the first sync follows.
async fn log_in(d: &Driver, server_url: &str, shot: Option<&Path>) {
    log_in_as(d, server_url, "inspector_a", shot).await
}

async fn log_in_as(d: &Driver, server_url: &str, user: &str, shot: Option<&Path>) {
    d.wait("#server-url", 60).await;
    d.clear("#server-url").await;
    d.type_into("#server-url", server_url).await;
    d.type_into("#username", user).await;
    d.type_into("#password", PASSWORD).await;
    if let Some(p) = shot {
        d.screenshot(p).await;
    }
    d.click("#login").await;
    d.wait("#sync-now", 30).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the built app, tauri-driver and Xvfb: run by scripts/test.sh"]
async fn offline_capture_sync_return_and_resubmit_in_the_real_webview() {
    let app = std::env::var("QINGLIU_APP_BIN").expect("QINGLIU_APP_BIN must point at the built app");
    assert!(Path::new(&app).exists(), "{app} missing");
    let shots = artifacts();
    let _ = std::fs::create_dir_all(&shots);

    let server = TestServer::start().await;
    let fx = fixture::install(server.state.store.as_ref());
    let server_url = server.base.clone();

    // The tablet stands about 30 m from the pond's registered position.
    let here = LngLat::new(114.8702, 30.4502);
    let geoclue = GeoClue::start(here, 1.5, &["qingliu", "cn.gov.hubei.qingliu", "Qingliu"]);
    let (_x, display) = xvfb();
    let home = tempfile::tempdir().unwrap();
    let (driver_proc, d) = launch(&app, &display, home.path(), Some(&geoclue.bus_address)).await;
    log_in(&d, &server_url, Some(&shots.join("01-login.png"))).await;
    // The first sync brings the assigned villages' sites.
    d.wait_text("#last-sync", 30, |t| t.starts_with("20")).await;
    d.screenshot(&shots.join("02-home.png")).await;

    // Offline from here.
    let (data_dir, addr) = server.stop();

    d.click("button[data-nav=sites]").await;
    let water = fx.site("water1").clone();
    d.type_into("#site-search", "测试塘").await;
    d.wait(&format!("li[data-site='{}']", water.id), 20).await;
    d.screenshot(&shots.join("03-sites.png")).await;
    d.click(&format!("li[data-site='{}']", water.id)).await;
    d.click("button[data-new=water_body]").await;
    d.wait("#f-colour", 20).await;
    d.click("#f-colour option[value=dark]").await;
    d.click("#f-odour option[value=noticeable]").await;
    d.type_into("#f-depth", "60").await;
    d.type_into("#f-transparency", "18").await;
    d.type_into("#f-do", "1.6").await;
    // The position from the platform, live.
    d.click("#locate").await;
    if d.find("#capture-status[data-phase=done]").await.is_none() {
        let deadline = Instant::now() + Duration::from_secs(60);
        while d.find("#capture-status[data-phase=done]").await.is_none() {
            if Instant::now() > deadline {
                d.screenshot(&shots.join("failure-position.png")).await;
                panic!("no live position; GeoClue's log:\n{}", geoclue.log());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let summary = d.wait_text("#position-summary", 10, |t| t.contains("本机定位")).await;
    assert!(summary.contains('±'), "{summary}");
    d.wait_text("#site-distance", 10, |t| t.contains("m")).await;
    d.type_into("#f-notes", "水体发黑，有明显异味").await;
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/photos/coolpix-gps-small.jpg");
    d.type_into("#photo-input", photo.to_str().unwrap()).await;
    // WebKitWebDriver occasionally drops the change event of a file input on a cold webview:
    // if nothing is being processed after a while, choose the file again.
    let deadline = Instant::now() + Duration::from_secs(20);
    while d.find("#thumbs figure").await.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if d.find("#thumbs figure").await.is_none() {
        let busy = d.script("return document.body.innerText.includes('正在处理照片')").await;
        if busy != serde_json::Value::Bool(true) {
            d.type_into("#photo-input", photo.to_str().unwrap()).await;
        }
    }
    d.wait("#thumbs figure", 90).await;
    d.wait("#thumbs figure img[src^='data:image/jpeg']", 20).await;
    d.screenshot(&shots.join("04-form.png")).await;
    d.click("#submit-form").await;
    d.wait_text("#record-state-badge", 20, |t| t.contains("待上传") || t.contains("上传中")).await;
    // Syncing without a server fails visibly and keeps the record queued.
    d.click("button[data-nav=home]").await;
    d.wait_text("#pending-count", 20, |t| t == "1").await;
    d.click("#sync-now").await;
    d.wait("#sync-error", 30).await;
    d.screenshot(&shots.join("05-offline-queued.png")).await;

    // Back online, where it was.
    let server = TestServer::start_in(data_dir, addr, |_| {}).await;
    d.click("#sync-now").await;
    d.wait_text("#pending-count", 60, |t| t == "0").await;
    let record = {
        let mut tx = server.state.store.read().unwrap();
        let recs = tx
            .records_changed(&sync_server::store::RecordFilter::SubmittedBy(fx.user("inspector_a").id), 0, 10)
            .unwrap();
        assert_eq!(recs.len(), 1, "the server holds exactly one record");
        recs.into_iter().next().unwrap()
    };
    assert_eq!(record.inspection.version, 1);
    assert_eq!(record.inspection.photos.len(), 1);
    let pos = record.inspection.position.clone().expect("position recorded");
    assert_eq!((pos.source, pos.fix_count, pos.manual_reason.as_deref()), (PositionSource::Gps, 1, None));
    assert!(distance_m(pos.point, here) < 1.0, "GeoClue's position, got {:?}", pos.point);
    let accuracy = pos.accuracy_m.expect("the platform's accuracy travels with the position");
    assert!((0.0..=10.0).contains(&accuracy), "accuracy {accuracy}");
    assert!(matches!(record.inspection.body, shared::inspection::InspectionBody::WaterBody(ref w)
        if w.transparency_cm == Some(18.0) && w.colour == shared::inspection::ColourGrade::Dark));
    let hash = record.inspection.photos[0].sha256.clone();
    let mut reviewer = server.client();
    reviewer.login("reviewer_1", PASSWORD).await.unwrap();
    let bytes = reviewer.download(&hash).await.unwrap();
    assert_eq!(sha256_hex(&bytes), hash, "the server holds the photo under its hash");

    // The reviewer returns it; the comment reaches the device.
    let comment = "请补拍水体全景并注明水深测点";
    reviewer.review(record.inspection.id, 1, ReviewDecision::Return, comment).await.unwrap();
    d.click("#sync-now").await;
    d.wait_text("div[data-state=returned] .count", 60, |t| t == "1").await;
    d.click("button[data-nav=records]").await;
    let row = format!("li[data-record='{}'][data-state=returned]", record.inspection.id);
    d.wait(&row, 30).await;
    d.click(&row).await;
    d.wait_text("#review-comment-text", 20, |t| t == comment).await;
    d.screenshot(&shots.join("06-returned.png")).await;

    // Correct and resubmit: the server holds version 2 naming version 1.
    d.click("#correct").await;
    d.wait("#f-notes", 20).await;
    d.type_into("#f-notes", "（已补拍全景）").await;
    // The correction's position is typed at the pond's outlet, with the reason.
    d.clear("#f-lng").await;
    d.type_into("#f-lng", "114.8705").await;
    d.clear("#f-lat").await;
    d.type_into("#f-lat", "30.4501").await;
    d.clear("#f-accuracy").await;
    d.type_into("#f-accuracy", "15").await;
    d.wait("#f-manual-reason", 10).await;
    d.type_into("#f-manual-reason", "塘口有树荫遮挡，按排口标牌坐标输入").await;
    d.wait_text("#position-summary", 10, |t| t.contains("手动输入")).await;
    d.click("#submit-form").await;
    d.wait_text("#record-state-badge", 20, |t| {
        t.contains("待上传") || t.contains("上传中") || t.contains("已提交")
    })
    .await;
    d.click("button[data-nav=home]").await;
    d.click("#sync-now").await;
    let id = record.inspection.id;
    wait_until(60, "version 2 on the server", || {
        let r = reviewer.clone();
        async move { r.inspection(id).await.map(|v| v["record"]["inspection"]["version"] == 2).unwrap_or(false) }
    })
    .await;
    let detail = reviewer.inspection(id).await.unwrap();
    assert_eq!(detail["record"]["inspection"]["replaces_version"], 1);
    assert_eq!(detail["record"]["status"], "submitted");
    assert!(detail["record"]["inspection"]["notes"].as_str().unwrap().contains("已补拍全景"));
    assert_eq!(detail["record"]["inspection"]["position"]["source"], "manual");
    assert_eq!(
        detail["record"]["inspection"]["position"]["manual_reason"],
        "塘口有树荫遮挡，按排口标牌坐标输入"
    );
    let flags = detail["flags"].to_string();
    assert!(flags.contains("manual_position") && flags.contains("塘口有树荫遮挡"), "{flags}");
    d.click("button[data-nav=records]").await;
    d.wait(&format!("li[data-record='{id}'][data-state=submitted]"), 30).await;
    d.click("#lang-switch").await;
    d.wait_text("button[data-nav=records]", 10, |t| t == "Records").await;
    d.screenshot(&shots.join("07-records-en.png")).await;
    d.click("#lang-switch").await;
    d.wait_text("button[data-nav=records]", 10, |t| t == "记录").await;

    // Every screen at tablet-portrait and phone size: nothing wider than the screen.
    let mut too_wide = Vec::new();
    for (w, h, name) in [(768, 1024, "tablet"), (360, 800, "phone")] {
        d.set_window_size(w, h).await;
        let check = |screen: &'static str| layout_fits(&d, w, name, screen, &shots);
        d.click("button[data-nav=home]").await;
        d.wait("#sync-now", 10).await;
        too_wide.extend(check("home").await.err());
        d.click("button[data-nav=sites]").await;
        d.type_into("#site-search", "测试塘").await;
        d.wait(&format!("li[data-site='{}']", water.id), 20).await;
        too_wide.extend(check("sites").await.err());
        d.click(&format!("li[data-site='{}']", water.id)).await;
        d.wait("button[data-new=water_body]", 10).await;
        too_wide.extend(check("site").await.err());
        d.click("button[data-new=water_body]").await;
        d.wait("#f-colour", 20).await;
        d.wait("#site-distance", 10).await;
        too_wide.extend(check("form").await.err());
        d.click("button[data-nav=records]").await;
        d.wait(&format!("li[data-record='{id}']"), 20).await;
        too_wide.extend(check("records").await.err());
        d.click(&format!("li[data-record='{id}']")).await;
        d.wait("#record-state-badge", 20).await;
        too_wide.extend(check("record").await.err());
        d.click("button[data-nav=settings]").await;
        d.wait("#s-source", 20).await;
        too_wide.extend(check("settings").await.err());
    }
    assert!(too_wide.is_empty(), "screens wider than the window: {too_wide:#?}");

    d.quit().await;
    drop(driver_proc);
}

/// Strokes of a made-up signature, relative to the pad's centre, different for each signer.
/// The system's default PDF viewer for the app's session (freedesktop: `mimeapps.list` and a
/// desktop entry under the session's XDG dirs): it copies the file it is handed to the path
/// answered, whole (written aside, then renamed).
fn system_pdf_viewer(home: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let (apps, config) = (home.join("data/applications"), home.join("config"));
    std::fs::create_dir_all(&apps).unwrap();
    std::fs::create_dir_all(&config).unwrap();
    let script = home.join("pdf-viewer.sh");
    let out = home.join("opened.pdf");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ncp \"$1\" \"{0}.part\" && mv \"{0}.part\" \"{0}\"\n", out.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        apps.join("qingliu-test-viewer.desktop"),
        format!(
            "[Desktop Entry]\nType=Application\nName=PDF viewer\nExec={} %f\nMimeType=application/pdf;\n",
            script.display()
        ),
    )
    .unwrap();
    std::fs::write(
        config.join("mimeapps.list"),
        "[Default Applications]\napplication/pdf=qingliu-test-viewer.desktop\n",
    )
    .unwrap();
    out
}

fn signature_strokes(n: i64) -> Vec<Vec<(i64, i64)>> {
    (0..3)
        .map(|s| {
            let x0 = -180 + s * 120;
            (0..12).map(|k| (x0 + k * 8, ((k + n + s) % 4 - 2) * (12 + 3 * n))).collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the built app, tauri-driver and Xvfb: run by scripts/test.sh"]
async fn an_enforcement_visit_signed_on_the_pad_offline_gives_the_same_pdf_on_the_server() {
    let app = std::env::var("QINGLIU_APP_BIN").expect("QINGLIU_APP_BIN must point at the built app");
    let shots = artifacts();
    let _ = std::fs::create_dir_all(&shots);
    let server = TestServer::start().await;
    let fx = fixture::install(server.state.store.as_ref());
    let (_x, display) = xvfb();
    let home = tempfile::tempdir().unwrap();
    let opened = system_pdf_viewer(home.path());
    let (driver_proc, d) = launch(&app, &display, home.path(), None).await;
    d.set_window_size(1280, 800).await;
    log_in(&d, &server.base, None).await;
    // The first sync also takes blocks of document numbers.
    d.wait_text("#last-sync", 30, |t| t.starts_with("20")).await;

    // Offline on site from here.
    let (data_dir, addr) = server.stop();
    let enterprise = fx.site("enterprise1").clone();
    d.click("button[data-nav=sites]").await;
    d.type_into("#site-search", "测试化工").await;
    d.click(&format!("li[data-site='{}']", enterprise.id)).await;
    d.click("button[data-new=enforcement]").await;
    d.wait("#f-place", 20).await;
    d.type_into("#f-place", "测试工业园 3 号厂房").await;
    d.type_into("#f-present", "刘海波").await;
    let names = d.find_all(".f-officer-name").await;
    let creds = d.find_all(".f-officer-credential").await;
    assert_eq!((names.len(), creds.len()), (2, 2));
    for (n, (name, cred)) in [("王五", "42070019001"), ("赵六", "42070019002")].into_iter().enumerate() {
        d.type_el(&names[n], name).await;
        d.type_el(&creds[n], cred).await;
    }
    d.type_into("#f-recorder", "赵六").await;
    d.type_into("#f-findings", "厂区东侧雨水排放口有浑浊废水外排，雨污管网混接。").await;
    d.type_into("#f-violations", "通过雨水排放口排放生产废水").await;
    d.script(
        "const e = document.querySelector('#f-deadline'); e.value = '2027-01-15';
         e.dispatchEvent(new Event('change', { bubbles: true }));",
    )
    .await;

    // Numbers from the tablet's own blocks, then everyone signs on the pad.
    d.click("#doc-prepare").await;
    let number =
        d.wait_text("#doc-numbers li[data-kind=inspection_record]", 20, |t| t.contains("鄂环现检〔")).await;
    d.wait("#doc-numbers li[data-kind=rectification_order]", 5).await;
    for (n, key) in ["party", "inspector-0", "inspector-1", "recorder"].into_iter().enumerate() {
        d.click(&format!("#sign-{key}")).await;
        let pad = d.wait("#pad-canvas", 10).await;
        d.draw_strokes(&pad, &signature_strokes(n as i64)).await;
        if n == 0 {
            d.screenshot(&shots.join("e2e-signature-pad.png")).await;
        }
        d.click("#pad-ok").await;
        d.wait_text(&format!("tr[data-role='{key}'] .sig-state"), 20, |t| t.contains('✓')).await;
    }
    d.screenshot(&shots.join("e2e-signed.png")).await;
    // The 笔录 on the tablet: previewed, and kept beside the record.
    d.click(".doc-preview[data-kind=inspection_record]").await;
    d.wait("#doc-frame", 20).await;
    d.script("document.querySelector('#doc-frame').scrollIntoView()").await;
    // WebKitGTK shows the PDF in its own viewer (PDF.js), whose document the page cannot
    // read: the screenshot is for people; the file the tablet kept is checked below.
    d.next_frame().await;
    d.screenshot(&shots.join("e2e-document-preview.png")).await;
    let kept: Vec<PathBuf> = std::fs::read_dir(home.path().join("app/documents"))
        .expect("documents kept on the device")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("-v1-inspection_record.pdf"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let on_device = std::fs::read(&kept[0]).unwrap();
    let text = Command::new("pdftotext").arg(&kept[0]).arg("-").output().expect("pdftotext");
    let text: String = String::from_utf8_lossy(&text.stdout).chars().filter(|c| !c.is_whitespace()).collect();
    let number: String = number.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(number.ends_with('号') && text.contains(&number[number.find("鄂环").unwrap()..]), "{number}");
    for role in ["被检查单位现场负责人签名", "执法人员签名", "记录人签名", "刘海波", "王五", "赵六"]
    {
        assert!(text.contains(role), "the device's 笔录 lacks {role}");
    }
    // Printing and sharing go through the system's PDF viewer, handed the kept file.
    d.click("#doc-open").await;
    wait_until(20, "the system's PDF viewer is handed the document", || async { opened.exists() }).await;
    assert!(std::fs::read(&opened).unwrap() == on_device, "the viewer got other bytes than the kept 笔录");
    d.click("#submit-form").await;
    d.wait_text("#record-state-badge", 20, |t| t.contains("待上传")).await;

    d.click("button[data-nav=home]").await;
    d.wait_text("#pending-count", 20, |t| t == "1").await;
    // Back online: the server makes the same document of the version it received.
    let server = TestServer::start_in(data_dir, addr, |_| {}).await;
    d.click("#sync-now").await;
    d.wait_text("#pending-count", 60, |t| t == "0").await;
    let id = kept[0].file_name().unwrap().to_string_lossy().split("-v1-").next().unwrap().to_string();
    let mut reviewer = server.client();
    reviewer.login("reviewer_1", PASSWORD).await.expect("login");
    let (status, headers, on_server) =
        reviewer.get_bytes(&format!("/api/v1/inspections/{id}/versions/1/documents/inspection_record")).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers[shared::documents::CHECK_HEADER],
        "matches",
        "the tablet signed this document's digest"
    );
    if on_server != on_device {
        std::fs::write(shots.join("e2e-document-server.pdf"), &on_server).unwrap();
        std::fs::write(shots.join("e2e-document-device.pdf"), &on_device).unwrap();
        panic!("the server's 笔录 differs from the tablet's (both in tests/artifacts/)");
    }
    drop(driver_proc);
}

fn dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist")
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the built app, tauri-driver, Xvfb and Chromium: run by scripts/test.sh"]
async fn a_reviewer_decides_offline_on_the_tablet_and_the_console_and_the_inspector_see_it() {
    use qingliu_tests::records::{batch, photo_ref, submit, village, water_body};
    use qingliu_tests::webdriver::{chromedriver, console_login};
    use shared::site::SiteStatus;

    let app = std::env::var("QINGLIU_APP_BIN").expect("QINGLIU_APP_BIN must point at the built app");
    assert!(dist().join("index.html").exists(), "ui/dist missing: run scripts/build-ui.sh first");
    let shots = artifacts();
    let _ = std::fs::create_dir_all(&shots);
    let server = TestServer::start_with(|c| c.console_dir = Some(dist())).await;
    let fx = fixture::install(server.state.store.as_ref());

    // The inspector's tablet (the app core) and two submissions from it: a village's
    // remediation, and a water body with two camera photos.
    let field_dir = tempfile::tempdir().unwrap();
    let field = qingliu_app::AppCore::open(field_dir.path()).unwrap();
    qingliu_app::sync::login(&field, &server.base, "inspector_a", PASSWORD).await.unwrap();
    let field_client = qingliu_app::sync::client_for(&field).unwrap();
    let mut inspector = server.client();
    inspector.login("inspector_a", PASSWORD).await.unwrap();
    let device = shared::DeviceId::new();
    inspector.register_device(device, "平板二").await.unwrap();
    let photos_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/photos");
    let mut refs = Vec::new();
    for f in ["coolpix-gps-small.jpg", "orientation-3.jpg"] {
        let bytes = std::fs::read(photos_dir.join(f)).unwrap();
        inspector.upload(&bytes, 64 * 1024).await.unwrap();
        refs.push(photo_ref(&bytes));
    }
    let a = village(fx.site("village1").id, Some(SiteStatus::Completed), Some(true));
    let b = water_body(fx.site("water1").id, refs, None);
    let pushed = inspector.push(&batch(device, vec![submit(1, &a), submit(2, &b)])).await.unwrap();
    assert_eq!(pushed.last_applied_seq, 2);
    qingliu_app::sync::sync_once(&field, &field_client, &mut |_| {}).await.unwrap();
    assert_eq!(field.summary(&b.id).unwrap().state, shared::app::LocalState::Submitted);

    // The reviewer's tablet, online: the queue, the details and the photos arrive.
    let (_x, display) = xvfb();
    let home = tempfile::tempdir().unwrap();
    let (driver_proc, d) = launch(&app, &display, home.path(), None).await;
    log_in_as(&d, &server.base, "reviewer_1", Some(&shots.join("review-01-login.png"))).await;
    d.wait_text("#count-ready .count", 90, |t| t == "2").await;
    d.wait_text("#count-pending .count", 10, |t| t == "2").await;
    d.screenshot(&shots.join("review-02-home.png")).await;

    // Offline from here.
    let (data_dir, addr) = server.stop();
    d.click("button[data-nav=review_tab]").await;
    for r in [a.id, b.id] {
        d.wait(&format!("#review-list li[data-record='{r}'][data-ready=true]"), 20).await;
    }
    d.screenshot(&shots.join("review-03-queue.png")).await;

    // Approve the village.
    d.click(&format!("#review-list li[data-record='{}'] .open", a.id)).await;
    d.wait_text("#record-title", 20, |t| t.contains("测试村")).await;
    d.wait_text("#distance", 20, |t| t.contains('m')).await;
    d.click("#approve").await;
    d.wait_text("#notice", 20, |t| t.contains("决定已保存")).await;

    // Return the water body: its photos are on the tablet; a return needs a comment.
    d.click(&format!("#review-list li[data-record='{}'] .open", b.id)).await;
    d.wait("#photos img[src^='data:image/jpeg']", 30).await;
    d.wait_text("#record-title", 20, |t| t.contains("测试塘")).await;
    d.screenshot(&shots.join("review-04-record-offline.png")).await;
    d.click("#return").await;
    d.wait_text("#review-error", 10, |t| t.contains("意见")).await;
    let comment = "水体仍有异味，请补测溶解氧";
    d.type_into("#comment", comment).await;
    d.click("#return").await;
    d.wait_text("#notice", 20, |t| t.contains("决定已保存")).await;
    d.wait("#queue-empty", 20).await;
    d.click("button[data-view=view_decided]").await;
    for r in [a.id, b.id] {
        d.wait(&format!("#review-list li[data-record='{r}'] [data-decision=queued]"), 20).await;
    }
    d.screenshot(&shots.join("review-05-decided-offline.png")).await;
    // Syncing without a server fails visibly and keeps both decisions queued.
    d.click("button[data-nav=home]").await;
    d.wait_text("#count-queued .count", 20, |t| t == "2").await;
    d.click("#sync-now").await;
    d.wait("#sync-error", 30).await;
    d.wait_text("#pending-count", 10, |t| t == "2").await;

    // Online again: both go once.
    let server = TestServer::start_in(data_dir, addr, |c| c.console_dir = Some(dist())).await;
    d.click("#sync-now").await;
    d.wait_text("#pending-count", 60, |t| t == "0").await;
    d.wait_text("#count-queued .count", 20, |t| t == "0").await;
    d.wait_text("#count-conflicts .count", 20, |t| t == "0").await;
    d.screenshot(&shots.join("review-06-synced.png")).await;
    let mut admin = server.client();
    admin.login("admin", PASSWORD).await.unwrap();
    let ra = admin.inspection(a.id).await.unwrap();
    let rb = admin.inspection(b.id).await.unwrap();
    assert_eq!(ra["record"]["status"], "approved");
    assert_eq!(rb["record"]["status"], "returned");
    assert_eq!(rb["record"]["review"]["comment"], comment);
    assert_eq!(rb["record"]["review"]["reviewer_name"], "reviewer_1 显示名");
    {
        let mut tx = server.state.store.read().unwrap();
        for id in [a.id, b.id] {
            let decided = tx
                .audit_for(&id.to_string())
                .unwrap()
                .into_iter()
                .filter(|e| matches!(e.action.as_str(), "approve" | "return" | "reject"))
                .count();
            assert_eq!(decided, 1, "one decision on {id}");
        }
    }
    qingliu_tests::invariants::counters_match_recount(server.state.store.as_ref()).unwrap();

    // The review screens at tablet-portrait and phone size: nothing wider than the screen.
    let mut too_wide = Vec::new();
    for (w, h, name) in [(768, 1024, "tablet"), (360, 800, "phone")] {
        d.set_window_size(w, h).await;
        d.click("button[data-nav=home]").await;
        d.wait("#review-counts", 10).await;
        too_wide.extend(layout_fits(&d, w, name, "review-home", &shots).await.err());
        d.click("button[data-nav=review_tab]").await;
        d.click("button[data-view=view_all]").await;
        d.wait(&format!("#review-list li[data-record='{}']", b.id), 20).await;
        too_wide.extend(layout_fits(&d, w, name, "review-queue", &shots).await.err());
        d.click(&format!("#review-list li[data-record='{}'] .open", b.id)).await;
        d.wait("#my-decision[data-state=synced]", 20).await;
        d.wait("#photos img[src^='data:image/jpeg']", 30).await;
        too_wide.extend(layout_fits(&d, w, name, "review-record", &shots).await.err());
    }
    assert!(too_wide.is_empty(), "screens wider than the window: {too_wide:#?}");
    d.quit().await;
    drop(driver_proc);

    // The inspector's tablet receives the outcomes.
    let field_client = qingliu_app::sync::client_for(&field).unwrap();
    qingliu_app::sync::sync_once(&field, &field_client, &mut |_| {}).await.unwrap();
    assert_eq!(field.summary(&a.id).unwrap().state, shared::app::LocalState::Approved);
    let sb = field.summary(&b.id).unwrap();
    assert_eq!(sb.state, shared::app::LocalState::Returned);
    assert_eq!(sb.review.unwrap().comment, comment);

    // The console shows them.
    let chrome_home = tempfile::tempdir().unwrap();
    let (_chrome, chrome_base) = chromedriver(chrome_home.path()).await;
    let c = Driver::chromium(&chrome_base, &chrome_home.path().join("profile")).await;
    console_login(&c, &server.base, "reviewer_1").await;
    c.wait("#f-status", 20).await;
    c.click("#f-status option[value=returned]").await;
    c.wait(&format!("tr[data-id='{}']", b.id), 20).await;
    c.click(&format!("tr[data-id='{}'] button.open", b.id)).await;
    c.wait_text("#record-status", 20, |t| t.contains("已退回")).await;
    c.wait_text("#standing-review", 20, |t| t.contains(comment)).await;
    c.screenshot(&shots.join("review-07-console-returned.png")).await;
    c.quit().await;
}
