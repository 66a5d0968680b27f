use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{cctx, start};
use crate::http;

#[component]
pub fn Login() -> impl IntoView {
    let ctx = cctx();
    let user = RwSignal::new(String::new());
    let pass = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let submit = move || {
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match http::login(&user.get_untracked(), &pass.get_untracked()).await {
                Ok(u) => start(ctx, u),
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <main>
            <div class="card" style="max-width:520px;margin:40px auto">
                <h2>{move || ctx.t("console")}</h2>
                <p class="muted">{move || ctx.t("console_login")}</p>
                <label for="username">{move || ctx.t("username")}</label>
                <input id="username" autocomplete="username" on:input=move |ev| user.set(event_target_value(&ev))/>
                <label for="password">{move || ctx.t("password")}</label>
                <input id="password" type="password" autocomplete="current-password"
                    on:input=move |ev| pass.set(event_target_value(&ev))
                    on:keydown=move |ev| if ev.key() == "Enter" { submit() }/>
                {move || error.get().map(|e| view! { <p class="err" id="login-error">{e}</p> })}
                <p class="row">
                    <button id="login" class="primary" prop:disabled=move || busy.get() on:click=move |_| submit()>{move || ctx.t("login")}</button>
                    <button class="lang-inline" on:click=move |_| ctx.lang.update(|l| *l = if *l == crate::i18n::Lang::Zh { crate::i18n::Lang::En } else { crate::i18n::Lang::Zh })>{move || ctx.t("language")}</button>
                </p>
            </div>
        </main>
    }
}
