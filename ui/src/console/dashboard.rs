//! The progress dashboard: the three provincial targets for the selected region with progress
//! bars against the year's elapsed share, and one row per child region with drill-down down to
//! villages. Everything comes from `/tracking`, which reads counters, never inspections.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::console::{RegionProgress, Tracking};
use shared::region::RegionLevel;

use super::charts::{PctBars, PctHistogram};
use super::{Crumbs, cctx, pct};
use crate::http;
use crate::i18n::level_label;

#[component]
fn Kpi(
    id: &'static str,
    label: String,
    value: String,
    of: String,
    share: f64,
    elapsed: f64,
    behind: bool,
) -> impl IntoView {
    let w = format!("width:{:.1}%", (share * 100.0).clamp(0.0, 100.0));
    let m = format!("left:{:.1}%", (elapsed * 100.0).clamp(0.0, 100.0));
    view! {
        <div class="card kpi" id=id>
            <div class="muted">{label}</div>
            <div class="count"><span class="kpi-value">{value}</span><span class="muted">" / "{of}</span></div>
            <div class="progress marked"><div class:behind=behind style=w></div><span class="tick" style=m></span></div>
        </div>
    }
}

/// Height of one progress row in pixels (style.css `.vtable tr`): the table draws only the rows
/// in its scroll window, so a province's 25,000 villages cost the same as a township's twenty.
const ROW_H: f64 = 41.0;
const VIEW_H: f64 = 560.0;
/// Rows drawn above and below the visible ones, so a fast scroll does not show blank space.
const OVERSCAN: usize = 12;

#[derive(Clone, Copy, PartialEq)]
enum SortKey {
    Code,
    Villages,
    Water,
    Sewage,
}

fn sort_key(r: &RegionProgress, k: SortKey) -> f64 {
    match k {
        SortKey::Villages => r.villages.pct,
        SortKey::Water => r.water_bodies.pct,
        SortKey::Sewage => r.sewage.rate_pct,
        SortKey::Code => 0.0,
    }
}

/// The window of rows `[from, to)` to draw for a scroll position.
fn window(scroll_top: f64, rows: usize) -> (usize, usize) {
    let first = (scroll_top / ROW_H).floor().max(0.0) as usize;
    let from = first.saturating_sub(OVERSCAN).min(rows);
    let to = (first + (VIEW_H / ROW_H).ceil() as usize + OVERSCAN).min(rows);
    (from, to)
}

