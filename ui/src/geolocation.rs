//! The webview's own geolocation: the tablet's location source on the desktop (WebKitGTK asks
//! GeoClue), handed fix by fix to the app core's position service. The only place that touches
//! `navigator.geolocation`.

use shared::geo::LngLat;
use shared::position::Fix;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// A running watch; dropping it stops the platform's location updates.
pub struct Watch {
    id: i32,
    _ok: Closure<dyn FnMut(JsValue)>,
    _err: Closure<dyn FnMut(JsValue)>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(g) = geolocation() {
            g.clear_watch(self.id);
        }
    }
}

fn get(o: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(o, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn geolocation() -> Option<web_sys::Geolocation> {
    web_sys::window()?.navigator().geolocation().ok()
}

/// Watches the position with high accuracy and no cached fixes.
pub fn watch(on_fix: impl Fn(Fix) + 'static, on_error: impl Fn(String) + 'static) -> Result<Watch, String> {
    let geo = geolocation().ok_or_else(|| "此设备不提供定位".to_string())?;
    // GeolocationPosition is still an unstable web-sys type: read the fields by name.
    let ok = Closure::<dyn FnMut(JsValue)>::new(move |p: JsValue| {
        let coords = get(&p, "coords");
        let num = |o: &JsValue, k: &str| get(o, k).as_f64();
        let (Some(lng), Some(lat)) = (num(&coords, "longitude"), num(&coords, "latitude")) else { return };
        let mut fix = Fix::new(LngLat::new(lng, lat), num(&coords, "accuracy"));
        fix.time = num(&p, "timestamp")
            .and_then(|ms| time::OffsetDateTime::from_unix_timestamp_nanos((ms * 1e6) as i128).ok());
        on_fix(fix);
    });
    let err = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        let what = match get(&e, "code").as_f64() {
            Some(1.0) => "定位权限被拒绝",
            Some(2.0) => "暂时无法定位",
            _ => "定位超时",
        };
        on_error(format!("{what}（{}）", get(&e, "message").as_string().unwrap_or_default()));
    });
    let opts = web_sys::PositionOptions::new();
    opts.set_enable_high_accuracy(true);
    opts.set_maximum_age(0);
    opts.set_timeout(15_000);
    let id = geo
        .watch_position_with_error_callback_and_options(
            ok.as_ref().unchecked_ref(),
            Some(err.as_ref().unchecked_ref()),
            &opts,
        )
        .map_err(|e| e.as_string().unwrap_or_else(|| "无法启动定位".into()))?;
    Ok(Watch { id, _ok: ok, _err: err })
}
