//! Key presses, read once into plain data the components decide on.

use leptos::prelude::{on_cleanup, window_event_listener};
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, HtmlInputElement, KeyboardEvent};

/// One key press.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPress {
    /// `KeyboardEvent.key`: `"F2"`, `"Escape"`, `"Tab"`, `"1"`, `"Enter"`...
    pub key: String,
    /// Ctrl held.
    pub ctrl: bool,
    /// Alt held.
    pub alt: bool,
    /// Shift held.
    pub shift: bool,
    /// Meta (Cmd, Windows key) held.
    pub meta: bool,
    /// The key went to a field that takes text (typing there is not a shortcut).
    pub in_text: bool,
}

impl KeyPress {
    /// Reads a `keydown` event.
    pub fn of(ev: &KeyboardEvent) -> KeyPress {
        KeyPress {
            key: ev.key(),
            ctrl: ev.ctrl_key(),
            alt: ev.alt_key(),
            shift: ev.shift_key(),
            meta: ev.meta_key(),
            in_text: ev
                .target()
                .and_then(|t| t.dyn_into::<HtmlElement>().ok())
                .is_some_and(|el| takes_text(&el)),
        }
    }

    /// No Ctrl, Alt or Meta (Shift may be needed for `*` and `#`).
    pub fn plain(&self) -> bool {
        !self.ctrl && !self.alt && !self.meta
    }
}

fn takes_text(el: &HtmlElement) -> bool {
    match el.tag_name().as_str() {
        "TEXTAREA" | "SELECT" => true,
        "INPUT" => el.dyn_ref::<HtmlInputElement>().is_some_and(|i| {
            !matches!(
                i.type_().as_str(),
                "radio" | "checkbox" | "button" | "submit" | "reset"
            )
        }),
        _ => el.is_content_editable(),
    }
}

/// Stops the browser's own handling of this key (and its bubbling to page shortcuts).
pub fn consume(ev: &KeyboardEvent) {
    ev.prevent_default();
    ev.stop_propagation();
}

/// While the calling component lives, every key press in the page goes to `f`; when `f`
/// returns true the key was a shortcut and the browser's default is stopped.
pub fn on_shortcut(f: impl Fn(&KeyPress) -> bool + 'static) {
    let handle = window_event_listener(leptos::ev::keydown, move |ev: KeyboardEvent| {
        if !ev.default_prevented() && f(&KeyPress::of(&ev)) {
            ev.prevent_default();
        }
    });
    on_cleanup(move || handle.remove());
}
