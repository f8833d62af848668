//! Keyboard focus: moving it, cycling it inside a dialog, and keeping it there.

use leptos::prelude::{on_cleanup, window_event_listener};
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, HtmlElement, HtmlInputElement};

/// What Tab can reach.
const FOCUSABLE: &str =
    "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), \
    select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

fn document() -> Option<Document> {
    web_sys::window()?.document()
}

fn by_id(id: &str) -> Option<Element> {
    document()?.get_element_by_id(id)
}

/// Focuses the element with this id; false when there is none.
pub fn focus_id(id: &str) -> bool {
    by_id(id)
        .and_then(|e| e.dyn_into::<HtmlElement>().ok())
        .map(|e| e.focus().is_ok())
        .unwrap_or(false)
}

/// The elements of `container` Tab stops at, in order: visible, enabled, and one per radio
/// group (its checked button, else its first), as the browser's own Tab order has them.
fn tab_stops(container: &Element) -> Vec<HtmlElement> {
    let Ok(list) = container.query_selector_all(FOCUSABLE) else {
        return Vec::new();
    };
    let mut stops: Vec<HtmlElement> = Vec::new();
    let mut groups: Vec<(String, usize)> = Vec::new();
    for i in 0..list.length() {
        let Some(el) = list.item(i).and_then(|n| n.dyn_into::<HtmlElement>().ok()) else {
            continue;
        };
        if el.get_client_rects().length() == 0 {
            continue;
        }
        if let Some(radio) = el
            .dyn_ref::<HtmlInputElement>()
            .filter(|r| r.type_() == "radio")
        {
            let name = radio.name();
            match groups.iter().find(|(n, _)| *n == name) {
                Some(&(_, at)) => {
                    if radio.checked() {
                        stops[at] = el;
                    }
                    continue;
                }
                None => groups.push((name, stops.len())),
            }
        }
        stops.push(el);
    }
    stops
}

/// Focuses the first Tab stop inside the element with id `container`.
pub fn focus_first(container: &str) -> bool {
    by_id(container)
        .and_then(|c| tab_stops(&c).into_iter().next())
        .map(|e| e.focus().is_ok())
        .unwrap_or(false)
}

/// Moves focus to the next (or previous) Tab stop inside `container`, wrapping around at
/// the ends: Tab never leaves it.
pub fn cycle(container: &str, backwards: bool) {
    let Some(c) = by_id(container) else { return };
    let stops = tab_stops(&c);
    if stops.is_empty() {
        return;
    }
    let active = document().and_then(|d| d.active_element());
    let at = active.and_then(|a| stops.iter().position(|s| **s == a));
    let next = match (at, backwards) {
        (Some(i), false) => (i + 1) % stops.len(),
        (Some(i), true) => (i + stops.len() - 1) % stops.len(),
        (None, false) => 0,
        (None, true) => stops.len() - 1,
    };
    let _ = stops[next].focus();
}

/// Whether focus is inside the element with id `container`.
pub fn is_inside(container: &str) -> bool {
    let (Some(c), Some(a)) = (
        by_id(container),
        document().and_then(|d| d.active_element()),
    ) else {
        return false;
    };
    c.contains(Some(&a))
}

/// While the calling component lives, focus that lands outside `container` (a click on the
/// backdrop, a script, the browser's own chrome) is brought back into it.
pub fn keep_inside(container: &'static str) {
    let handle = window_event_listener(leptos::ev::focusin, move |_| {
        if by_id(container).is_some() && !is_inside(container) {
            focus_first(container);
        }
    });
    on_cleanup(move || handle.remove());
}

/// Focuses the element with this id once the page has rendered the current change (a
/// component that just appeared is not in the DOM yet when its signal is set).
pub fn focus_soon(id: &'static str) {
    leptos::prelude::request_animation_frame(move || {
        focus_id(id);
    });
}

/// Like [`focus_soon`], for the first Tab stop inside `container`.
pub fn focus_first_soon(container: &'static str) {
    leptos::prelude::request_animation_frame(move || {
        focus_first(container);
    });
}
