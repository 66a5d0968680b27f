//! Positions from the device: an external receiver's NMEA stream over a real TCP socket feeds
//! the app core's position service, the captured position travels with its source, accuracy
//! and fix count to the server, and a typed position reaches the reviewer flagged as manual.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use qingliu_app::position::PositionService;
use qingliu_app::sync;
use qingliu_tests::records::*;
use shared::flags::Flag;
use shared::geo::{LngLat, distance_m};
use shared::inspection::{Position, PositionSource};
use shared::position::{
    CaptureMode, CapturePhase, CaptureSettings, CaptureStatus, PositionSettings, SourceConfig,
};

use crate::{login, setup, tablet};

const GOOD: &str = include_str!("../../../src-tauri/testdata/nmea/good.nmea");

/// A receiver on a real socket: sends the recording once, then holds the connection until the
/// app lets go of it, and reports how long it was held after the last byte.
fn receiver(stream_text: &'static str) -> (String, mpsc::Receiver<Duration>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(stream_text.as_bytes()).unwrap();
        s.flush().unwrap();
        let sent = Instant::now();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = [0u8; 64];
        // The app never writes: a read returning 0 is the app closing the link.
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                let _ = tx.send(sent.elapsed());
                return;
            }
        }
    });
    (addr, rx)
}

fn wait_finished(svc: &PositionService) -> CaptureStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = svc.status().expect("a capture was started");
        if s.phase.is_finished() {
            return s;
        }
        assert!(Instant::now() < deadline, "capture did not end: {s:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn receiver_settings(address: String) -> PositionSettings {
    PositionSettings {
        source: SourceConfig::ReceiverTcp { address },
        capture: CaptureSettings {
            mode: CaptureMode::Average,
            accept_accuracy_m: 5.0,
            average_fixes: 10,
            average_seconds: 60,
            timeout_seconds: 60,
        },
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn receiver_position_over_tcp_reaches_the_server_with_its_capture_details() {
    let (server, fx) = setup().await;
    let (_dir, core, client) = tablet(&server.base, "inspector_a").await;
    let water = core.site(&fx.site("water1").id).unwrap().expect("site pulled");

    let (addr, closed) = receiver(GOOD);
    let svc = PositionService::new();
    let started = svc.start(&receiver_settings(addr), None).unwrap();
    assert_eq!((started.phase, started.source), (CapturePhase::Waiting, PositionSource::Receiver));
    let s = tokio::task::spawn_blocking(move || {
        let s = wait_finished(&svc);
        assert!(!svc.receiver_active(), "the receiver is released when the capture ends");
        s
    })
    .await
    .unwrap();
    assert_eq!((s.phase, s.fixes_used, s.outliers), (CapturePhase::Done, 10, 0), "{s:?}");
    let p = s.position.clone().unwrap();
    assert!(distance_m(p.point, LngLat::new(114.871, 30.451)) < 0.05, "{:?}", p.point);
    assert_eq!(
        (p.source, p.accuracy_m, p.fix_count, p.satellites),
        (PositionSource::Receiver, Some(2.0), 10, Some(14))
    );
    // The link closes once the capture is done, not when the receiver gives up.
    let held = closed.recv_timeout(Duration::from_secs(10)).expect("the app closed the receiver link");
    assert!(held < Duration::from_secs(5), "held {held:?}");

    // The captured position travels with the record.
    let mut i = water_body(water.id, vec![], None);
    i.position = Some(p.clone());
    core.save_draft(&i).unwrap();
    core.submit(&i.id).unwrap();
    sync::sync_once(&core, &client, &mut |_| {}).await.unwrap();
    let reviewer = login(&server, "reviewer_1").await;
    let detail = reviewer.inspection(i.id).await.unwrap();
    let stored: Position =
        serde_json::from_value(detail["record"]["inspection"]["position"].clone()).unwrap();
    assert_eq!(stored, p);
    assert_eq!(detail["record"]["inspection"]["position"]["source"], "receiver");
    let flags: Vec<Flag> = serde_json::from_value(detail["flags"].clone()).unwrap();
    assert!(
        !flags.iter().any(|f| matches!(f, Flag::ManualPosition { .. } | Flag::CaptureTimedOut)),
        "{flags:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_receiver_is_said_and_stopping_releases_it() {
    // A port nothing listens on: bind, take the address, close.
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let svc = PositionService::new();
    svc.start(&receiver_settings(addr), Some(CaptureMode::Single)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let s = loop {
        let s = svc.status().unwrap();
        if s.source_error.is_some() {
            break s;
        }
        assert!(Instant::now() < deadline, "no error reported: {s:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(s.source_error.unwrap().contains("无法连接接收机"));
    assert_eq!(s.phase, CapturePhase::Waiting, "a receiver may come back until the timeout");
    let s = svc.stop().unwrap();
    assert_eq!((s.phase, s.position), (CapturePhase::Cancelled, None));
    assert!(!svc.receiver_active());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manual_position_reaches_the_reviewer_flagged_with_its_reason() {
    let (server, fx) = setup().await;
    let (_dir, core, client) = tablet(&server.base, "inspector_a").await;
    let water = core.site(&fx.site("water1").id).unwrap().expect("site pulled");

    // Without a reason the app refuses to queue it.
    let mut i = water_body(water.id, vec![], None);
    i.position = Some(Position::new(LngLat::new(114.8702, 30.4503), PositionSource::Manual));
    let (_, errors) = core.save_draft(&i).unwrap();
    assert!(errors.iter().any(|e| e.field == "position.manual_reason"), "{errors:?}");
    assert!(core.submit(&i.id).is_err(), "a manual position without a reason is not queued");

    i.position =
        Some(Position::manual(LngLat::new(114.8702, 30.4503), "塘边树荫下无卫星信号，按塘口木牌位置输入"));
    core.save_draft(&i).unwrap();
    core.submit(&i.id).unwrap();
    sync::sync_once(&core, &client, &mut |_| {}).await.unwrap();

    let reviewer = login(&server, "reviewer_1").await;
    let detail = reviewer.inspection(i.id).await.unwrap();
    let flags: Vec<Flag> = serde_json::from_value(detail["flags"].clone()).unwrap();
    assert!(
        flags.contains(&Flag::ManualPosition {
            reason: "塘边树荫下无卫星信号，按塘口木牌位置输入".into()
        }),
        "{flags:?}"
    );
    // The server refuses the same thing without a reason even from a client that skips the
    // app's check.
    let mut bad = water_body(water.id, vec![], None);
    bad.position = Some(Position::new(LngLat::new(114.8702, 30.4503), PositionSource::Manual));
    let inspector = login(&server, "inspector_a").await;
    let device = shared::DeviceId::new();
    inspector.register_device(device, "test").await.unwrap();
    let resp = inspector.push(&batch(device, vec![submit(1, &bad)])).await.unwrap();
    match &resp.results[0].outcome {
        shared::sync::MutationOutcome::Rejected { error } => {
            assert!(error.fields.iter().any(|f| f.field == "position.manual_reason"), "{error:?}")
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}
