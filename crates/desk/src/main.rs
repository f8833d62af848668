//! dialdeck's desk: the second wasm module, loaded by the login page (`crates/frontend`)
//! once an agent is logged in, and fetched while the agent types. `shell/` is the only code
//! that touches web-sys; `ui/` holds the Leptos components, which read signals and send
//! commands.
//!
//! Instantiating the module runs nothing (so the login page can compile it ahead of time);
//! [`start`] mounts the desk.

mod phone;
mod shell;
mod ui;

use wasm_bindgen::prelude::*;

/// Mounts the desk for `profile` (`/api/me`'s or `/api/login`'s JSON as the browser parsed
/// it); `config` is `/api/config`'s JSON, or `null` when the login page did not get it.
#[wasm_bindgen]
pub fn start(config: JsValue, profile: JsValue) -> Result<(), JsValue> {
    let profile = serde_wasm_bindgen::from_value(profile)?;
    let config = if config.is_null() || config.is_undefined() {
        None
    } else {
        Some(serde_wasm_bindgen::from_value(config)?)
    };
    leptos::mount::mount_to_body(move || {
        leptos::prelude::view! { <ui::DeskApp config=config profile=profile /> }
    });
    Ok(())
}

/// Nothing runs at instantiation: see the module documentation.
fn main() {}
