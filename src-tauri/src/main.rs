// The desktop/tablet entry point; everything lives in the library.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    qingliu_app::shell::run();
}
