//! VICIdial's own agent screen in a hidden frame: a form POST into a named `<iframe>`, so the
//! agent's password goes in a request body, never in a URL.

use dialdeck_shared::ScreenLoginForm;
use wasm_bindgen::JsCast;
use web_sys::{HtmlFormElement, HtmlInputElement};

/// POSTs VICIdial's login form into the frame named `target`, with this window's size as
/// `JS_browser_width` / `JS_browser_height` (VICIdial lays its screen out for them).
pub fn post_screen_login(target: &str, form: &ScreenLoginForm) -> Result<(), String> {
    let window = web_sys::window().ok_or("no window")?;
    let size = |v: Result<wasm_bindgen::JsValue, _>| {
        v.ok()
            .and_then(|v| v.as_f64())
            .map(|px| (px as u32).to_string())
    };
    let (width, height) = (size(window.inner_width()), size(window.inner_height()));
    let fields: Vec<(&str, &str)> = form
        .fields
        .iter()
        .map(|f| {
            let value = match f.name.as_str() {
                "JS_browser_width" => width.as_deref(),
                "JS_browser_height" => height.as_deref(),
                _ => None,
            };
            (f.name.as_str(), value.unwrap_or(f.value.as_str()))
        })
        .collect();
    post_to_frame(target, &form.url, &fields)
}

/// POSTs `fields` to `action` into the frame named `target`.
pub fn post_to_frame(target: &str, action: &str, fields: &[(&str, &str)]) -> Result<(), String> {
    let err = |e: wasm_bindgen::JsValue| format!("{e:?}");
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let form: HtmlFormElement = doc.create_element("form").map_err(err)?.unchecked_into();
    form.set_method("post");
    form.set_action(action);
    form.set_target(target);
    form.set_hidden(true);
    for (name, value) in fields {
        let input: HtmlInputElement = doc.create_element("input").map_err(err)?.unchecked_into();
        input.set_type("hidden");
        input.set_name(name);
        input.set_value(value);
        form.append_child(&input).map_err(err)?;
    }
    let body = doc.body().ok_or("no body")?;
    body.append_child(&form).map_err(err)?;
    let submitted = form.submit().map_err(err);
    form.remove();
    submitted
}
