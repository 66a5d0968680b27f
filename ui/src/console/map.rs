//! Maps drawn as inline SVG from `shared::map`: they work with no internet (a lng/lat grid
//! under the points); a configured tile URL adds a basemap, with points shifted to GCJ-02 when
//! the tiles are.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::geo::LngLat;
use shared::map::{self, TILE, View as MapState};

use super::{Crumbs, cctx};
use crate::http;

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

#[component]
pub fn MapCanvas(
    points: Vec<Point>,
    #[prop(optional)] lines: Vec<(LngLat, LngLat)>,
    width: f64,
    height: f64,
) -> impl IntoView {
    let ctx = cctx();
    let all: Vec<LngLat> = points.iter().map(|p| p.at).collect();
    let state = RwSignal::new(map::fit(&all, width, height, 24.0));
    let drag = RwSignal::new(None::<(f64, f64)>);
    let tiles = move || ctx.config.with(|c| c.tile_url.clone().map(|u| (u, c.tile_gcj02)));
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
                <button title=move || ctx.t("zoom_in") on:click=move |_| state.update(|s| *s = s.zoomed(1))>"+"</button>
                <button title=move || ctx.t("zoom_out") on:click=move |_| state.update(|s| *s = s.zoomed(-1))>"−"</button>
            </div>
            {move || tiles().is_none().then(|| view! { <p class="muted small">{ctx.t("no_basemap")}</p> })}
        </div>
    }
}

/// The record's position beside the site's registered one (and photo positions), joined.
#[component]
pub fn MiniMap(site: Option<LngLat>, record: Option<LngLat>, photos: Vec<LngLat>) -> impl IntoView {
    let ctx = cctx();
    let mut pts = Vec::new();
    if let Some(s) = site {
        pts.push(Point { at: s, class: "site", title: ctx.t("site_position").into() });
    }
    if let Some(r) = record {
        pts.push(Point { at: r, class: "record", title: ctx.t("record_position").into() });
    }
    for (n, p) in photos.into_iter().enumerate() {
        pts.push(Point { at: p, class: "photo", title: format!("{} {}", ctx.t("photos"), n + 1) });
    }
    let lines = match (site, record) {
        (Some(a), Some(b)) => vec![(a, b)],
        _ => Vec::new(),
    };
    view! {
        <MapCanvas points=pts lines=lines width=420.0 height=280.0/>
        <p class="legend small"><span class="dot site"></span>{ctx.t("site_position")}" "<span class="dot record"></span>{ctx.t("record_position")}</p>
    }
}

/// Sites of the selected region and the records waiting for review.
#[component]
pub fn MapView() -> impl IntoView {
    let ctx = cctx();
    let points = RwSignal::new(None::<Vec<Point>>);
    Effect::new(move |_| {
        let region = ctx.region();
        let scoped = ctx.path.with(|p| p.len() > 1);
        spawn_local(async move {
            let mut pts = Vec::new();
            let geo = if scoped {
                http::sites_geojson(region.as_ref()).await
            } else {
                http::sites_geojson(None).await
            };
            match geo {
                Ok(v) => {
                    for f in v["features"].as_array().into_iter().flatten() {
                        let c = &f["geometry"]["coordinates"];
                        if let (Some(x), Some(y)) = (c[0].as_f64(), c[1].as_f64()) {
                            let title = f["properties"]["name"].as_str().unwrap_or_default().to_string();
                            pts.push(Point { at: LngLat::new(x, y), class: "site", title });
                        }
                    }
                }
                Err(e) => ctx.fail(e),
            }
            if ctx.role() != Some(shared::auth::Role::Inspector)
                && let Ok(q) = http::queue("status=submitted&limit=200").await
            {
                for item in q.items {
                    if let Some(p) = item.record.inspection.position {
                        pts.push(Point { at: p.point, class: "record", title: item.site_name });
                    }
                }
            }
            points.set(Some(pts));
        });
    });
    view! {
        <section class="card">
            <Crumbs/>
            <p class="legend small"><span class="dot site"></span>{move || ctx.t("sites_legend")}" "<span class="dot record"></span>{move || ctx.t("pending_legend")}</p>
            {move || match points.get() {
                None => view! { <p class="muted">{ctx.t("loading")}</p> }.into_any(),
                Some(p) => view! { <MapCanvas points=p width=1000.0 height=620.0/> }.into_any(),
            }}
        </section>
    }
}