#[component]
pub fn Dashboard() -> impl IntoView {
    let ctx = cctx();
    let data = RwSignal::new(None::<Tracking>);
    // The level of the table's rows: None for the region's children, or any level below them.
    let rows_level = RwSignal::new(None::<RegionLevel>);
    let filter = RwSignal::new(String::new());
    let sort = RwSignal::new((SortKey::Code, false));
    let scroll_top = RwSignal::new(0.0_f64);
    let scroller = NodeRef::<leptos::html::Div>::new();
    // A new list, order or filter starts at its top.
    let to_top = move || {
        scroll_top.set(0.0);
        if let Some(s) = scroller.get_untracked() {
            s.set_scroll_top(0);
        }
    };
    // The region's code, not the crumbs: naming the crumb below must not fetch again.
    let region = Memo::new(move |_| ctx.region());
    Effect::new(move |_| {
        let _ = ctx.changed.get();
        let Some(region) = region.get() else { return };
        let level = rows_level.get().filter(|l| *l as u8 > region.level() as u8 + 1);
        spawn_local(async move {
            match http::tracking(&region, None, None, level).await {
                Ok(t) => {
                    // Name the crumb now that the server told us.
                    let name = t.region.region.name.clone();
                    ctx.path.update(|p| {
                        if let Some(last) = p.last_mut()
                            && last.1.is_empty()
                        {
                            last.1 = name;
                        }
                    });
                    to_top();
                    data.set(Some(t));
                }
                Err(e) => ctx.fail(e),
            }
        });
    });
    // Indices of the rows the filter keeps, in the chosen order; rows themselves are not copied.
    let order = Memo::new(move |_| {
        let needle = filter.get().trim().to_lowercase();
        let (k, desc) = sort.get();
        data.with(|d| {
            let Some(t) = d else { return Vec::new() };
            let mut idx: Vec<usize> = t
                .children
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    needle.is_empty()
                        || c.region.name.to_lowercase().contains(&needle)
                        || c.region.code.to_string().starts_with(&needle)
                })
                .map(|(i, _)| i)
                .collect();
            if k != SortKey::Code || desc {
                let ch = &t.children;
                idx.sort_by(|&a, &b| {
                    let o = if k == SortKey::Code {
                        ch[a].region.code.cmp(&ch[b].region.code)
                    } else {
                        sort_key(&ch[a], k).total_cmp(&sort_key(&ch[b], k))
                    };
                    if desc { o.reverse() } else { o }
                });
            }
            idx
        })
    });
    // Rows are drawn again only when the window moves by a row, not on every scroll event.
    let win = Memo::new(move |_| order.with(|o| window(scroll_top.get(), o.len())));
    let export = move |_| {
        let Some(region) = ctx.region() else { return };
        let level = rows_level.get_untracked().filter(|l| *l as u8 > region.level() as u8 + 1);
        spawn_local(async move {
            let q = level.map(|l| format!("?level={}", l.as_str())).unwrap_or_default();
            if let Err(e) =
                http::download(&format!("progress/{region}{q}"), &format!("progress-{region}.xlsx")).await
            {
                ctx.fail(e);
            }
        });
    };
    let head = move |k: SortKey, label: String| {
        view! {
            <th><button class="link sort" data-sort=move || match k { SortKey::Code => "code", SortKey::Villages => "villages", SortKey::Water => "water", SortKey::Sewage => "sewage" }
                on:click=move |_| {
                    sort.update(|s| *s = if s.0 == k { (k, !s.1) } else { (k, k != SortKey::Code) });
                    to_top();
                }>
                {label}
                {move || { let (sk, d) = sort.get(); (sk == k).then_some(if d { " ▼" } else { " ▲" }) }}
            </button></th>
        }
    };
    let deeper = move || {
        let own = ctx.region().map(|r| r.level() as u8).unwrap_or(0);
        RegionLevel::ALL.into_iter().filter(|l| *l as u8 > own + 1).collect::<Vec<_>>()
    };
    view! {
        <Crumbs/>
        {move || data.get().map(|t| {
            let lang = ctx.lang.get();
            let r = &t.region;
            let e = t.year_elapsed;
            let sewage_share = if r.sewage.target_pct > 0.0 { r.sewage.rate_pct / r.sewage.target_pct } else { 0.0 };
            let child_level = t.children.first().map(|c| c.region.level);
            let total = t.children.len();
            // Forty bars stay readable: the region's children as they are, or for a long list
            // the forty furthest behind; the histogram shows all of them.
            let mut with_target: Vec<&RegionProgress> = t.children.iter().filter(|c| c.villages.target > 0.0).collect();
            let many = with_target.len() > 40;
            if many {
                with_target.sort_by(|a, b| a.villages.pct.total_cmp(&b.villages.pct).then(a.region.code.cmp(&b.region.code)));
            }
            let bars: Vec<(String, f64, bool)> = with_target.iter().take(40)
                .map(|c| (c.region.name.clone(), c.villages.pct, c.villages.behind)).collect();
            let shares: Vec<f64> = with_target.iter().map(|c| c.villages.pct).collect();
            view! {
                <p class="muted" id="period">{format!("{} {} · {} {}", t.year, ctx.t("year"), ctx.t("year_elapsed"), pct(e * 100.0))}</p>
                <div class="grid kpis">
                    <Kpi id="kpi-villages" label=ctx.t("villages_remediated").into() value=r.villages.done.to_string()
                        of=format!("{:.0}", r.villages.target) share=r.villages.pct / 100.0 elapsed=e behind=r.villages.behind/>
                    <Kpi id="kpi-water" label=ctx.t("water_eliminated").into() value=r.water_bodies.done.to_string()
                        of=format!("{:.0}", r.water_bodies.target) share=r.water_bodies.pct / 100.0 elapsed=e behind=r.water_bodies.behind/>
                    <Kpi id="kpi-sewage" label=ctx.t("sewage_rate").into() value=pct(r.sewage.rate_pct)
                        of=format!("{:.2}%", r.sewage.target_pct) share=sewage_share
                        elapsed=e behind=r.sewage.behind/>
                </div>
                <div class="card">
                    <div class="row toolbar">
                        <h3>{child_level.map(|l| level_label(lang, l)).unwrap_or("")}</h3>
                        <label class="inline">{ctx.t("rows_level")}
                            <select id="rows-level" on:change=move |ev| {
                                rows_level.set(RegionLevel::parse(&event_target_value(&ev)));
                            }>
                                <option value="" selected=move || rows_level.get().is_none()>{ctx.t("next_level")}</option>
                                {deeper().into_iter().map(|l| view! {
                                    <option value=l.as_str() selected=move || rows_level.get() == Some(l)>{level_label(lang, l)}</option>
                                }).collect_view()}
                            </select>
                        </label>
                        <input id="progress-filter" type="search" placeholder=ctx.t("filter_regions")
                            prop:value=move || filter.get() on:input=move |ev| {
                                filter.set(event_target_value(&ev));
                                to_top();
                            }/>
                        <span class="muted" id="progress-count">{move || format!("{} / {}", order.with(Vec::len), total)}</span>
                        <button id="export-progress" on:click=export>{ctx.t("export_xlsx")}</button>
                    </div>
                    <div class="vscroll" node_ref=scroller style=format!("max-height:{VIEW_H}px")
                        on:scroll=move |_| if let Some(s) = scroller.get_untracked() { scroll_top.set(f64::from(s.scroll_top())); }>
                        <table class="table vtable" id="progress-table">
                            <thead><tr>
                                {head(SortKey::Code, ctx.t("region").into())}
                                <th>{ctx.t("villages_remediated")}</th>
                                {head(SortKey::Villages, "%".into())}
                                <th>{ctx.t("water_eliminated")}</th>
                                {head(SortKey::Water, "%".into())}
                                {head(SortKey::Sewage, ctx.t("sewage_rate").into())}
                                <th>{ctx.t("status")}</th>
                            </tr></thead>
                            <tbody>{move || {
                                let (from, to) = win.get();
                                let n = order.with(Vec::len);
                                let rows = data.with(|d| order.with(|o| d.as_ref().map(|t| {
                                    o[from..to].iter().map(|&i| t.children[i].clone()).collect::<Vec<_>>()
                                }).unwrap_or_default()));
                                view! {
                                    <tr class="spacer" style=format!("height:{}px", from as f64 * ROW_H)></tr>
                                    {rows.into_iter().map(row).collect_view()}
                                    <tr class="spacer" style=format!("height:{}px", (n - to) as f64 * ROW_H)></tr>
                                }
                            }}</tbody>
                        </table>
                    </div>
                </div>
                {(!bars.is_empty()).then(|| view! {
                    <div class="card"><h3>{ctx.t("villages_remediated")}{many.then(|| format!(" · {}", ctx.t("furthest_behind_40")))}</h3>
                        <PctBars rows=bars marker=e title=ctx.t("villages_remediated")/></div>
                })}
                {many.then(|| view! {
                    <div class="card"><h3>{ctx.t("completion_distribution")}</h3>
                        <PctHistogram values=shares marker=e title=ctx.t("completion_distribution")/></div>
                })}
            }
        })}
    }
}

