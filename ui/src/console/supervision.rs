//! The supervision list (督办): regions of a level behind their plan, sortable by any column,
//! exportable as CSV.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::console::SupervisionRow;
use shared::region::RegionLevel;

use super::{cctx, pct};
use crate::http;
use crate::i18n::level_label;

#[derive(Clone, Copy, PartialEq)]
enum SortKey {
    Shortfall,
    Name,
    Villages,
    Water,
    Sewage,
}

fn key(r: &SupervisionRow, k: SortKey) -> f64 {
    match k {
        SortKey::Shortfall => r.shortfall,
        SortKey::Villages => r.progress.villages.pct,
        SortKey::Water => r.progress.water_bodies.pct,
        SortKey::Sewage => r.progress.sewage.rate_pct,
        SortKey::Name => 0.0,
    }
}

#[component]
pub fn Supervision() -> impl IntoView {
    let ctx = cctx();
    let level = RwSignal::new(RegionLevel::County);
    let rows = RwSignal::new(None::<Vec<SupervisionRow>>);
    let sort = RwSignal::new((SortKey::Shortfall, true));
    Effect::new(move |_| {
        let l = level.get();
        let _ = ctx.changed.get();
        spawn_local(async move {
            match http::supervision(l, None, None).await {
                Ok(r) => rows.set(Some(r)),
                Err(e) => ctx.fail(e),
            }
        });
    });
    let sorted = move || {
        let (k, desc) = sort.get();
        rows.get().map(|mut r| {
            r.sort_by(|a, b| {
                let o = if k == SortKey::Name {
                    a.progress.region.code.cmp(&b.progress.region.code)
                } else {
                    key(a, k).total_cmp(&key(b, k))
                };
                if desc { o.reverse() } else { o }
            });
            r
        })
    };
    let head = move |k: SortKey, label: &'static str, id: &'static str| {
        view! {
            <th><button class="link sort" id=id on:click=move |_| sort.update(|s| *s = if s.0 == k { (k, !s.1) } else { (k, true) })>
                {move || ctx.t(label)}
                {move || { let (sk, d) = sort.get(); (sk == k).then_some(if d { " ▼" } else { " ▲" }) }}
            </button></th>
        }
    };
    let levels: Vec<RegionLevel> = match ctx.user.with_untracked(|u| u.as_ref().map(|u| u.region.level())) {
        Some(RegionLevel::Province) => {
            vec![RegionLevel::Prefecture, RegionLevel::County, RegionLevel::Township]
        }
        Some(RegionLevel::Prefecture) => vec![RegionLevel::County, RegionLevel::Township],
        _ => vec![RegionLevel::Township],
    };
    if let Some(first) = levels.first() {
        level.set(*first);
    }
    let export = move |_| {
        let q = http::supervision_query(level.get_untracked(), None, None);
        spawn_local(async move {
            if let Err(e) = http::download(&format!("supervision.csv?{q}"), "supervision.csv").await {
                ctx.fail(e);
            }
        });
    };
    view! {
        <section class="card">
            <div class="row toolbar">
                <div><label for="s-level">{move || ctx.t("level")}</label>
                    <select id="s-level" on:change=move |ev| if let Some(l) = RegionLevel::parse(&event_target_value(&ev)) { level.set(l) }>
                        {levels.iter().map(|l| { let l = *l; view! { <option value=l.as_str() selected=move || level.get() == l>{move || level_label(ctx.lang.get(), l)}</option> } }).collect_view()}
                    </select>
                </div>
                <button id="export-supervision" on:click=export>{move || ctx.t("export_csv")}</button>
            </div>
            <table class="table" id="supervision-table">
                <thead><tr>
                    {head(SortKey::Name, "region", "sort-name")}
                    {head(SortKey::Shortfall, "shortfall", "sort-shortfall")}
                    {head(SortKey::Villages, "villages_remediated", "sort-villages")}
                    {head(SortKey::Water, "water_eliminated", "sort-water")}
                    {head(SortKey::Sewage, "sewage_rate", "sort-sewage")}
                </tr></thead>
                <tbody>
                    {move || sorted().map(|r| if r.is_empty() {
                        view! { <tr><td colspan="5" class="muted">{ctx.t("no_behind")}</td></tr> }.into_any()
                    } else {
                        r.into_iter().map(|s| { let p = s.progress; view! {
                            <tr data-region=p.region.code.to_string()>
                                <td>{p.region.name.clone()}</td>
                                <td class="num">{format!("{:.0}", s.shortfall)}</td>
                                <td class="num">{format!("{} / {:.1} ({})", p.villages.done, p.villages.planned, pct(p.villages.pct))}</td>
                                <td class="num">{format!("{} / {:.1} ({})", p.water_bodies.done, p.water_bodies.planned, pct(p.water_bodies.pct))}</td>
                                <td class="num">{format!("{:.1}% / {:.2}%", p.sewage.rate_pct, p.sewage.planned_pct)}</td>
                            </tr>
                        } }).collect_view().into_any()
                    })}
                </tbody>
            </table>
        </section>
    }
}
