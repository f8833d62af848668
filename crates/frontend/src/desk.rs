//! The bridge to the desk module. `index.html` defines `window.dialdeckDesk` (a few lines of
//! JavaScript, allowed by hash in the CSP): `prefetch()` imports the desk's JS and compiles
//! and instantiates its wasm without starting it, `start(config, profile)` does the same if
//! needed and mounts the desk. Dynamic `import()` is syntax, so it cannot be called from
//! Rust directly; this is the only JavaScript of the app outside wasm-bindgen's glue.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The name of the mark set when the login page is interactive (the bench reads it).
pub const LOGIN_READY_MARK: &str = "dialdeck:login-ready";

fn method(name: &str) -> Result<(JsValue, Function), String> {
    let window = web_sys::window().ok_or("no window")?;
    let desk = Reflect::get(&window, &"dialdeckDesk".into())
        .ok()
        .filter(|d| d.is_object())
        .ok_or("the page has no desk loader")?;
    let f = Reflect::get(&desk, &name.into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or("the desk loader is incomplete")?;
    Ok((desk, f))
}

fn describe(e: JsValue) -> String {
    e.as_string()
        .or_else(|| {
            Reflect::get(&e, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| "unknown error".into())
}

/// The login page is interactive: marks the moment and starts fetching the desk while the
/// agent types (errors are left for [`start`], which tries again).
pub fn login_ready() {
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.mark(LOGIN_READY_MARK);
    }
    if let Ok((desk, prefetch)) = method("prefetch") {
        let _ = prefetch.call0(&desk);
    }
}

/// Loads the desk module (unless prefetched) and mounts the desk for `profile` (the JSON of
/// `/api/me` or `/api/login`, as the browser parsed it); `config` is `/api/config`'s JSON,
/// or `null` when it is not known (the desk then asks for it).
pub async fn start(config: &JsValue, profile: &JsValue) -> Result<(), String> {
    let (desk, start) = method("start")?;
    let promise: Promise = start
        .call2(&desk, config, profile)
        .map_err(describe)?
        .dyn_into()
        .map_err(|_| "the desk loader returned no promise".to_string())?;
    JsFuture::from(promise).await.map(|_| ()).map_err(describe)
}
