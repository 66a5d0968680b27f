//! Maps drawn from `shared::map`, for the console and the field app alike: they work with no
//! internet (a lng/lat grid in SVG under the points); a configured tile URL adds a basemap, with
//! points shifted to GCJ-02 when the tiles are. Points go on a canvas, merged into counted marks
//! where they crowd, so that a province's 28,000 sites draw in milliseconds.

use leptos::prelude::*;
use shared::geo::LngLat;
use shared::map::{self, TILE, View as MapState};

use crate::i18n::{Lang, t};

#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub at: LngLat,
    pub class: &'static str,
    pub title: String,
    /// A record the point opens when clicked.
    pub record: Option<shared::InspectionId>,
}

/// Grid lines (degrees) spaced so that a few fall on screen.
fn graticule(v: &MapState) -> Vec<(f64, f64, f64, f64)> {
    let deg_per_px = 360.0 / (TILE * f64::from(1u32 << v.zoom));
    let step = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]
        .into_iter()
        .find(|s| s / deg_per_px >= 80.0)
        .unwrap_or(10.0);
    let mut out = Vec::new();
    let (lng0, lng1) = (
        ((v.center.0 * 360.0 - 180.0) - v.width * deg_per_px),
        ((v.center.0 * 360.0 - 180.0) + v.width * deg_per_px),
    );
    let mut lng = (lng0 / step).floor() * step;
    while lng <= lng1 {
        let (x, _) = v.place(LngLat::new(lng, 0.0), false);
        out.push((x, 0.0, x, v.height));
        lng += step;
    }
    let mut lat = -80.0_f64;
    while lat <= 80.0 {
        let (_, y) = v.place(LngLat::new(0.0, lat), false);
        if (0.0..=v.height).contains(&y) {
            out.push((0.0, y, v.width, y));
        }
        lat += step;
    }
    out
}

/// A basemap: the `{z}/{x}/{y}` URL template and whether its tiles are GCJ-02.
pub type Tiles = Option<(String, bool)>;

/// Fill colours of the point classes, in `class_index` order (as in style.css's legend dots).
const COLOURS: [&str; 4] = ["#1f7a6d", "#d84315", "#6a1b9a", "#546e7a"];

fn class_index(class: &str) -> u8 {
    match class {
        "site" => 0,
        "record" => 1,
        "photo" => 2,
        _ => 3,
    }
}

/// Pixels of one clustering cell: a township's villages merge at province zoom and part as the
/// map closes in; from zoom 15 on every point is drawn by itself.
fn cell(zoom: u8) -> f64 {
    if zoom >= 15 { 1.0 } else { 40.0 }
}

fn dot_radius(zoom: u8) -> f64 {
    (f64::from(zoom) - 5.0).clamp(3.0, 7.0)
}

fn mark_radius(m: &map::Mark, zoom: u8) -> f64 {
    // Wide enough for four digits, never wider than a cell, so marks rarely cover each other.
    if m.count == 1 { dot_radius(zoom) } else { (8.0 + 3.5 * f64::from(m.count).log10()).min(19.0) }
}

/// Named marks in the browser's performance timeline, for the console test and anyone with
/// the developer tools open: every draw is `qingliu-map-draw`; the first one of a map page is
/// also measured from `qingliu-map-open` (set by the page) as `qingliu-map-first-draw`.
fn perf() -> Option<web_sys::Performance> {
    web_sys::window()?.performance()
}

