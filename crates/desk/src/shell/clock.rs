//! Time, timers, randomness and small browser storage for the phone.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::{closure::Closure, JsCast, JsValue};

fn window() -> web_sys::Window {
    web_sys::window().expect("a browser window")
}

/// Milliseconds since the page loaded (`performance.now()`), monotonic.
pub fn now_ms() -> f64 {
    window().performance().map(|p| p.now()).unwrap_or_default()
}

/// A 64-bit seed from `crypto.getRandomValues` (the SIP core's randomness is seeded from it).
pub fn random_seed() -> u64 {
    let mut buf = [0u8; 8];
    if let Ok(crypto) = window().crypto() {
        let _ = crypto.get_random_values_with_u8_array(&mut buf);
    }
    let seed = u64::from_le_bytes(buf);
    if seed == 0 {
        // No crypto (cannot happen in a secure context); still distinct per page load.
        (js_sys::Math::random() * u64::MAX as f64) as u64 ^ now_ms().to_bits()
    } else {
        seed
    }
}

/// A pending `setTimeout`; cleared when dropped.
pub struct Timer {
    id: i32,
    _cb: Closure<dyn FnMut()>,
}

impl Timer {
    /// Calls `f` once after `ms` milliseconds.
    pub fn once(ms: f64, f: impl FnOnce() + 'static) -> Timer {
        let cb = Closure::once(f);
        let id = window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                cb.as_ref().unchecked_ref(),
                ms.clamp(0.0, 2_147_483_647.0) as i32,
            )
            .unwrap_or(0);
        Timer { id, _cb: cb }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        window().clear_timeout_with_handle(self.id);
    }
}

/// A repeating `setInterval`; cleared when dropped.
pub struct Interval {
    id: i32,
    _cb: Closure<dyn FnMut()>,
}

impl Interval {
    /// Calls `f` every `ms` milliseconds.
    pub fn every(ms: i32, f: impl FnMut() + 'static) -> Interval {
        let cb = Closure::<dyn FnMut()>::new(f);
        let id = window()
            .set_interval_with_callback_and_timeout_and_arguments_0(cb.as_ref().unchecked_ref(), ms)
            .unwrap_or(0);
        Interval { id, _cb: cb }
    }
}

impl Drop for Interval {
    fn drop(&mut self) {
        window().clear_interval_with_handle(self.id);
    }
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// `localStorage[key]`, if storage is available.
pub fn load(key: &str) -> Option<String> {
    window().local_storage().ok()??.get_item(key).ok()?
}

/// Sets `localStorage[key]`; storage errors (private mode, quota) are ignored: the value is
/// only a preference.
pub fn store(key: &str, value: &str) {
    if let Ok(Some(s)) = window().local_storage() {
        let _ = s.set_item(key, value);
    }
}

/// The events that count as a user gesture (they unlock audio playback).
const GESTURES: [&str; 2] = ["pointerdown", "keydown"];

/// Calls `f` on every click or key press anywhere in the page until dropped.
pub struct Gestures {
    cb: Closure<dyn FnMut(JsValue)>,
}

impl Gestures {
    /// Starts listening on the document.
    pub fn listen(f: impl FnMut() + 'static) -> Gestures {
        let f = Rc::new(RefCell::new(f));
        let cb = Closure::<dyn FnMut(JsValue)>::new(move |_| (f.borrow_mut())());
        if let Some(doc) = window().document() {
            for ev in GESTURES {
                let _ = doc.add_event_listener_with_callback(ev, cb.as_ref().unchecked_ref());
            }
        }
        Gestures { cb }
    }
}

impl Drop for Gestures {
    fn drop(&mut self) {
        if let Some(doc) = window().document() {
            for ev in GESTURES {
                let _ =
                    doc.remove_event_listener_with_callback(ev, self.cb.as_ref().unchecked_ref());
            }
        }
    }
}

/// Offers `text` as a file download named `name` (a Blob and a temporary link).
pub fn download_text(name: &str, text: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type("text/plain");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts)
        .map_err(|e| format!("{e:?}"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))?;
    let doc = window().document().ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = doc
        .create_element("a")
        .map_err(|e| format!("{e:?}"))?
        .unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    a.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}
