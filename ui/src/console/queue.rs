//! The review queue: filters, counts, selection, bulk approval, and the keyboard.

use std::collections::BTreeSet;

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::InspectionId;
use shared::auth::Role;
use shared::console::{BulkItem, BulkReview, QueuePage};
use shared::inspection::InspectionKind;
use shared::region::{Region, RegionLevel};
use shared::review::{ReviewDecision, ReviewStatus};

use super::{View, cctx, typing_in_field};
use crate::http::{self, enc};
use crate::i18n::{flag_kind_label, flag_text, kind_label, review_status_label};

/// `key=value&…` without empty values.
fn query(parts: &[(&str, String)]) -> String {
    parts
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A date input (YYYY-MM-DD, Beijing) as the RFC 3339 instant its Beijing day starts or ends.
fn day_bound(d: &str, end: bool) -> String {
    if d.is_empty() {
        return String::new();
    }
    if end { format!("{d}T23:59:59+08:00") } else { format!("{d}T00:00:00+08:00") }
}

#[component]
pub fn Queue() -> impl IntoView {
    let ctx = cctx();
    let can_review = ctx.role() == Some(Role::TownshipReviewer);
    let status = RwSignal::new("submitted".to_string());
    let kind = RwSignal::new(String::new());
    let flag = RwSignal::new(String::new());
    let village = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let page = RwSignal::new(None::<QueuePage>);
    let villages = RwSignal::new(Vec::<Region>::new());
    let selected = RwSignal::new(BTreeSet::<InspectionId>::new());
    let cursor = RwSignal::new(0usize);
    let busy = RwSignal::new(false);

    // Villages (or townships, for wider scopes) to filter by: the children of the user's region.
    if let Some(region) = ctx.user.with_untracked(|u| u.as_ref().map(|u| u.region)) {
        spawn_local(async move {
            if let Ok(t) = http::tracking(&region, None, None, None).await {
                villages.set(t.children.into_iter().map(|c| c.region).collect());
            }
        });
    }
    let load = move || {
        let q = query(&[
            ("status", status.get_untracked()),
            ("kind", kind.get_untracked()),
            ("flag", flag.get_untracked()),
            ("village", village.get_untracked()),
            ("from", day_bound(&from.get_untracked(), false)),
            ("to", day_bound(&to.get_untracked(), true)),
            ("limit", "100".into()),
        ]);
        ctx.queue_query.set(q.clone());
        spawn_local(async move {
            match http::queue(&q).await {
                Ok(p) => {
                    selected.set(BTreeSet::new());
                    cursor.set(0);
                    page.set(Some(p));
                }
                Err(e) => ctx.fail(e),
            }
        });
    };
    load();

    let approve_selected = move || {
        let items: Vec<BulkItem> = page.with_untracked(|p| {
            p.as_ref()
                .map(|p| {
                    p.items
                        .iter()
                        .filter(|i| selected.with_untracked(|s| s.contains(&i.record.inspection.id)))
                        .map(|i| BulkItem {
                            id: i.record.inspection.id,
                            version: i.record.inspection.version,
                        })
                        .collect()
                })
                .unwrap_or_default()
        });
        if items.is_empty() || busy.get_untracked() {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            let req = BulkReview { items, decision: ReviewDecision::Approve, comment: String::new() };
            match http::bulk_review(&req).await {
                Ok(results) => {
                    let ok = results.iter().filter(|r| r.status.is_some()).count();
                    let failed: Vec<String> =
                        results.iter().filter_map(|r| r.error.as_ref().map(|e| e.message.clone())).collect();
                    ctx.notice.set(Some(if failed.is_empty() {
                        format!("{} {ok}", ctx.t("reviewed"))
                    } else {
                        format!("{} {ok}; {}", ctx.t("reviewed"), failed.join("；"))
                    }));
                    ctx.changed.update(|c| *c += 1);
                    load();
                }
                Err(e) => ctx.fail(e),
            }
            busy.set(false);
        });
    };

    let ids = move || {
        page.with(|p| {
            p.as_ref()
                .map(|p| p.items.iter().map(|i| i.record.inspection.id).collect::<Vec<_>>())
                .unwrap_or_default()
        })
    };
    let on_key = move |ev: KeyboardEvent| {
        if typing_in_field(&ev) {
            return;
        }
        let list = ids();
        let n = list.len();
        match ev.key().as_str() {
            "j" | "ArrowDown" if n > 0 => cursor.update(|c| *c = (*c + 1).min(n - 1)),
            "k" | "ArrowUp" => cursor.update(|c| *c = c.saturating_sub(1)),
            "x" | " " if n > 0 => {
                let id = list[cursor.get_untracked().min(n - 1)];
                selected.update(|s| {
                    if !s.remove(&id) {
                        s.insert(id);
                    }
                });
            }
            "Enter" if n > 0 => ctx.go(View::Record(list[cursor.get_untracked().min(n - 1)])),
            "a" if can_review => approve_selected(),
            _ => return,
        }
        ev.prevent_default();
    };

    let select = move |sig: RwSignal<String>,
                       id: &'static str,
                       opts: Vec<(String, String)>,
                       all: &'static str| {
        view! {
            <select id=id prop:value=move || sig.get() on:change=move |ev| { sig.set(event_target_value(&ev)); load(); }>
                <option value="">{move || ctx.t(all)}</option>
                {opts.into_iter().map(|(v, l)| view! { <option value=v>{l}</option> }).collect_view()}
            </select>
        }
    };
    let lang = ctx.lang.get_untracked();
    let status_opts: Vec<(String, String)> = ReviewStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), review_status_label(lang, *s).to_string()))
        .collect();
    let kind_opts: Vec<(String, String)> = [
        InspectionKind::SewageFacility,
        InspectionKind::WaterBody,
        InspectionKind::Enforcement,
        InspectionKind::VillageRemediation,
    ]
    .iter()
    .map(|k| (k.as_str().to_string(), kind_label(lang, *k).to_string()))
    .collect();
    let mut flag_opts: Vec<(String, String)> = vec![("any".to_string(), ctx.t("any_flag").to_string())];
    flag_opts.extend(
        shared::flags::FLAG_KINDS.iter().map(|k| (k.to_string(), flag_kind_label(lang, k).to_string())),
    );
    let export = move |fmt: &'static str| {
        let q = ctx.queue_query.get_untracked();
        spawn_local(async move {
            if let Err(e) =
                http::download(&format!("inspections.{fmt}?{q}"), &format!("inspections.{fmt}")).await
            {
                ctx.fail(e);
            }
        });
    };

    view! {
        <section class="card" tabindex="0" id="queue" on:keydown=on_key>
            <div class="row filters">
                <div><label for="f-status">{move || ctx.t("status")}</label>{select(status, "f-status", status_opts, "all_status")}</div>
                <div><label for="f-kind">{move || ctx.t("kind")}</label>{select(kind, "f-kind", kind_opts, "all_kinds")}</div>
                <div><label for="f-flag">{move || ctx.t("flags")}</label>{select(flag, "f-flag", flag_opts, "all_flags")}</div>
                <div><label for="f-village">{move || ctx.t(if can_review { "village" } else { "region" })}</label>
                    <select id="f-village" prop:value=move || village.get() on:change=move |ev| { village.set(event_target_value(&ev)); load(); }>
                        <option value="">{move || ctx.t("all_villages")}</option>
                        {move || villages.get().into_iter().filter(|r| r.level != RegionLevel::Province)
                            .map(|r| view! { <option value=r.code.to_string()>{r.name}</option> }).collect_view()}
                    </select>
                </div>
                <div><label for="f-from">{move || ctx.t("date_from")}</label>
                    <input id="f-from" type="date" on:change=move |ev| { from.set(event_target_value(&ev)); load(); }/></div>
                <div><label for="f-to">{move || ctx.t("date_to")}</label>
                    <input id="f-to" type="date" on:change=move |ev| { to.set(event_target_value(&ev)); load(); }/></div>
            </div>
            <div class="row toolbar">
                <span id="queue-total" class="count-sm">
                    {move || page.with(|p| p.as_ref().map(|p| format!("{} {}{} {}", ctx.t("total"), p.total, if p.total_capped { "+" } else { "" }, ctx.t("items"))).unwrap_or_default())}
                </span>
                {can_review.then(|| view! {
                    <button id="bulk-approve" class="primary" prop:disabled=move || busy.get() || selected.with(|s| s.is_empty())
                        on:click=move |_| approve_selected()>
                        {move || format!("{} ({})", ctx.t("approve_selected"), selected.with(|s| s.len()))}
                    </button>
                })}
                <button on:click=move |_| export("csv")>{move || ctx.t("export_csv")}</button>
                <button on:click=move |_| export("xlsx")>{move || ctx.t("export_xlsx")}</button>
                <button on:click=move |_| export("geojson")>{move || ctx.t("export_geojson")}</button>
                <button id="export-documents" on:click=move |_| {
                    let q = ctx.queue_query.get_untracked();
                    spawn_local(async move {
                        if let Err(e) = http::download_documents(&q).await {
                            ctx.fail(e);
                        }
                    });
                }>{move || ctx.t("export_documents")}</button>
            </div>
            <p class="muted small">{move || ctx.t("keys_queue")}</p>
            <table class="table" id="queue-table">
                <thead><tr>
                    <th><input type="checkbox" aria-label=move || ctx.t("select_all") id="select-all"
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            selected.set(if on { ids().into_iter().collect() } else { BTreeSet::new() });
                        }/></th>
                    <th>{move || ctx.t("site")}</th><th>{move || ctx.t("kind")}</th><th>{move || ctx.t("status")}</th>
                    <th>{move || ctx.t("received")}</th><th>{move || ctx.t("flags")}</th>
                </tr></thead>
                <tbody>
                    {move || {
                        let lang = ctx.lang.get();
                        page.get().map(|p| p.items.into_iter().enumerate().map(|(n, item)| {
                            let id = item.record.inspection.id;
                            let flags: Vec<String> = item.flags.iter().map(|f| flag_text(lang, f)).collect();
                            let nflags = flags.len();
                            view! {
                                <tr class:cursor=move || cursor.get() == n data-id=id.to_string() data-site=item.site_name.clone()>
                                    <td><input type="checkbox" class="pick" prop:checked=move || selected.with(|s| s.contains(&id))
                                        on:change=move |ev| { let on = event_target_checked(&ev); selected.update(|s| { if on { s.insert(id); } else { s.remove(&id); } }); }/></td>
                                    <td><button class="link open" on:click=move |_| ctx.go(View::Record(id))>{item.site_name.clone()}</button></td>
                                    <td>{kind_label(lang, item.record.inspection.kind())}</td>
                                    <td><span class=format!("badge {}", item.record.status.as_str())>{review_status_label(lang, item.record.status)}</span></td>
                                    <td>{shared::clock::beijing(item.record.received_at)}</td>
                                    <td title=flags.join("\n")>{(nflags > 0).then(|| view! { <span class="badge warn-badge">{format!("⚠ {nflags}")}</span> })}</td>
                                </tr>
                            }
                        }).collect_view())
                    }}
                </tbody>
            </table>
        </section>
    }
}
