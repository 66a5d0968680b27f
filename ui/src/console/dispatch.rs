//! Monthly dispatch (按月调度): month by month, completions against the plan's increments for the
//! selected region.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::console::Dispatch;

use super::charts::MonthChart;
use super::{Crumbs, cctx};
use crate::http;

#[component]
pub fn DispatchView() -> impl IntoView {
    let ctx = cctx();
    let data = RwSignal::new(None::<Dispatch>);
    Effect::new(move |_| {
        let _ = ctx.changed.get();
        let Some(region) = ctx.region() else { return };
        spawn_local(async move {
            match http::dispatch(&region, None).await {
                Ok(d) => data.set(Some(d)),
                Err(e) => ctx.fail(e),
            }
        });
    });
    view! {
        <Crumbs/>
        {move || data.get().map(|d| {
            let mut plan = 0.0;
            let plan_cum: Vec<f64> = d.months.iter().map(|m| { plan += m.villages_planned; plan }).collect();
            let done: Vec<f64> = d.months.iter().map(|m| m.villages_done as f64).collect();
            let done_cum: Vec<f64> = d.months.iter().map(|m| m.villages_cumulative as f64).collect();
            let title = format!("{} {} · {}", d.region.name, d.year, ctx.t("villages_remediated"));
            view! {
                <div class="card">
                    <h3>{title.clone()}</h3>
                    <MonthChart done=done plan_cum=plan_cum done_cum=done_cum title=title/>
                    <p class="legend small"><span class="dot bar"></span>{ctx.t("done")}" "<span class="dot plan"></span>{format!("{} ({})", ctx.t("planned"), ctx.t("cumulative"))}" "<span class="dot donec"></span>{format!("{} ({})", ctx.t("done"), ctx.t("cumulative"))}</p>
                </div>
                <div class="card">
                    <table class="table" id="dispatch-table">
                        <thead><tr>
                            <th>{ctx.t("month")}</th>
                            <th>{format!("{} · {}", ctx.t("villages_remediated"), ctx.t("done"))}</th>
                            <th>{ctx.t("planned")}</th><th>{ctx.t("cumulative")}</th>
                            <th>{format!("{} · {}", ctx.t("water_eliminated"), ctx.t("done"))}</th>
                            <th>{ctx.t("planned")}</th><th>{ctx.t("cumulative")}</th>
                        </tr></thead>
                        <tbody>{d.months.iter().map(|m| view! {
                            <tr class:behind=(m.villages_done as f64) < m.villages_planned.floor()>
                                <td>{m.month}</td>
                                <td class="num">{m.villages_done}</td><td class="num">{format!("{:.1}", m.villages_planned)}</td><td class="num">{m.villages_cumulative}</td>
                                <td class="num">{m.water_done}</td><td class="num">{format!("{:.1}", m.water_planned)}</td><td class="num">{m.water_cumulative}</td>
                            </tr>
                        }).collect_view()}</tbody>
                    </table>
                </div>
            }
        })}
    }
}
