//! The browser console served by sync-server at `/`: review for township officials, tracking,
//! dispatch and supervision for county, prefecture and province staff, administration for the
//! province admin. Every call goes through `http` (one typed function per endpoint); what a
//! user sees follows their role, and the server scopes every answer to their region anyway.

mod admin;
mod charts;
mod dashboard;
mod detail;
mod dispatch;
mod flags;
mod login;
mod map;
mod queue;
mod supervision;

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::auth::{Role, UserInfo};
use shared::console::ConsoleConfig;
use shared::region::RegionCode;
use shared::{ApiError, ErrorCode, InspectionId};

use crate::http;
use crate::i18n::{Lang, t};

#[derive(Debug, Clone, PartialEq)]
pub enum View {
    Queue,
    Record(InspectionId),
    Dashboard,
    Dispatch,
    Supervision,
    FlagStats,
    Map,
    Admin,
}

#[derive(Clone, Copy)]
pub struct CCtx {
    pub lang: RwSignal<Lang>,
    pub user: RwSignal<Option<UserInfo>>,
    pub view: RwSignal<View>,
    /// The region the progress screens look at (drill-down path: the user's region first).
    pub path: RwSignal<Vec<(RegionCode, String)>>,
    /// The review queue's query string, kept while a record is open.
    pub queue_query: RwSignal<String>,
    pub config: RwSignal<ConsoleConfig>,
    pub notice: RwSignal<Option<String>>,
    /// Bumped after every review, so screens showing counts reload.
    pub changed: RwSignal<u32>,
}

impl CCtx {
    /// The configured basemap, as the shared map widgets take it.
    pub fn tiles(&self) -> Signal<crate::map::Tiles> {
        let config = self.config;
        Signal::derive(move || config.with(|c| c.tile_url.clone().map(|u| (u, c.tile_gcj02))))
    }

    pub fn t(&self, key: &str) -> &'static str {
        t(self.lang.get(), key)
    }

    pub fn go(&self, v: View) {
        self.notice.set(None);
        self.view.set(v);
    }

    pub fn region(&self) -> Option<RegionCode> {
        self.path.with(|p| p.last().map(|(c, _)| *c))
    }

    /// Show an error; an expired or revoked session goes back to the login screen.
    pub fn fail(&self, e: ApiError) {
        if matches!(e.code, ErrorCode::Unauthenticated | ErrorCode::TokenExpired) {
            self.user.set(None);
        }
        self.notice.set(Some(e.message));
    }

    pub fn role(&self) -> Option<Role> {
        self.user.with(|u| u.as_ref().map(|u| u.role))
    }
}

pub fn cctx() -> CCtx {
    expect_context::<CCtx>()
}

#[component]
pub fn Console() -> impl IntoView {
    let ctx = CCtx {
        lang: RwSignal::new(Lang::Zh),
        user: RwSignal::new(None),
        view: RwSignal::new(View::Dashboard),
        path: RwSignal::new(Vec::new()),
        queue_query: RwSignal::new("status=submitted".into()),
        config: RwSignal::new(ConsoleConfig::default()),
        notice: RwSignal::new(None),
        changed: RwSignal::new(0),
    };
    provide_context(ctx);
    let checked = RwSignal::new(false);
    spawn_local(async move {
        if http::token().is_some()
            && let Ok(u) = http::me().await
        {
            start(ctx, u);
        }
        checked.set(true);
    });
    Effect::new(move |_| {
        let lang = ctx.lang.get();
        if let Some(el) = document().document_element() {
            let _ = el.set_attribute("lang", if lang == Lang::Zh { "zh-CN" } else { "en" });
        }
    });
    let logged_in = Memo::new(move |_| ctx.user.with(Option::is_some));
    view! {
        {move || match (checked.get(), logged_in.get()) {
            (false, _) => view! { <main><p class="muted">"…"</p></main> }.into_any(),
            (true, false) => view! { <login::Login/> }.into_any(),
            (true, true) => view! { <Shell/> }.into_any(),
        }}
    }
}

