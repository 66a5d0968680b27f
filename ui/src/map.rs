//! Maps drawn as inline SVG from `shared::map`, for the console and the field app alike: they
//! work with no internet (a lng/lat grid under the points); a configured tile URL adds a
//! basemap, with points shifted to GCJ-02 when the tiles are.

use leptos::prelude::*;
use shared::geo::LngLat;
use shared::map::{self, TILE, View as MapState};

use crate::i18n::{Lang, t};

#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub at: LngLat,
    pub class: &'static str,
    pub title: String,
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
) -> impl IntoView {
    let tr = move |k: &str| t(lang.get(), k);
    let all: Vec<LngLat> = points.iter().map(|p| p.at).collect();
    let state = RwSignal::new(map::fit(&all, width, height, 24.0));
    let drag = RwSignal::new(None::<(f64, f64)>);
    let tiles = move || tiles.get();
    let gcj = move || tiles().is_some_and(|(_, g)| g);
    let (points, lines) = (StoredValue::new(points), StoredValue::new(lines));
    view! {
        <div class="map">
            <svg class="mapsvg" width=width height=height viewBox=format!("0 0 {width} {height}")
                on:pointerdown=move |ev| drag.set(Some((f64::from(ev.client_x()), f64::from(ev.client_y()))))
                on:pointerup=move |_| drag.set(None)
                on:pointerleave=move |_| drag.set(None)
                on:pointermove=move |ev| if let Some((x, y)) = drag.get_untracked() {
                    let (nx, ny) = (f64::from(ev.client_x()), f64::from(ev.client_y()));
                    state.update(|s| *s = s.panned(x - nx, y - ny));
                    drag.set(Some((nx, ny)));
                }>
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
                {move || {
                    let v = state.get();
                    let g = gcj();
                    // Small dots when thousands of sites share the screen, bigger ones up close.
                    let r = (f64::from(v.zoom) - 5.0).clamp(2.0, 7.0);
                    points.with_value(|ps| ps.iter().map(|p| {
                        let (x, y) = v.place(p.at, g);
                        view! { <circle class=format!("pt {}", p.class) cx=x cy=y r=r><title>{p.title.clone()}</title></circle> }
                    }).collect_view())
                }}
            </svg>
            <div class="map-tools">
                <button title=move || tr("zoom_in") on:click=move |_| state.update(|s| *s = s.zoomed(1))>"+"</button>
                <button title=move || tr("zoom_out") on:click=move |_| state.update(|s| *s = s.zoomed(-1))>"−"</button>
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
        pts.push(Point { at: s, class: "site", title: tr("site_position").into() });
    }
    if let Some(r) = record {
        pts.push(Point { at: r, class: "record", title: tr("record_position").into() });
    }
    for (n, p) in photos.into_iter().enumerate() {
        pts.push(Point { at: p, class: "photo", title: format!("{} {}", tr("photos"), n + 1) });
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
