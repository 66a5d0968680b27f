//! The Tauri shell: state, thin commands and the background sync timer. Built only with
//! `--features app`; everything it calls is in plain modules.

pub fn run() {
    tauri::Builder::default().run(tauri::generate_context!()).expect("error while running the Qingliu app");
}
