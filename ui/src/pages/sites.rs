use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::SiteId;
use shared::inspection::InspectionKind;
use shared::site::{Site, SiteKind, SiteStatus};

use crate::api;
use crate::app::{Page, ctx};
use crate::i18n::{kind_label, shanghai, site_kind_label, site_status_label, state_label};

/// The sites of the assigned villages, searchable offline.
#[component]
pub fn Sites() -> impl IntoView {
    let ctx = ctx();
    let query = RwSignal::new(String::new());
    let kind = RwSignal::new(None::<SiteKind>);
    let status = RwSignal::new(None::<SiteStatus>);
    let sites = RwSignal::new(Vec::<Site>::new());
    // Answers can arrive out of order: only the newest search may fill the list.
    let generation = StoredValue::new(0u64);
    Effect::new(move |_| {
        let (q, k, s) = (query.get(), kind.get(), status.get());
        let mine = generation.get_value() + 1;
        generation.set_value(mine);
        spawn_local(async move {
            if let Ok(v) = api::search_sites(&q, k, s).await
                && generation.get_value() == mine
            {
                sites.set(v);
            }
        });
    });
    view! {
        <div class="row">
            <input id="site-search" placeholder=move || ctx.t("search") on:input=move |ev| query.set(event_target_value(&ev))/>
            <select id="site-kind" on:change=move |ev| kind.set(SiteKind::parse(&event_target_value(&ev)))>
                <option value="">{move || ctx.t("all_kinds")}</option>
                {SiteKind::ALL.into_iter().map(|k| view! { <option value=k.as_str()>{move || site_kind_label(ctx.lang.get(), k)}</option> }).collect_view()}
            </select>
            <select id="site-status" on:change=move |ev| status.set(SiteStatus::parse(&event_target_value(&ev)))>
                <option value="">{move || ctx.t("all_status")}</option>
                {SiteStatus::ALL.into_iter().map(|s| view! { <option value=s.as_str()>{move || site_status_label(ctx.lang.get(), s)}</option> }).collect_view()}
            </select>
        </div>
        <div class="card">
            <ul class="list" id="site-list">
                {move || sites.get().into_iter().map(|s| {
                    let id = s.id;
                    let k = s.kind();
                    view! {
                        <li data-site=s.id.to_string() data-kind=k.as_str() on:click=move |_| ctx.go(Page::Site(id))>
                            <span class="badge">{move || site_kind_label(ctx.lang.get(), k)}</span>
                            <span style="flex:1">{s.name.clone()}</span>
                            <span class="muted">{s.village.to_string()}</span>
                            {s.status.map(|st| view! { <span class="badge">{move || site_status_label(ctx.lang.get(), st)}</span> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </div>
    }
}

/// The kinds of inspection that apply to a site.
fn kinds_for(site: SiteKind) -> Vec<InspectionKind> {
    InspectionKind::ALL.into_iter().filter(|k| k.site_kind() == site).collect()
}

#[component]
pub fn SiteDetail(id: SiteId) -> impl IntoView {
    let ctx = ctx();
    let data = RwSignal::new(None);
    spawn_local(async move {
        if let Ok(v) = api::site(id).await {
            data.set(Some(v));
        }
    });
    view! {
        <p><button on:click=move |_| ctx.go(Page::Sites)>{move || ctx.t("back")}</button></p>
        {move || data.get().map(|(site, records): (Site, Vec<shared::app::RecordSummary>)| {
            let k = site.kind();
            view! {
                <div class="card">
                    <h2 id="site-name">{site.name.clone()}</h2>
                    <p class="muted">{move || site_kind_label(ctx.lang.get(), k)}" · "{site.village.to_string()}
                        {site.position.map(|p| format!(" · {:.6}, {:.6}", p.lng(), p.lat()))}</p>
                    {site.status.map(|st| view! { <p><span class="badge">{move || site_status_label(ctx.lang.get(), st)}</span></p> })}
                    <div class="row">
                        {kinds_for(k).into_iter().map(|ik| view! {
                            <button class="primary" data-new=ik.as_str() on:click=move |_| ctx.go(Page::New(id, ik))>
                                {move || format!("{} · {}", ctx.t("new_inspection"), kind_label(ctx.lang.get(), ik))}
                            </button>
                        }).collect_view()}
                    </div>
                </div>
                <div class="card">
                    <h3>{move || ctx.t("history")}</h3>
                    {if records.is_empty() { Some(view! { <p class="muted">{move || ctx.t("no_records")}</p> }) } else { None }}
                    <ul class="list">
                        {records.into_iter().map(|r| {
                            let rid = r.id;
                            view! {
                                <li on:click=move |_| ctx.go(Page::Record(rid))>
                                    <span class=format!("badge {}", r.state.as_str())>{move || state_label(ctx.lang.get(), r.state)}</span>
                                    <span style="flex:1">{move || kind_label(ctx.lang.get(), r.kind)}" v"{r.version}</span>
                                    <span class="muted">{shanghai(&r.updated_at)}</span>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                </div>
            }
        })}
    }
}
