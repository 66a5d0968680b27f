//! The console's map page: sites of the selected region and records waiting for review, on the
//! shared SVG map (`crate::map`).

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::geo::LngLat;

use super::{Crumbs, cctx};
use crate::http;
use crate::map::{MapCanvas, Point};

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
                Some(p) => view! { <MapCanvas points=p width=1000.0 height=620.0 lang=ctx.lang tiles=ctx.tiles()/> }.into_any(),
            }}
        </section>
    }
}
