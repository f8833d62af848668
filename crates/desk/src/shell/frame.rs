//! VICIdial's own agent screen in a hidden frame: a form POST into a named `<iframe>`, so the
//! agent's password goes in a request body, never in a URL, and never stays in the page: the
//! form is removed as soon as it is submitted.

use dialdeck_shared::FormField;
use wasm_bindgen::JsCast;
use web_sys::{HtmlFormElement, HtmlInputElement};

/// POSTs `fields` to `action` into the frame named `target`.
pub fn post_to_frame(target: &str, action: &str, fields: &[FormField]) -> Result<(), String> {
    let err = |e: wasm_bindgen::JsValue| format!("{e:?}");
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let form: HtmlFormElement = doc.create_element("form").map_err(err)?.unchecked_into();
    form.set_method("post");
    form.set_action(action);
    form.set_target(target);
    form.set_hidden(true);
    for field in fields {
        let input: HtmlInputElement = doc.create_element("input").map_err(err)?.unchecked_into();
        input.set_type("hidden");
        input.set_name(&field.name);
        input.set_value(&field.value);
        form.append_child(&input).map_err(err)?;
    }
    let body = doc.body().ok_or("no body")?;
    body.append_child(&form).map_err(err)?;
    let submitted = form.submit().map_err(err);
    form.remove();
    submitted
}

/// The window's inner width and height in CSS pixels (VICIdial's login form sends them as
/// `JS_browser_width` / `JS_browser_height` and sizes its screen by them).
pub fn inner_size() -> (u32, u32) {
    let Some(w) = web_sys::window() else {
        return (1366, 768);
    };
    let px = |v: Result<wasm_bindgen::JsValue, _>, default: u32| {
        v.ok()
            .and_then(|v| v.as_f64())
            .map(|f| f.max(1.0) as u32)
            .unwrap_or(default)
    };
    (px(w.inner_width(), 1366), px(w.inner_height(), 768))
}
