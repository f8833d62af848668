//! Clock and time-zone facts from the browser.

/// Milliseconds since the epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// The agent's IANA time zone, e.g. `America/Chicago`.
pub fn time_zone() -> String {
    let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
    js_sys::Reflect::get(&format.resolved_options(), &"timeZone".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_else(|| "UTC".into())
}

/// The page's origin-relative reload, e.g. after logout.
pub fn reload() {
    if let Some(w) = web_sys::window() {
        let _ = w.location().set_href("/");
    }
}
