//! Qingliu UI, one bundle for two hosts: in the Tauri webview it is the field app (calls go
//! through `api`, one typed wrapper per command); in a browser, served by sync-server at `/`, it
//! is the review and tracking console (calls go through `http`, one typed function per endpoint).

mod api;
mod app;
mod canvas;
mod console;
mod geolocation;
mod http;
mod i18n;
mod map;
mod pages;
mod record_view;

fn in_tauri() -> bool {
    web_sys::window()
        .and_then(|w| js_sys::Reflect::get(&w, &wasm_bindgen::JsValue::from_str("__TAURI__")).ok())
        .is_some_and(|v| !v.is_undefined())
}

fn main() {
    console_error_panic_hook::set_once();
    if in_tauri() {
        leptos::mount::mount_to_body(app::App);
    } else {
        leptos::mount::mount_to_body(console::Console);
    }
}
