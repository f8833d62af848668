//! The browser's Back button.

use leptos::prelude::{on_cleanup, window_event_listener};
use wasm_bindgen::JsValue;

fn push_entry() {
    if let Some(h) = web_sys::window().and_then(|w| w.history().ok()) {
        let _ = h.push_state_with_url(&JsValue::from_str("dialdeck-hold"), "", None);
    }
}

/// While the calling component lives, Back stays on the page: an extra history entry is
/// pushed now, and again each time Back (`popstate`) uses it up.
pub fn hold_back() {
    push_entry();
    let handle = window_event_listener(leptos::ev::popstate, move |_| push_entry());
    on_cleanup(move || handle.remove());
}