fn row(c: RegionProgress) -> impl IntoView {
    let ctx = cctx();
    let code = c.region.code;
    let name = c.region.name.clone();
    let drill = c.region.level != RegionLevel::Village;
    let n2 = name.clone();
    view! {
        <tr class:behind=c.behind data-region=code.to_string()>
            <td>{if drill {
                view! { <button class="link drill" on:click=move |_| ctx.path.update(|p| p.push((code, n2.clone())))>{name.clone()}</button> }.into_any()
            } else { view! { <span>{name.clone()}</span> }.into_any() }}
            // Names repeat across a province (many 罗家垸村): the code tells them apart.
            <span class="muted code">{code.to_string()}</span></td>
            <td class="num">{format!("{} / {:.0}", c.villages.done, c.villages.target)}</td>
            <td class="num">{pct(c.villages.pct)}</td>
            <td class="num">{format!("{} / {:.0}", c.water_bodies.done, c.water_bodies.target)}</td>
            <td class="num">{pct(c.water_bodies.pct)}</td>
            <td class="num">{format!("{:.1}% / {:.2}%", c.sewage.rate_pct, c.sewage.target_pct)}</td>
            <td>{if c.behind {
                view! { <span class="badge rejected">{ctx.t("behind")}</span> }.into_any()
            } else { view! { <span class="badge approved">{ctx.t("on_track")}</span> }.into_any() }}</td>
        </tr>
    }
}
