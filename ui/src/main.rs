//! Qingliu field app UI: Leptos CSR in the Tauri webview. Screens are components; all calls to
//! the app go through `api` (one typed wrapper per command).

mod api;
mod app;
mod i18n;
mod pages;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