/// Draw the marks on the canvas (its backing store is `dpr` times the map's size).
fn paint(
    canvas: &web_sys::HtmlCanvasElement,
    marks: &[map::Mark],
    zoom: u8,
    width: f64,
    height: f64,
    dpr: f64,
) {
    let Some(g) = crate::canvas::context_2d(canvas) else { return };
    let _ = g.set_transform(dpr, 0.0, 0.0, dpr, 0.0, 0.0);
    g.clear_rect(0.0, 0.0, width, height);
    g.set_stroke_style_str("#fff");
    g.set_line_width(1.5);
    g.set_font("bold 11px sans-serif");
    g.set_text_align("center");
    g.set_text_baseline("middle");
    // Sites under records under photos, whatever order the marks came in.
    for class in 0..4u8 {
        g.set_fill_style_str(COLOURS[usize::from(class)]);
        g.begin_path();
        for m in marks.iter().filter(|m| m.class == class && m.count == 1) {
            let r = dot_radius(zoom);
            g.move_to(m.x + r, m.y);
            let _ = g.arc(m.x, m.y, r, 0.0, std::f64::consts::TAU);
        }
        g.fill();
        g.stroke();
        for m in marks.iter().filter(|m| m.class == class && m.count > 1) {
            let r = mark_radius(m, zoom);
            g.set_fill_style_str(COLOURS[usize::from(class)]);
            g.set_global_alpha(0.85);
            g.begin_path();
            let _ = g.arc(m.x, m.y, r, 0.0, std::f64::consts::TAU);
            g.fill();
            g.set_global_alpha(1.0);
            g.stroke();
            g.set_fill_style_str("#fff");
            let _ = g.fill_text(&m.count.to_string(), m.x, m.y);
        }
    }
}

