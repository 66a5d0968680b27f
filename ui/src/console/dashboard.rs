//! The progress dashboard: the three provincial targets for the selected region with progress
//! bars against the year's elapsed share, and one row per child region with drill-down down to
//! villages. Everything comes from `/tracking`, which reads counters, never inspections.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::console::{RegionProgress, Tracking};
use shared::region::RegionLevel;

use super::charts::PctBars;
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

#[component]
pub fn Dashboard() -> impl IntoView {
    let ctx = cctx();
    let data = RwSignal::new(None::<Tracking>);
    Effect::new(move |_| {
        let _ = ctx.changed.get();
        let Some(region) = ctx.region() else { return };
        spawn_local(async move {
            match http::tracking(&region, None, None).await {
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
                    data.set(Some(t));
                }
                Err(e) => ctx.fail(e),
            }
        });
    });
    let export = move |_| {
        let Some(region) = ctx.region() else { return };
        spawn_local(async move {
            if let Err(e) =
                http::download(&format!("progress/{region}"), &format!("progress-{region}.xlsx")).await
            {
                ctx.fail(e);
            }
        });
    };
    view! {
        <Crumbs/>
        {move || data.get().map(|t| {
            let lang = ctx.lang.get();
            let r = &t.region;
            let e = t.year_elapsed;
            let sewage_share = if r.sewage.target_pct > 0.0 { r.sewage.rate_pct / r.sewage.target_pct } else { 0.0 };
            let child_level = t.children.first().map(|c| c.region.level);
            let bars: Vec<(String, f64, bool)> = t.children.iter().filter(|c| c.villages.target > 0.0)
                .take(40).map(|c| (c.region.name.clone(), c.villages.pct, c.villages.behind)).collect();
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
                        <button id="export-progress" on:click=export>{ctx.t("export_xlsx")}</button>
                    </div>
                    <table class="table" id="progress-table">
                        <thead><tr>
                            <th>{ctx.t("region")}</th>
                            <th>{ctx.t("villages_remediated")}</th><th>"%"</th>
                            <th>{ctx.t("water_eliminated")}</th><th>"%"</th>
                            <th>{ctx.t("sewage_rate")}</th>
                            <th>{ctx.t("status")}</th>
                        </tr></thead>
                        <tbody>{t.children.iter().map(|c| row(c.clone())).collect_view()}</tbody>
                    </table>
                </div>
                {(!bars.is_empty()).then(|| view! {
                    <div class="card"><h3>{ctx.t("villages_remediated")}</h3>
                        <PctBars rows=bars marker=e title=ctx.t("villages_remediated")/></div>
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
            } else { view! { <span>{name.clone()}</span> }.into_any() }}</td>
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
