//! Clock, calendar and time-zone facts from the browser, and the server's clock as our own
//! API's `Date` headers reveal it (VICIdial's call times are server times: a browser whose
//! clock is off must still count a call from when the customer answered).

use std::cell::Cell;
use std::time::Duration;

use leptos::prelude::{on_cleanup, set_interval_with_handle};

/// Milliseconds since the epoch, by the browser's clock.
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

/// Leaves the app for its start page (after logout: a fresh page holds nothing of the shift).
pub fn reload() {
    if let Some(w) = web_sys::window() {
        let _ = w.location().set_href("/");
    }
}

/// A wall-clock minute in the agent's own time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalMinute {
    /// Year, e.g. 2026.
    pub year: i32,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
}

/// The browser's local date and time now.
pub fn local_now() -> LocalMinute {
    local_minute(now_ms())
}

/// The local date and time of `ms` since the epoch.
pub fn local_minute(ms: f64) -> LocalMinute {
    let d = js_sys::Date::new(&ms.into());
    LocalMinute {
        year: d.get_full_year() as i32,
        month: d.get_month() + 1,
        day: d.get_date(),
        hour: d.get_hours(),
        minute: d.get_minutes(),
    }
}

/// Bounds on the offset between the server's clock and the browser's (server minus browser,
/// ms), narrowed by every answer: the server stamped its `Date` (whole seconds) somewhere
/// between our request leaving and its answer arriving.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ClockSync {
    bounds: Option<(f64, f64)>,
}

impl ClockSync {
    /// Takes one answer: sent and received at these browser times, stamped `date_ms`.
    pub fn sample(&mut self, sent_ms: f64, received_ms: f64, date_ms: f64) {
        let low = date_ms - received_ms;
        let high = date_ms + 1000.0 - sent_ms;
        self.bounds = Some(match self.bounds {
            Some((l, h)) if l.max(low) <= h.min(high) => (l.max(low), h.min(high)),
            // The bounds no longer meet: one of the clocks was stepped (NTP, a laptop
            // waking up); start again from this answer.
            _ => (low, high),
        });
    }

    /// The best estimate of server minus browser, in ms (0 before any answer).
    pub fn offset_ms(&self) -> f64 {
        self.bounds.map(|(l, h)| (l + h) / 2.0).unwrap_or(0.0)
    }
}

thread_local! {
    static SERVER_CLOCK: Cell<ClockSync> = const { Cell::new(ClockSync { bounds: None }) };
}

/// Records one answer of our server (see [`ClockSync::sample`]).
pub fn server_date_seen(sent_ms: f64, received_ms: f64, date_header: &str) {
    let date_ms = js_sys::Date::parse(date_header);
    if date_ms.is_finite() {
        SERVER_CLOCK.with(|c| {
            let mut s = c.get();
            s.sample(sent_ms, received_ms, date_ms);
            c.set(s);
        });
    }
}

/// Unix seconds now by the server's clock (the browser's corrected by the measured offset).
pub fn server_now_secs() -> i64 {
    let offset = SERVER_CLOCK.with(|c| c.get().offset_ms());
    ((now_ms() + offset) / 1000.0).floor() as i64
}

/// Calls `f` every `ms` milliseconds while the calling component lives.
pub fn every(ms: u64, f: impl Fn() + 'static) {
    if let Ok(handle) = set_interval_with_handle(f, Duration::from_millis(ms)) {
        on_cleanup(move || handle.clear());
    }
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[cfg(test)]
mod tests {
    use super::ClockSync;

    #[test]
    fn the_offset_narrows_with_answers_and_restarts_after_a_clock_step() {
        let mut c = ClockSync::default();
        assert_eq!(c.offset_ms(), 0.0);
        // Server 60 s ahead; the answer took 200 ms, stamped at the whole second.
        c.sample(1_000.0, 1_200.0, 61_000.0);
        assert_eq!(c.offset_ms(), (59_800.0 + 61_000.0) / 2.0);
        // Answers stamped just after and just before a second boundary narrow the window
        // from both sides.
        c.sample(5_950.0, 6_050.0, 66_000.0);
        c.sample(8_900.0, 8_990.0, 68_000.0);
        let o = c.offset_ms();
        assert!((59_950.0..=60_100.0).contains(&o), "{o}");
        // A later answer that agrees keeps the estimate.
        c.sample(3_610_000.0, 3_610_100.0, 3_670_000.0);
        let o = c.offset_ms();
        assert!((59_950.0..=60_100.0).contains(&o), "{o}");
        // The browser's clock is set an hour ahead: the old bounds cannot hold, the new
        // answer rules.
        c.sample(3_700_000.0, 3_700_100.0, 100_000.0);
        assert!(c.offset_ms() < -3_500_000.0);
    }
}
