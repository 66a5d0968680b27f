//! The one canvas helper the map and the signature pad share.

use wasm_bindgen::JsCast;

/// The canvas's 2D drawing context, if the browser gives one.
pub fn context_2d(canvas: &web_sys::HtmlCanvasElement) -> Option<web_sys::CanvasRenderingContext2d> {
    canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok())
}
