//! The console's map page: sites of the selected region and records waiting for review, on the
//! shared map (`crate::map`); a pending record opens from its point.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::console::PointColumns;
use shared::geo::LngLat;

use super::{Crumbs, View, cctx};
use crate::http;
use crate::map::{MapCanvas, Point};

fn points(cols: PointColumns, class: &'static str, out: &mut Vec<Point>) {
    let ids = cols.ids;
    for (i, ((name, lng), lat)) in cols.names.into_iter().zip(cols.lng).zip(cols.lat).enumerate() {
        out.push(Point { at: LngLat::new(lng, lat), class, title: name, record: ids.get(i).copied() });
    }
}

/// Sites of the selected region and the records waiting for review.
#[component]
pub fn MapView() -> impl IntoView {
    let ctx = cctx();
    let loaded = RwSignal::new(None::<(Vec<Point>, bool)>);
    // The map's first draw is measured from here (see `crate::map`).
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.mark("qingliu-map-open");
    }
    Effect::new(move |_| {
        let region = ctx.region();
        let scoped = ctx.path.with(|p| p.len() > 1);
        spawn_local(async move {
            match http::map_points(if scoped { region.as_ref() } else { None }).await {
                Ok(m) => {
                    let mut pts = Vec::with_capacity(m.sites.len() + m.pending.len());
                    points(m.sites, "site", &mut pts);
                    points(m.pending, "record", &mut pts);
                    loaded.set(Some((pts, m.pending_capped)));
                }
                Err(e) => ctx.fail(e),
            }
        });
    });
    let open = Callback::new(move |id| ctx.go(View::Record(id)));
    view! {
        <section class="card">
            <Crumbs/>
            <p class="legend small"><span class="dot site"></span>{move || ctx.t("sites_legend")}" "<span class="dot record"></span>{move || ctx.t("pending_legend")}
                {move || loaded.with(|l| l.as_ref().is_some_and(|l| l.1)).then(|| view! { " "<span class="warn">{ctx.t("map_pending_capped")}</span> })}</p>
            {move || match loaded.get() {
                None => view! { <p class="muted">{ctx.t("loading")}</p> }.into_any(),
                Some((p, _)) => view! { <MapCanvas points=p width=1000.0 height=620.0 lang=ctx.lang tiles=ctx.tiles() on_record=open/> }.into_any(),
            }}
        </section>
    }
}
