//! 疑点统计: flags per township or per inspector over a year, by kind and by month, exportable
//! as CSV. Read-only; for everyone above the inspector.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::console::{FlagStats, FlagStatsBy};

use super::cctx;
use crate::http;
use crate::i18n::flag_kind_label;

#[component]
pub fn FlagStatsView() -> impl IntoView {
    let ctx = cctx();
    let this_year = js_sys::Date::new_0().get_full_year() as i32;
    let by = RwSignal::new(FlagStatsBy::Township);
    let year = RwSignal::new(this_year);
    let stats = RwSignal::new(None::<FlagStats>);
    Effect::new(move |_| {
        let (b, y) = (by.get(), year.get());
        let _ = ctx.changed.get();
        spawn_local(async move {
            match http::flag_stats(b, y).await {
                Ok(s) => stats.set(Some(s)),
                Err(e) => ctx.fail(e),
            }
        });
    });
    let export = move |_| {
        let q = http::flag_stats_query(by.get_untracked(), year.get_untracked());
        spawn_local(async move {
            if let Err(e) = http::download(&format!("flag-stats.csv?{q}"), "flag-stats.csv").await {
                ctx.fail(e);
            }
        });
    };
    let busiest_month = move || {
        stats.with(|s| {
            s.as_ref()
                .map(|s| s.rows.iter().flat_map(|r| r.by_month.iter().copied()).max().unwrap_or(0).max(1))
        })
    };
    view! {
        <section class="card" id="flag-stats">
            <div class="row toolbar">
                <div><label for="fs-by">{move || ctx.t("group_by")}</label>
                    <select id="fs-by" on:change=move |ev| by.set(if event_target_value(&ev) == "inspector" { FlagStatsBy::Inspector } else { FlagStatsBy::Township })>
                        <option value="township">{move || ctx.t("by_township")}</option>
                        <option value="inspector">{move || ctx.t("by_inspector")}</option>
                    </select>
                </div>
                <div><label for="fs-year">{move || ctx.t("year")}</label>
                    <select id="fs-year" on:change=move |ev| if let Ok(y) = event_target_value(&ev).parse() { year.set(y) }>
                        {(0..3).map(|k| { let y = this_year - k; view! { <option value=y.to_string()>{y}</option> } }).collect_view()}
                    </select>
                </div>
                <button id="export-flag-stats" on:click=export>{move || ctx.t("export_csv")}</button>
            </div>
            <table class="table" id="flag-stats-table">
                <thead><tr>
                    <th>{move || ctx.t(if by.get() == FlagStatsBy::Township { "by_township" } else { "by_inspector" })}</th>
                    <th>{move || ctx.t("flagged_records")}</th>
                    <th>{move || ctx.t("flag_total")}</th>
                    <th>{move || ctx.t("by_kind")}</th>
                    <th>{move || ctx.t("by_month")}</th>
                </tr></thead>
                <tbody>
                    {move || stats.get().map(|s| if s.rows.is_empty() {
                        view! { <tr><td colspan="5" class="muted">{ctx.t("no_flag_stats")}</td></tr> }.into_any()
                    } else {
                        let lang = ctx.lang.get();
                        let top = busiest_month().unwrap_or(1);
                        s.rows.into_iter().map(|r| {
                            let kinds = r.by_kind.iter().map(|(k, n)| format!("{} {n}", flag_kind_label(lang, k))).collect::<Vec<_>>().join("；");
                            let bars = r.by_month.iter().enumerate().map(|(m, n)| {
                                let h = (*n as f64 / top as f64 * 20.0).round();
                                view! { <rect x=(m * 8).to_string() y=(22.0 - h).to_string() width="6" height=h.to_string() fill="#d97706"><title>{format!("{}月 {n}", m + 1)}</title></rect> }
                            }).collect_view();
                            view! {
                                <tr data-key=r.key.clone()>
                                    <td>{if r.name.is_empty() { r.key.clone() } else { r.name.clone() }}</td>
                                    <td class="num">{r.records}</td>
                                    <td class="num total">{r.total}</td>
                                    <td class="small">{kinds}</td>
                                    <td><svg width="96" height="24" role="img">{bars}</svg></td>
                                </tr>
                            }
                        }).collect_view().into_any()
                    })}
                </tbody>
            </table>
        </section>
    }
}