/// A map of many points: the lng/lat grid (or basemap tiles) and joining lines in SVG, the
/// points on a canvas above it, merged into counted marks where they crowd. Drag to pan, wheel
/// or +/− to zoom, a click on a mark zooms into it, hovering a point shows its title.
#[component]
pub fn MapCanvas(
    points: Vec<Point>,
    #[prop(optional)] lines: Vec<(LngLat, LngLat)>,
    width: f64,
    height: f64,
    #[prop(into)] lang: Signal<Lang>,
    /// None in the field app (offline: the grid only).
    #[prop(optional, into)]
    tiles: Signal<Tiles>,
    /// Called with the record of a clicked point that has one.
    #[prop(optional)]
    on_record: Option<Callback<shared::InspectionId>>,
) -> impl IntoView {
    let tr = move |k: &str| t(lang.get(), k);
    let all: Vec<LngLat> = points.iter().map(|p| p.at).collect();
    let state = RwSignal::new(map::fit(&all, width, height, 24.0));
    // (last x, last y, pixels moved in total): a drag, or a click if it hardly moved.
    let drag = StoredValue::new(None::<(f64, f64, f64)>);
    let wheel = StoredValue::new(0.0_f64);
    let tip = RwSignal::new(None::<(f64, f64, String)>);
    let tiles = move || tiles.get();
    let gcj = move || tiles().is_some_and(|(_, g)| g);
    let (points, lines) = (StoredValue::new(points), StoredValue::new(lines));
    // World coordinates once per basemap datum, not per frame.
    let world = Memo::new(move |_| {
        let g = gcj();
        points.with_value(|ps| {
            ps.iter()
                .map(|p| {
                    let w = map::world(if g { shared::geo::wgs84_to_gcj02(p.at) } else { p.at });
                    (w.0, w.1, class_index(p.class))
                })
                .collect::<Vec<_>>()
        })
    });
    let marks = StoredValue::new(Vec::<map::Mark>::new());
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let stage = NodeRef::<leptos::html::Div>::new();
    let dpr = web_sys::window().map(|w| w.device_pixel_ratio()).unwrap_or(1.0).clamp(1.0, 3.0);
    let (drawn, shown) = (RwSignal::new(0usize), RwSignal::new(0u32));
    let first = StoredValue::new(true);
    let pending = StoredValue::new(false);

    let draw = move || {
        pending.set_value(false);
        let Some(c) = canvas.get_untracked() else { return };
        let p = perf();
        if let Some(p) = &p {
            let _ = p.mark("qingliu-map-draw-start");
        }
        let v = state.get_untracked();
        let s = TILE * f64::from(1u32 << v.zoom);
        let screen: Vec<(f64, f64, u8)> = world.with_untracked(|w| {
            w.iter()
                .map(|&(x, y, c)| {
                    ((x - v.center.0) * s + v.width / 2.0, (y - v.center.1) * s + v.height / 2.0, c)
                })
                .collect()
        });
        let ms = map::cluster(&screen, width, height, cell(v.zoom), 12.0);
        paint(&c, &ms, v.zoom, width, height, dpr);
        drawn.set(ms.len());
        shown.set(ms.iter().map(|m| m.count).sum());
        marks.set_value(ms);
        if let Some(p) = &p {
            let _ = p.mark("qingliu-map-draw-end");
            let _ = p.measure_with_start_mark_and_end_mark(
                "qingliu-map-draw",
                "qingliu-map-draw-start",
                "qingliu-map-draw-end",
            );
            if first.get_value() && !points.with_value(Vec::is_empty) {
                first.set_value(false);
                let _ = p.measure_with_start_mark_and_end_mark(
                    "qingliu-map-first-draw",
                    "qingliu-map-open",
                    "qingliu-map-draw-end",
                );
            }
        }
    };
    // One draw per animation frame however many pointer events arrive in it.
    Effect::new(move |_| {
        state.track();
        world.track();
        if canvas.get().is_some() && !pending.get_value() {
            pending.set_value(true);
            request_animation_frame(draw);
        }
    });

    // Pointer position in map pixels (the stage may be drawn smaller than its width).
    let at = move |x: f64, y: f64| -> Option<(f64, f64)> {
        let r = stage.get_untracked()?.get_bounding_client_rect();
        let k = if r.width() > 0.0 { width / r.width() } else { 1.0 };
        Some(((x - r.left()) * k, (y - r.top()) * k))
    };
    let k = move || {
        stage
            .get_untracked()
            .map(|s| s.get_bounding_client_rect().width())
            .filter(|w| *w > 0.0)
            .map_or(1.0, |w| width / w)
    };
    let hit = move |p: (f64, f64)| -> Option<map::Mark> {
        let z = state.get_untracked().zoom;
        marks.with_value(|ms| map::mark_at(ms, p, |m| mark_radius(m, z) + 3.0).map(|i| ms[i].clone()))
    };
    let describe = move |m: &map::Mark| -> String {
        let l = lang.get_untracked();
        if m.count == 1 {
            points.with_value(|ps| ps.get(m.first).map(|p| p.title.clone()).unwrap_or_default())
        } else {
            format!("{} {} · {}", m.count, t(l, "map_points"), t(l, "map_click_zoom"))
        }
    };

    view! {
        <div class="map">
            <div class="map-stage" node_ref=stage
                style=format!("max-width:{width}px;aspect-ratio:{width}/{height}")
                on:pointerdown=move |ev| {
                    drag.set_value(Some((f64::from(ev.client_x()), f64::from(ev.client_y()), 0.0)));
                }
                on:pointerup=move |ev| {
                    let (cx, cy) = (f64::from(ev.client_x()), f64::from(ev.client_y()));
                    let was = drag.get_value();
                    drag.set_value(None);
                    // A click (not a drag): zoom into a crowd, pin a lone point's title.
                    if let (Some((_, _, moved)), Some(p)) = (was, at(cx, cy))
                        && moved < 5.0
                        && let Some(m) = hit(p)
                    {
                        let record = points.with_value(|ps| ps.get(m.first).and_then(|p| p.record));
                        if m.count > 1 {
                            tip.set(None);
                            state.update(|s| *s = s.zoomed_at(2, (m.x, m.y)));
                        } else if let (Some(id), Some(open)) = (record, on_record) {
                            open.run(id);
                        } else {
                            tip.set(Some((m.x, m.y, describe(&m))));
                        }
                    }
                }
                on:pointerleave=move |_| drag.set_value(None)
                on:pointermove=move |ev| {
                    let (nx, ny) = (f64::from(ev.client_x()), f64::from(ev.client_y()));
                    match drag.get_value() {
                        Some((x, y, moved)) => {
                            let k = k();
                            let (dx, dy) = ((x - nx) * k, (y - ny) * k);
                            drag.set_value(Some((nx, ny, moved + dx.abs() + dy.abs())));
                            if dx != 0.0 || dy != 0.0 {
                                tip.set(None);
                                state.update(|s| *s = s.panned(dx, dy));
                            }
                        }
                        None => {
                            let over = at(nx, ny).and_then(hit);
                            tip.set(over.map(|m| (m.x, m.y, describe(&m))));
                        }
                    }
                }
                on:wheel=move |ev| {
                    ev.prevent_default();
                    // Trackpads send many small deltas: one zoom step per notch's worth.
                    let sum = wheel.get_value() + ev.delta_y();
                    if sum.abs() < 60.0 {
                        wheel.set_value(sum);
                        return;
                    }
                    wheel.set_value(0.0);
                    if let Some(p) = at(f64::from(ev.client_x()), f64::from(ev.client_y())) {
                        tip.set(None);
                        state.update(|s| *s = s.zoomed_at(if sum < 0.0 { 1 } else { -1 }, p));
                    }
                }>
                <svg class="mapsvg" viewBox=format!("0 0 {width} {height}") preserveAspectRatio="none">
                    <rect width=width height=height class="map-bg"/>
                    {move || {
                        let v = state.get();
                        match tiles() {
                            Some((url, _)) => v.tiles().into_iter().map(|(z, x, y, sx, sy)| view! {
                                <image href=map::tile_url(&url, z, x, y) x=sx y=sy width=TILE height=TILE/>
                            }.into_any()).collect_view(),
                            None => graticule(&v).into_iter().map(|(x1, y1, x2, y2)| view! {
                                <line class="grid" x1=x1 y1=y1 x2=x2 y2=y2/>
                            }.into_any()).collect_view(),
                        }
                    }}
                    {move || {
                        let v = state.get();
                        let g = gcj();
                        lines.with_value(|ls| ls.iter().map(|(a, b)| {
                            let (p, q) = (v.place(*a, g), v.place(*b, g));
                            view! { <line class="link-line" x1=p.0 y1=p.1 x2=q.0 y2=q.1/> }
                        }).collect_view())
                    }}
                </svg>
                <canvas class="map-points" node_ref=canvas
                    width=(width * dpr).round() height=(height * dpr).round()
                    data-marks=move || drawn.get() data-shown=move || shown.get()
                    data-points=move || points.with_value(Vec::len) data-zoom=move || state.get().zoom></canvas>
                {move || tip.get().map(|(x, y, text)| view! {
                    <div class="map-tip" style=format!("left:{:.2}%;top:{:.2}%", 100.0 * x / width, 100.0 * y / height)>{text}</div>
                })}
            </div>
            <div class="map-tools">
                <button class="zoom-in" title=move || tr("zoom_in") on:click=move |_| state.update(|s| *s = s.zoomed(1))>"+"</button>
                <button class="zoom-out" title=move || tr("zoom_out") on:click=move |_| state.update(|s| *s = s.zoomed(-1))>"−"</button>
            </div>
            {move || tiles().is_none().then(|| view! { <p class="muted small">{tr("no_basemap")}</p> })}
        </div>
    }
}

