//! The shell of the UI: shared context (language, current page, status), navigation, and the
//! periodic status refresh.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::app::AppStatus;
use shared::inspection::InspectionKind;
use shared::{InspectionId, SiteId};

use crate::api;
use crate::i18n::{Lang, t};
use crate::pages;

#[derive(Debug, Clone, PartialEq)]
pub enum Page {
    Home,
    Sites,
    Site(SiteId),
    Records,
    Record(InspectionId),
    New(SiteId, InspectionKind),
    Edit(InspectionId),
    Settings,
    /// Review mode: the township's queue on the tablet.
    ReviewQueue,
    ReviewRecord(InspectionId),
}

#[derive(Clone, Copy)]
pub struct Ctx {
    pub lang: RwSignal<Lang>,
    pub page: RwSignal<Page>,
    pub status: RwSignal<Option<AppStatus>>,
    /// A short message shown under the header (saved, queued, errors).
    pub notice: RwSignal<Option<String>>,
}

impl Ctx {
    pub fn t(&self, key: &str) -> &'static str {
        t(self.lang.get(), key)
    }

    pub fn go(&self, p: Page) {
        self.notice.set(None);
        self.page.set(p);
    }

    pub fn refresh(&self) {
        let status = self.status;
        spawn_local(async move {
            if let Ok(s) = api::status().await {
                status.set(Some(s));
            }
        });
    }
}

pub fn ctx() -> Ctx {
    expect_context::<Ctx>()
}

#[component]
pub fn App() -> impl IntoView {
    let ctx = Ctx {
        lang: RwSignal::new(Lang::Zh),
        page: RwSignal::new(Page::Home),
        status: RwSignal::new(None),
        notice: RwSignal::new(None),
    };
    provide_context(ctx);
    ctx.refresh();
    // The status (counts, sync progress) is cheap: refresh it every two seconds while the app is
    // on screen. Hidden, the app tells the core, which stops capturing positions and lets the
    // background sync rest once nothing waits to be sent.
    let hidden = || document().hidden();
    let _ = set_interval_with_handle(
        move || {
            if !hidden() {
                ctx.refresh()
            }
        },
        Duration::from_secs(2),
    );
    let on_visibility = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || {
        let visible = !hidden();
        spawn_local(async move {
            let _ = api::set_visible(visible).await;
        });
        if visible {
            ctx.refresh();
        }
    });
    let _ = document().add_event_listener_with_callback(
        "visibilitychange",
        wasm_bindgen::JsCast::unchecked_ref(on_visibility.as_ref()),
    );
    // The listener lives as long as the page.
    on_visibility.forget();
    Effect::new(move |_| {
        let lang = ctx.lang.get();
        if let Some(el) = document().document_element() {
            let _ = el.set_attribute("lang", if lang == Lang::Zh { "zh-CN" } else { "en" });
        }
    });

    // A memo: the status refreshes every two seconds, and only a change of login state may
    // rebuild the screens (a rebuild would wipe a form being filled in).
    let logged_in = Memo::new(move |_| ctx.status.with(|s| s.as_ref().map(|s| s.user.is_some())));
    view! {
        {move || match logged_in.get() {
            None => view! { <main><p class="muted">"…"</p></main> }.into_any(),
            Some(false) => view! { <pages::login::Login/> }.into_any(),
            Some(true) => view! { <Shell/> }.into_any(),
        }}
    }
}

#[component]
fn Shell() -> impl IntoView {
    let ctx = ctx();
    // A reviewer's tablet: the queue instead of sites and own records.
    let reviewing = Memo::new(move |_| ctx.status.with(|s| s.as_ref().is_some_and(|s| s.review.is_some())));
    let tab = move |p: Page, key: &'static str| {
        let target = p.clone();
        let active = move || {
            let cur = ctx.page.get();
            matches!(
                (&p, &cur),
                (Page::Home, Page::Home)
                    | (Page::Sites, Page::Sites | Page::Site(_) | Page::New(..))
                    | (Page::Records, Page::Records | Page::Record(_) | Page::Edit(_))
                    | (Page::Settings, Page::Settings)
                    | (Page::ReviewQueue, Page::ReviewQueue | Page::ReviewRecord(_))
            )
        };
        view! {
            <button class:active=active data-nav=key on:click=move |_| ctx.go(target.clone())>{move || ctx.t(key)}</button>
        }
    };
    view! {
        <header class="top">
            <h1>{move || ctx.t("app")}</h1>
            <nav class="tabs">
                {tab(Page::Home, "home")}
                {move || if reviewing.get() {
                    view! { {tab(Page::ReviewQueue, "review_tab")} }.into_any()
                } else {
                    view! { {tab(Page::Sites, "sites")}{tab(Page::Records, "records")} }.into_any()
                }}
                {tab(Page::Settings, "settings")}
            </nav>
            <button class="lang" id="lang-switch" on:click=move |_| ctx.lang.update(|l| *l = if *l == Lang::Zh { Lang::En } else { Lang::Zh })>
                {move || ctx.t("language")}
            </button>
        </header>
        <main>
            {move || ctx.notice.get().map(|n| view! { <div class="card" id="notice">{n}</div> })}
            {move || match ctx.page.get() {
                Page::Home => view! { <pages::home::Home/> }.into_any(),
                Page::Sites => view! { <pages::sites::Sites/> }.into_any(),
                Page::Site(id) => view! { <pages::sites::SiteDetail id=id/> }.into_any(),
                Page::Records => view! { <pages::records::Records/> }.into_any(),
                Page::Record(id) => view! { <pages::records::RecordView id=id/> }.into_any(),
                Page::New(site, kind) => view! { <pages::form::NewInspection site=site kind=kind/> }.into_any(),
                Page::Edit(id) => view! { <pages::form::EditInspection id=id/> }.into_any(),
                Page::Settings => view! { <pages::settings::Settings/> }.into_any(),
                Page::ReviewQueue => view! { <pages::review::ReviewQueue/> }.into_any(),
                Page::ReviewRecord(id) => view! { <pages::review::ReviewRecord id=id/> }.into_any(),
            }}
        </main>
    }
}
