//! The form's position card: a live capture from the device's source (the tablet's location or
//! an external receiver) with the accuracy shown while waiting, single or averaged; typing the
//! position as the last resort, with a reason; and the position on a small map beside the
//! site's registered one, with the distance. The capture itself runs in the app core.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::FieldError;
use shared::geo::{LngLat, distance_m};
use shared::inspection::{Inspection, Position, PositionSource};
use shared::position::{CaptureMode, CapturePhase, CaptureStatus};

use super::form::{Errs, parse_num};
use crate::app::ctx;
use crate::geolocation::{self, Watch};
use crate::i18n::Lang;
use crate::map::MiniMap;
use crate::{api, i18n};

fn secs(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

/// What the form says about a capture, in the user's language.
pub fn capture_text(lang: Lang, s: &CaptureStatus) -> String {
    let acc = |a: Option<f64>| a.map(|a| format!("±{a:.1} m")).unwrap_or_else(|| "—".into());
    let zh = lang == Lang::Zh;
    match s.phase {
        CapturePhase::Waiting if zh => format!(
            "正在定位：已收到 {} 个定位，当前精度 {}（要求 ≤ {:.0} 米），剩余 {} 秒",
            s.fixes_seen,
            acc(s.last_accuracy_m),
            s.accept_accuracy_m,
            secs(s.remaining_ms)
        ),
        CapturePhase::Waiting => format!(
            "Locating: {} fixes, accuracy now {} (need ≤ {:.0} m), {} s left",
            s.fixes_seen,
            acc(s.last_accuracy_m),
            s.accept_accuracy_m,
            secs(s.remaining_ms)
        ),
        CapturePhase::Averaging if zh => {
            format!("正在平均：已取 {} 个合格定位，剩余 {} 秒", s.fixes_used, secs(s.remaining_ms))
        }
        CapturePhase::Averaging => {
            format!("Averaging: {} good fixes so far, {} s left", s.fixes_used, secs(s.remaining_ms))
        }
        CapturePhase::Done => {
            let p = s.position.as_ref();
            let a = acc(p.and_then(|p| p.accuracy_m));
            match (zh, s.fixes_used) {
                (true, 1) => format!("定位完成：精度 {a}"),
                (true, n) => format!("定位完成：{n} 次定位平均，精度 {a}（剔除异常 {} 个）", s.outliers),
                (false, 1) => format!("Located: accuracy {a}"),
                (false, n) => {
                    format!("Located: average of {n} fixes, accuracy {a} ({} outliers left out)", s.outliers)
                }
            }
        }
        CapturePhase::TimedOut if zh => {
            format!("定位超时：未达到精度要求，已采用最佳结果 {}", acc(s.best_accuracy_m))
        }
        CapturePhase::TimedOut => {
            format!(
                "Timed out before reaching the accuracy asked for: using the best fix, {}",
                acc(s.best_accuracy_m)
            )
        }
        CapturePhase::NoFix if zh => "未获得定位：请手动输入坐标并说明原因".into(),
        CapturePhase::NoFix => "No fix: type the position and say why".into(),
        CapturePhase::Cancelled if zh => "已停止定位".into(),
        CapturePhase::Cancelled => "Stopped".into(),
    }
}

#[component]
pub fn PositionCard(
    insp: RwSignal<Inspection>,
    site_position: Option<LngLat>,
    errors: Signal<Vec<FieldError>>,
) -> impl IntoView {
    let ctx = ctx();
    let status = RwSignal::new(None::<CaptureStatus>);
    let polling = RwSignal::new(false);
    let watch = StoredValue::new_local(None::<Watch>);
    let fmt6 = |v: f64| format!("{v:.6}");
    let initial = insp.get_untracked().position;
    let lng_text = RwSignal::new(initial.as_ref().map(|p| fmt6(p.point.lng())).unwrap_or_default());
    let lat_text = RwSignal::new(initial.as_ref().map(|p| fmt6(p.point.lat())).unwrap_or_default());
    let acc_text =
        RwSignal::new(initial.as_ref().and_then(|p| p.accuracy_m).map(|a| a.to_string()).unwrap_or_default());
    let reason_text =
        RwSignal::new(initial.as_ref().and_then(|p| p.manual_reason.clone()).unwrap_or_default());

    // A position that did not come from typing (a capture, a photo's EXIF) shows in the boxes.
    Effect::new(move |_| {
        if let Some(p) = insp.with(|i| i.position.clone())
            && p.source != PositionSource::Manual
        {
            lng_text.set(fmt6(p.point.lng()));
            lat_text.set(fmt6(p.point.lat()));
            acc_text.set(p.accuracy_m.map(|a| format!("{a:.1}")).unwrap_or_default());
        }
    });
    // Typed coordinates make a manual position, with the reason beside them.
    let typed = move || {
        let (lng, lat) = (parse_num(&lng_text.get_untracked()), parse_num(&lat_text.get_untracked()));
        let acc = parse_num(&acc_text.get_untracked());
        let reason = reason_text.get_untracked();
        insp.update(|i| {
            i.position = match (lng, lat) {
                (Some(x), Some(y)) => Some(Position::manual(LngLat::new(x, y), reason).with_accuracy(acc)),
                _ => None,
            };
        })
    };

    let stop_watch = move || watch.update_value(|w| *w = None);
    let start = move |mode: CaptureMode| {
        spawn_local(async move {
            stop_watch();
            match api::position_start(Some(mode)).await {
                Ok(st) => {
                    status.set(Some(st.status));
                    if st.webview_source {
                        let w = geolocation::watch(
                            |fix| {
                                spawn_local(async move {
                                    let _ = api::position_feed(&fix).await;
                                })
                            },
                            |msg| {
                                spawn_local(async move {
                                    let _ = api::position_error(&msg).await;
                                })
                            },
                        );
                        match w {
                            Ok(w) => watch.set_value(Some(w)),
                            Err(msg) => {
                                let _ = api::position_error(&msg).await;
                            }
                        }
                    }
                    polling.set(true);
                }
                Err(e) => ctx.notice.set(Some(e.message)),
            }
        });
    };
    let poll = move || {
        if !polling.get_untracked() {
            return;
        }
        spawn_local(async move {
            let Ok(Some(s)) = api::position_status().await else { return };
            let finished = s.phase.is_finished();
            if finished && polling.get_untracked() {
                polling.set(false);
                stop_watch();
                if let Some(p) = s.position.clone() {
                    insp.update(|i| i.position = Some(p));
                }
            }
            status.set(Some(s));
        });
    };
    // Four looks a second while a capture runs; no timer at all otherwise.
    let ticker = StoredValue::new(None::<leptos::prelude::IntervalHandle>);
    let stop_ticker = move || {
        if let Some(h) = ticker.get_value() {
            h.clear();
        }
        ticker.set_value(None);
    };
    Effect::new(move |_| {
        stop_ticker();
        if polling.get() {
            ticker.set_value(set_interval_with_handle(poll, Duration::from_millis(250)).ok());
        }
    });
    on_cleanup(move || {
        stop_ticker();
        if polling.get_untracked() {
            spawn_local(async move {
                let _ = api::position_stop().await;
            });
        }
    });
    let cancel = move |_| {
        spawn_local(async move {
            polling.set(false);
            stop_watch();
            if let Ok(Some(s)) = api::position_stop().await {
                status.set(Some(s));
            }
        })
    };

    let summary = move || {
        let lang = ctx.lang.get();
        insp.with(|i| i.position.as_ref().map(|p| i18n::position_text(lang, p)))
    };
    let is_manual =
        move || insp.with(|i| i.position.as_ref().is_some_and(|p| p.source == PositionSource::Manual));
    let running = move || polling.get();
    let phase_class = move || match status.get().map(|s| s.phase) {
        Some(CapturePhase::Done) => "ok",
        Some(CapturePhase::TimedOut | CapturePhase::NoFix) => "warn",
        _ => "muted",
    };

    view! {
        <h3>{move || ctx.t("position")}</h3>
        <div class="row capture">
            <button id="locate" class="primary" prop:disabled=running on:click=move |_| start(CaptureMode::Single)>{move || ctx.t("locate")}</button>
            <button id="locate-average" prop:disabled=running on:click=move |_| start(CaptureMode::Average)>{move || ctx.t("locate_average")}</button>
            {move || running().then(|| view! { <button id="locate-cancel" on:click=cancel>{ctx.t("stop")}</button> })}
        </div>
        {move || status.get().map(|s| {
            let lang = ctx.lang.get();
            let pct = if s.phase.is_finished() { 100.0 } else {
                let total = (s.elapsed_ms + s.remaining_ms).max(1) as f64;
                100.0 * s.elapsed_ms as f64 / total
            };
            view! {
                <p id="capture-status" class=phase_class data-phase=format!("{:?}", s.phase).to_lowercase()>{capture_text(lang, &s)}</p>
                {(!s.phase.is_finished()).then(|| view! { <div class="progress"><div style=format!("width:{pct:.0}%")></div></div> })}
                {s.source_error.clone().map(|e| view! { <p class="warn small" id="capture-source-error">{e}</p> })}
            }
        })}
        <div class="row">
            <div><label for="f-lng">{move || ctx.t("lng")}</label>
                <input id="f-lng" inputmode="decimal" prop:value=move || lng_text.get()
                    on:input=move |ev| { lng_text.set(event_target_value(&ev)); typed() }/></div>
            <div><label for="f-lat">{move || ctx.t("lat")}</label>
                <input id="f-lat" inputmode="decimal" prop:value=move || lat_text.get()
                    on:input=move |ev| { lat_text.set(event_target_value(&ev)); typed() }/></div>
            <div><label for="f-accuracy">{move || ctx.t("accuracy")}</label>
                <input id="f-accuracy" inputmode="decimal" prop:value=move || acc_text.get()
                    on:input=move |ev| { acc_text.set(event_target_value(&ev)); typed() }/></div>
        </div>
        {move || is_manual().then(|| view! {
            <label for="f-manual-reason">{move || ctx.t("manual_reason")}</label>
            <textarea id="f-manual-reason" rows="2" prop:value=move || reason_text.get()
                on:input=move |ev| { reason_text.set(event_target_value(&ev)); typed() }></textarea>
        })}
        <p class="muted" id="position-summary">{summary}</p>
        <Errs field="position" errors=errors/>
        {move || {
            let rec = insp.with(|i| i.position.as_ref().map(|p| p.point));
            let lang = ctx.lang.get();
            let dist = match (site_position, rec) {
                (Some(a), Some(b)) if b.is_valid() => Some(distance_m(a, b)),
                _ => None,
            };
            (site_position.is_some() || rec.is_some()).then(|| view! {
                <div class="form-map">
                    <MiniMap site=site_position record=rec.filter(|p| p.is_valid()) photos=vec![] lang=ctx.lang width=360.0 height=200.0/>
                    <p id="site-distance">{match dist {
                        Some(m) => format!("{}：{m:.0} m", i18n::t(lang, "distance")),
                        None => i18n::t(lang, "no_position").to_string(),
                    }}</p>
                </div>
            })
        }}
    }
}