/// The record's position beside the site's registered one (and photo positions), joined.
#[component]
pub fn MiniMap(
    site: Option<LngLat>,
    record: Option<LngLat>,
    photos: Vec<LngLat>,
    #[prop(into)] lang: Signal<Lang>,
    #[prop(optional, into)] tiles: Signal<Tiles>,
    #[prop(default = 420.0)] width: f64,
    #[prop(default = 280.0)] height: f64,
) -> impl IntoView {
    let tr = move |k: &str| t(lang.get_untracked(), k);
    let mut pts = Vec::new();
    if let Some(s) = site {
        pts.push(Point { at: s, class: "site", title: tr("site_position").into(), record: None });
    }
    if let Some(r) = record {
        pts.push(Point { at: r, class: "record", title: tr("record_position").into(), record: None });
    }
    for (n, p) in photos.into_iter().enumerate() {
        pts.push(Point { at: p, class: "photo", title: format!("{} {}", tr("photos"), n + 1), record: None });
    }
    let lines = match (site, record) {
        (Some(a), Some(b)) => vec![(a, b)],
        _ => Vec::new(),
    };
    view! {
        <MapCanvas points=pts lines=lines width=width height=height lang=lang tiles=tiles/>
        <p class="legend small"><span class="dot site"></span>{move || t(lang.get(), "site_position")}" "<span class="dot record"></span>{move || t(lang.get(), "record_position")}</p>
    }
}
