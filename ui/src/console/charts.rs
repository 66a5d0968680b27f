//! Inline SVG charts: no chart library, no canvas, text stays selectable and translatable.

use leptos::prelude::*;

/// Horizontal bars of percentages (0–100+) with a vertical marker (the year's elapsed share).
#[component]
pub fn PctBars(rows: Vec<(String, f64, bool)>, marker: f64, #[prop(into)] title: String) -> impl IntoView {
    let label = title.clone();
    let row_h = 22.0;
    let (label_w, bar_w) = (140.0, 420.0);
    let h = row_h * rows.len() as f64 + 24.0;
    let x = move |pct: f64| label_w + bar_w * (pct.clamp(0.0, 100.0) / 100.0);
    view! {
        <svg class="chart" width=label_w + bar_w + 60.0 height=h role="img" aria-label=label>
            <title>{title}</title>
            {rows.into_iter().enumerate().map(|(i, (name, pct, behind))| {
                let y = 4.0 + i as f64 * row_h;
                view! {
                    <text x=label_w - 6.0 y=y + 14.0 text-anchor="end" class="axis">{name}</text>
                    <rect x=label_w y=y width=bar_w height=row_h - 6.0 class="track"/>
                    <rect x=label_w y=y width=x(pct) - label_w height=row_h - 6.0 class=if behind { "bar behind" } else { "bar" }/>
                    <text x=x(pct) + 4.0 y=y + 14.0 class="axis">{format!("{pct:.1}%")}</text>
                }
            }).collect_view()}
            <line x1=x(marker * 100.0) x2=x(marker * 100.0) y1=0 y2=h - 18.0 class="marker"/>
            <text x=x(marker * 100.0) y=h - 4.0 text-anchor="middle" class="axis">{format!("{:.0}%", marker * 100.0)}</text>
        </svg>
    }
}

/// How many regions stand at each completion share: ten bands of 10 % (the last one holding
/// 100 % and beyond), a bar each, with the year's elapsed share marked. Any number of regions
/// makes ten bars.
#[component]
pub fn PctHistogram(values: Vec<f64>, marker: f64, #[prop(into)] title: String) -> impl IntoView {
    let label = title.clone();
    let mut bands = [0usize; 10];
    for v in &values {
        bands[((v / 10.0).floor().max(0.0) as usize).min(9)] += 1;
    }
    let max = bands.iter().copied().max().unwrap_or(0).max(1) as f64;
    let (w, h, left, bottom) = (640.0, 200.0, 48.0, 24.0);
    let step = (w - left) / 10.0;
    let y = move |n: f64| (h - bottom) - (h - bottom - 8.0) * (n / max);
    let mx = left + step * 10.0 * marker.clamp(0.0, 1.0);
    view! {
        <svg class="chart" id="completion-histogram" width=w height=h role="img" aria-label=label>
            <title>{title}</title>
            <line x1=left y1=h - bottom x2=w y2=h - bottom class="axisline"/>
            <text x=left - 4.0 y=y(max) + 4.0 text-anchor="end" class="axis">{format!("{max:.0}")}</text>
            {bands.into_iter().enumerate().map(|(i, n)| {
                let x = left + step * i as f64 + step * 0.1;
                let behind = ((i as f64 + 1.0) * 10.0) <= marker * 100.0;
                view! {
                    <rect x=x y=y(n as f64) width=step * 0.8 height=(h - bottom) - y(n as f64)
                        class=if behind { "bar behind" } else { "bar" } data-count=n/>
                    <text x=x + step * 0.4 y=y(n as f64) - 3.0 text-anchor="middle" class="axis">{n.to_string()}</text>
                    <text x=x + step * 0.4 y=h - 8.0 text-anchor="middle" class="axis">{format!("{}%", i * 10)}</text>
                }
            }).collect_view()}
            <line x1=mx x2=mx y1=0 y2=h - bottom class="marker"/>
        </svg>
    }
}

/// Twelve months: bars for completions, a line for the cumulative plan and one for cumulative
/// completions.
#[component]
pub fn MonthChart(
    done: Vec<f64>,
    plan_cum: Vec<f64>,
    done_cum: Vec<f64>,
    #[prop(into)] title: String,
) -> impl IntoView {
    let label = title.clone();
    let (w, h, left, bottom) = (640.0, 220.0, 40.0, 24.0);
    let max = plan_cum.iter().chain(done_cum.iter()).chain(done.iter()).cloned().fold(1.0_f64, f64::max);
    let step = (w - left) / 12.0;
    let y = move |v: f64| (h - bottom) - (h - bottom - 8.0) * (v / max);
    let path = |vals: &[f64]| {
        vals.iter()
            .enumerate()
            .map(|(i, v)| {
                format!(
                    "{}{:.1},{:.1}",
                    if i == 0 { "M" } else { "L" },
                    left + step * (i as f64 + 0.5),
                    y(*v)
                )
            })
            .collect::<String>()
    };
    let (pp, dp) = (path(&plan_cum), path(&done_cum));
    view! {
        <svg class="chart" width=w height=h role="img" aria-label=label>
            <title>{title}</title>
            <line x1=left y1=h - bottom x2=w y2=h - bottom class="axisline"/>
            <text x=left - 4.0 y=y(max) + 4.0 text-anchor="end" class="axis">{format!("{max:.0}")}</text>
            <text x=left - 4.0 y=h - bottom text-anchor="end" class="axis">"0"</text>
            {done.into_iter().enumerate().map(|(i, v)| {
                let x = left + step * i as f64 + step * 0.2;
                view! {
                    <rect x=x y=y(v) width=step * 0.6 height=(h - bottom) - y(v) class="bar"/>
                    <text x=x + step * 0.3 y=h - 8.0 text-anchor="middle" class="axis">{format!("{}", i + 1)}</text>
                }
            }).collect_view()}
            <path d=pp class="plan-line"/>
            <path d=dp class="done-line"/>
        </svg>
    }
}
