//! The device's settings: where positions come from (this device or an external receiver over
//! TCP or a serial port), how a capture runs, and the storage floor below which photos are
//! refused. Checked by `shared` here and again by the app core.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::FieldError;
use shared::app::DeviceSettings;
use shared::position::{BAUD_RATES, CaptureMode, SourceConfig};

use super::form::Errs;
use crate::api;
use crate::app::ctx;

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[component]
pub fn Settings() -> impl IntoView {
    let ctx = ctx();
    let settings = RwSignal::new(None::<DeviceSettings>);
    let errors = RwSignal::new(Vec::<FieldError>::new());
    spawn_local(async move {
        match api::settings().await {
            Ok(s) => settings.set(Some(s)),
            Err(e) => ctx.notice.set(Some(e.message)),
        }
    });
    let errs = Signal::derive(move || errors.get());
    let edit = move |f: &dyn Fn(&mut DeviceSettings)| {
        settings.update(|s| {
            if let Some(s) = s {
                f(s)
            }
        })
    };
    let num = |ev: &leptos::ev::Event| event_target_value(ev).trim().parse::<f64>().unwrap_or(f64::NAN);
    let save = move |_| {
        let Some(s) = settings.get_untracked() else { return };
        let local = s.validate();
        errors.set(local.clone());
        if !local.is_empty() {
            return;
        }
        spawn_local(async move {
            match api::set_settings(&s).await {
                Ok(saved) => {
                    settings.set(Some(saved));
                    ctx.notice.set(Some(ctx.t("saved").into()));
                    ctx.refresh();
                }
                Err(e) => {
                    errors.set(e.fields.clone());
                    ctx.notice.set(Some(e.message));
                }
            }
        });
    };
    let source_kind = move || {
        settings.with(|s| match s.as_ref().map(|s| &s.position.source) {
            Some(SourceConfig::ReceiverTcp { .. }) => "tcp",
            Some(SourceConfig::ReceiverSerial { .. }) => "serial",
            _ => "device",
        })
    };
    let set_kind = move |k: String| {
        edit(&|s| {
            s.position.source = match k.as_str() {
                "tcp" => SourceConfig::ReceiverTcp { address: String::new() },
                "serial" => SourceConfig::ReceiverSerial { path: "/dev/rfcomm0".into(), baud: 9600 },
                _ => SourceConfig::Device,
            }
        })
    };
    view! {
        <h2>{move || ctx.t("settings")}</h2>
        {move || settings.get().map(|s| {
            let c = s.position.capture.clone();
            view! {
                <div class="card" id="position-settings">
                    <h3>{move || ctx.t("position_source")}</h3>
                    <select id="s-source" on:change=move |ev| set_kind(event_target_value(&ev))>
                        <option value="device" selected=move || source_kind() == "device">{move || ctx.t("source_device")}</option>
                        <option value="tcp" selected=move || source_kind() == "tcp">{move || ctx.t("source_tcp")}</option>
                        <option value="serial" selected=move || source_kind() == "serial">{move || ctx.t("source_serial")}</option>
                    </select>
                    {match s.position.source.clone() {
                        SourceConfig::Device => ().into_any(),
                        SourceConfig::ReceiverTcp { address } => view! {
                            <label for="s-address">{move || ctx.t("receiver_address")}</label>
                            <input id="s-address" placeholder="192.168.4.1:9001" prop:value=address
                                on:change=move |ev| { let v = event_target_value(&ev); edit(&|s| s.position.source = SourceConfig::ReceiverTcp { address: v.trim().to_string() }) }/>
                        }.into_any(),
                        SourceConfig::ReceiverSerial { path, baud } => view! {
                            <div class="row">
                                <div><label for="s-path">{move || ctx.t("serial_path")}</label>
                                    <input id="s-path" prop:value=path.clone()
                                        on:change=move |ev| { let v = event_target_value(&ev); edit(&|s| if let SourceConfig::ReceiverSerial { path, .. } = &mut s.position.source { *path = v.trim().to_string() }) }/></div>
                                <div><label for="s-baud">{move || ctx.t("baud")}</label>
                                    <select id="s-baud" on:change=move |ev| { let b = event_target_value(&ev).parse().unwrap_or(9600); edit(&|s| if let SourceConfig::ReceiverSerial { baud, .. } = &mut s.position.source { *baud = b }) }>
                                        {BAUD_RATES.into_iter().map(|b| view! { <option value=b.to_string() selected=b == baud>{b}</option> }).collect_view()}
                                    </select></div>
                            </div>
                        }.into_any(),
                    }}
                    <Errs field="position.source" errors=errs/>
                    <h3>{move || ctx.t("capture_mode")}</h3>
                    <select id="s-mode" on:change=move |ev| { let m = if event_target_value(&ev) == "average" { CaptureMode::Average } else { CaptureMode::Single }; edit(&|s| s.position.capture.mode = m) }>
                        <option value="single" selected=c.mode == CaptureMode::Single>{move || ctx.t("mode_single")}</option>
                        <option value="average" selected=c.mode == CaptureMode::Average>{move || ctx.t("mode_average")}</option>
                    </select>
                    <div class="row">
                        <div><label for="s-accept">{move || ctx.t("accept_accuracy")}</label>
                            <input id="s-accept" inputmode="decimal" prop:value=c.accept_accuracy_m.to_string()
                                on:change=move |ev| { let v = num(&ev); edit(&|s| s.position.capture.accept_accuracy_m = v) }/></div>
                        <div><label for="s-fixes">{move || ctx.t("average_fixes")}</label>
                            <input id="s-fixes" inputmode="numeric" prop:value=c.average_fixes.to_string()
                                on:change=move |ev| { let v = num(&ev); edit(&|s| s.position.capture.average_fixes = v as u32) }/></div>
                        <div><label for="s-avg-secs">{move || ctx.t("average_seconds")}</label>
                            <input id="s-avg-secs" inputmode="numeric" prop:value=c.average_seconds.to_string()
                                on:change=move |ev| { let v = num(&ev); edit(&|s| s.position.capture.average_seconds = v as u32) }/></div>
                        <div><label for="s-timeout">{move || ctx.t("timeout_seconds")}</label>
                            <input id="s-timeout" inputmode="numeric" prop:value=c.timeout_seconds.to_string()
                                on:change=move |ev| { let v = num(&ev); edit(&|s| s.position.capture.timeout_seconds = v as u32) }/></div>
                    </div>
                    <Errs field="position.capture" errors=errs/>
                </div>
                <div class="card" id="storage-settings">
                    <p>{move || ctx.t("free_storage")}": "<strong id="free-storage">{move || ctx.status.get().and_then(|s| s.storage).map(|s| mib(s.free_bytes)).unwrap_or_else(|| "—".into())}</strong></p>
                    <label for="s-floor">{move || ctx.t("storage_floor")}</label>
                    <input id="s-floor" inputmode="numeric" prop:value=s.storage_floor_mib.to_string()
                        on:change=move |ev| { let v = num(&ev); edit(&|s| s.storage_floor_mib = v as u32) }/>
                    <Errs field="storage_floor_mib" errors=errs/>
                </div>
            }
        })}
        <p><button id="save-settings" class="primary" on:click=save>{move || ctx.t("save")}</button></p>
    }
}