/// After login: the first screen follows the role (reviewers review, the others track).
pub fn start(ctx: CCtx, u: UserInfo) {
    // Settings are behind login (a tile URL may carry a provider key).
    spawn_local(async move {
        if let Ok(c) = http::console_config().await {
            ctx.config.set(c);
        }
    });
    ctx.path.set(vec![(u.region, String::new())]);
    ctx.view.set(if u.role == Role::TownshipReviewer { View::Queue } else { View::Dashboard });
    ctx.user.set(Some(u));
}

#[component]
fn Shell() -> impl IntoView {
    let ctx = cctx();
    let role = ctx.role();
    let tab = move |v: View, key: &'static str| {
        let target = v.clone();
        let active = move || {
            let cur = ctx.view.get();
            cur == v || (v == View::Queue && matches!(cur, View::Record(_)))
        };
        view! {
            <button class:active=active data-nav=key on:click=move |_| ctx.go(target.clone())>{move || ctx.t(key)}</button>
        }
    };
    let reviews = matches!(
        role,
        Some(
            Role::TownshipReviewer
                | Role::CountyViewer
                | Role::PrefectureViewer
                | Role::ProvinceViewer
                | Role::ProvinceAdmin
        )
    );
    let supervises = !matches!(role, Some(Role::TownshipReviewer));
    let admin = role == Some(Role::ProvinceAdmin);
    let logout = move |_| {
        spawn_local(async move {
            http::logout().await;
            ctx.user.set(None);
        });
    };
    view! {
        <header class="top">
            <h1>{move || ctx.t("console")}</h1>
            <nav class="tabs">
                {reviews.then(|| tab(View::Queue, "queue"))}
                {tab(View::Dashboard, "dashboard")}
                {tab(View::Dispatch, "dispatch")}
                {supervises.then(|| tab(View::Supervision, "supervision"))}
                {reviews.then(|| tab(View::FlagStats, "flag_stats"))}
                {tab(View::Map, "map")}
                {admin.then(|| tab(View::Admin, "admin"))}
            </nav>
            <span id="whoami">{move || ctx.user.with(|u| u.as_ref().map(|u| u.display_name.clone()).unwrap_or_default())}</span>
            <button class="lang" id="lang-switch" on:click=move |_| ctx.lang.update(|l| *l = if *l == Lang::Zh { Lang::En } else { Lang::Zh })>
                {move || ctx.t("language")}
            </button>
            <button class="lang" id="logout" on:click=logout>{move || ctx.t("logout")}</button>
        </header>
        <main class="wide">
            {move || ctx.notice.get().map(|n| view! { <div class="card" id="notice" role="alert">{n}</div> })}
            {move || match ctx.view.get() {
                View::Queue => view! { <queue::Queue/> }.into_any(),
                View::Record(id) => view! { <detail::Detail id=id/> }.into_any(),
                View::Dashboard => view! { <dashboard::Dashboard/> }.into_any(),
                View::Dispatch => view! { <dispatch::DispatchView/> }.into_any(),
                View::Supervision => view! { <supervision::Supervision/> }.into_any(),
                View::FlagStats => view! { <flags::FlagStatsView/> }.into_any(),
                View::Map => view! { <map::MapView/> }.into_any(),
                View::Admin => view! { <admin::Admin/> }.into_any(),
            }}
        </main>
    }
}

/// Breadcrumbs of the drill-down path; clicking one goes back up to it.
#[component]
pub fn Crumbs() -> impl IntoView {
    let ctx = cctx();
    view! {
        <nav class="crumbs" id="crumbs">
            {move || {
                let path = ctx.path.get();
                let n = path.len();
                path.into_iter().enumerate().map(|(i, (code, name))| {
                    let label = if name.is_empty() { code.to_string() } else { name };
                    view! {
                        <button class="link" data-region=code.to_string() on:click=move |_| ctx.path.update(|p| p.truncate(i + 1))>{label}</button>
                        {(i + 1 < n).then_some(" › ")}
                    }
                }).collect_view()
            }}
        </nav>
    }
}

/// A key pressed while typing in a form field is text, not a shortcut.
pub fn typing_in_field(ev: &leptos::ev::KeyboardEvent) -> bool {
    ev.target()
        .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
        .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"))
}

pub fn pct(x: f64) -> String {
    format!("{x:.1}%")
}
