use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::app::LocalState;

use crate::api;
use crate::app::{Page, ctx};
use crate::i18n::{shanghai, state_label};

#[component]
pub fn Home() -> impl IntoView {
    let ctx = ctx();
    let status = move || ctx.status.get();
    let sync = move || {
        spawn_local(async move {
            if let Ok(s) = api::sync_now().await {
                ctx.status.set(Some(s));
            }
        });
    };
    let count = move |st: LocalState| {
        status().map(|s| s.counts.0.iter().find(|(k, _)| *k == st).map(|(_, n)| *n).unwrap_or(0)).unwrap_or(0)
    };
    view! {
        <h2>{move || status().and_then(|s| s.user).map(|u| u.display_name).unwrap_or_default()}</h2>
        <div class="card" id="sync-card">
            <div class="row">
                <div>
                    <div class="muted">{move || ctx.t("last_sync")}</div>
                    <div id="last-sync">{move || status().and_then(|s| s.sync.last_sync_at).map(|t| shanghai(&t)).unwrap_or_else(|| ctx.t("never").to_string())}</div>
                </div>
                <div>
                    <div class="muted">{move || ctx.t("pending")}</div>
                    <div class="count" id="pending-count">{move || status().map(|s| s.sync.pending).unwrap_or(0)}</div>
                </div>
                <div style="flex:0 0 auto">
                    <button id="sync-now" class="primary" prop:disabled=move || status().is_some_and(|s| s.sync.running) on:click=move |_| sync()>
                        {move || if status().is_some_and(|s| s.sync.running) { ctx.t("syncing") } else { ctx.t("sync_now") }}
                    </button>
                </div>
            </div>
            {move || status().and_then(|s| s.sync.uploading).map(|u| {
                let pct = if u.bytes_total == 0 { 0.0 } else { 100.0 * u.bytes_sent as f64 / u.bytes_total as f64 };
                view! {
                    <p class="muted">{format!("{} {}/{} · {} / {} KB", ctx.t("uploading_photo"), u.photo, u.photos, u.bytes_sent / 1024, u.bytes_total / 1024)}</p>
                    <div class="progress"><div style=format!("width:{pct:.0}%")></div></div>
                }
            })}
            {move || status().and_then(|s| s.sync.last_error).map(|e| view! { <p class="err" id="sync-error">{format!("{}：{}", ctx.t("sync_failed"), e.message)}</p> })}
        </div>
        {move || status().and_then(|s| s.storage).map(|st| {
            let mib = |b: u64| b / (1024 * 1024);
            view! {
                <p id="storage" class=if st.is_low() { "err" } else { "muted" }>
                    {format!("{}：{} MiB", ctx.t("free_storage"), mib(st.free_bytes))}
                    {st.is_low().then(|| format!(" · {}（{} MiB）", ctx.t("storage_low"), mib(st.floor_bytes)))}
                </p>
            }
        })}
        {move || status().and_then(|s| s.sync.prefetch).filter(|p| p.photos_total > p.photos_done || p.details > 0 && p.photos_total == 0).map(|p| {
            let pct = if p.photos_total == 0 { 0.0 } else { 100.0 * p.photos_done as f64 / p.photos_total as f64 };
            view! {
                <div class="card" id="prefetch">
                    <p class="muted">{format!("{} · {} {}/{} · {} KB", ctx.t("prefetching"), ctx.t("photos"), p.photos_done, p.photos_total, p.bytes_done / 1024)}</p>
                    <div class="progress"><div style=format!("width:{pct:.0}%")></div></div>
                </div>
            }
        })}
        {move || status().and_then(|s| s.review).map(|c| {
            let tile = |key: &'static str, n: u32, id: &'static str| view! {
                <div class="card" style="cursor:pointer" id=id on:click=move |_| ctx.go(Page::ReviewQueue)>
                    <div class="muted">{move || ctx.t(key)}</div>
                    <div class="count">{n}</div>
                </div>
            };
            view! {
                <div class="grid" id="review-counts">
                    {tile("queue_pending", c.pending, "count-pending")}
                    {tile("queue_ready", c.ready, "count-ready")}
                    {tile("queue_queued", c.queued, "count-queued")}
                    {tile("queue_conflicts", c.conflicts, "count-conflicts")}
                    {tile("queue_refused", c.refused, "count-refused")}
                </div>
            }
        })}
        <div class="grid" style=move || if status().is_some_and(|s| s.review.is_some()) { "display:none" } else { "" }>
            {LocalState::ALL.into_iter().map(|st| view! {
                <div class="card" style="cursor:pointer" data-state=st.as_str() on:click=move |_| ctx.go(Page::Records)>
                    <div class="muted">{move || state_label(ctx.lang.get(), st)}</div>
                    <div class="count">{move || count(st)}</div>
                </div>
            }).collect_view()}
        </div>
        <p>
            <button id="logout" on:click=move |_| { spawn_local(async move { let _ = api::logout().await; ctx.refresh(); }); }>{move || ctx.t("logout")}</button>
        </p>
    }
}
