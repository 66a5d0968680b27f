use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::app::ctx;

/// First run: server address, login and device registration (done by the app on login).
#[component]
pub fn Login() -> impl IntoView {
    let ctx = ctx();
    let server = RwSignal::new("http://127.0.0.1:8080".to_string());
    let user = RwSignal::new(String::new());
    let pass = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let submit = move || {
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api::login(&server.get_untracked(), &user.get_untracked(), &pass.get_untracked()).await {
                Ok(_) => ctx.refresh(),
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <main>
            <div class="card" style="max-width:520px;margin:40px auto">
                <h2>{move || ctx.t("app")}</h2>
                <p class="muted">{move || ctx.t("first_run")}</p>
                <label>{move || ctx.t("server")}</label>
                <input id="server-url" prop:value=move || server.get() on:input=move |ev| server.set(event_target_value(&ev))/>
                <label>{move || ctx.t("username")}</label>
                <input id="username" autocomplete="username" on:input=move |ev| user.set(event_target_value(&ev))/>
                <label>{move || ctx.t("password")}</label>
                <input id="password" type="password" autocomplete="current-password"
                    on:input=move |ev| pass.set(event_target_value(&ev))
                    on:keydown=move |ev| if ev.key() == "Enter" { submit() }/>
                {move || error.get().map(|e| view! { <p class="err" id="login-error">{e}</p> })}
                <p><button id="login" class="primary" prop:disabled=move || busy.get() on:click=move |_| submit()>{move || ctx.t("login")}</button></p>
            </div>
        </main>
    }
}
