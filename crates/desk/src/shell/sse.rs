//! Server-sent events from our own server (`EventSource`, same origin, cookies included).
//! The browser reconnects by itself after a drop; `on_link` reports the connection state.

use serde::de::DeserializeOwned;
use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{EventSource, MessageEvent};

/// An open event stream; closed (handlers detached) when dropped.
pub struct EventStream {
    source: EventSource,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_link: [Closure<dyn FnMut()>; 2],
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.source.set_onopen(None);
        self.source.set_onerror(None);
        self.source.close();
    }
}

/// Listens to `event` on `url`, decoding each message's JSON data, until the returned stream
/// is dropped.
pub fn listen<T: DeserializeOwned + 'static>(
    url: &str,
    event: &str,
    on_event: impl Fn(T) + 'static,
    on_link: impl Fn(bool) + 'static,
) -> Result<EventStream, String> {
    let source = EventSource::new(url).map_err(|e| format!("{e:?}"))?;
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |m: MessageEvent| {
        let Some(text) = m.data().as_string() else {
            return;
        };
        let Ok(json) = js_sys::JSON::parse(&text) else {
            return;
        };
        if let Ok(value) = serde_wasm_bindgen::from_value::<T>(json) {
            on_event(value);
        }
    });
    source
        .add_event_listener_with_callback(event, on_message.as_ref().unchecked_ref())
        .map_err(|e| format!("{e:?}"))?;
    let on_link = std::rc::Rc::new(on_link);
    let up = on_link.clone();
    let on_open = Closure::<dyn FnMut()>::new(move || up(true));
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    let on_error = Closure::<dyn FnMut()>::new(move || on_link(false));
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Ok(EventStream {
        source,
        _on_message: on_message,
        _on_link: [on_open, on_error],
    })
}
