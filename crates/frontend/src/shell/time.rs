//! Clock and time-zone facts from the browser.

/// Milliseconds since the epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// RFC 3339 (UTC) of an epoch time in milliseconds.
pub fn rfc3339(ms: f64) -> String {
    js_sys::Date::new(&ms.into()).to_iso_string().into()
}

/// A `datetime-local` input value (`YYYY-MM-DDTHH:MM`, the agent's local time) as an RFC 3339
/// instant, or `None` when it is not a valid time.
pub fn local_input_to_rfc3339(value: &str) -> Option<String> {
    if value.len() < 16 {
        return None;
    }
    let date = js_sys::Date::new(&value.into());
    let ms = date.get_time();
    (!ms.is_nan()).then(|| rfc3339(ms))
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
