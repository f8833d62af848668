//! The SIP WebSocket (RFC 7118: subprotocol `sip`, one message per text frame).

use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// What the socket reports.
pub enum SocketEvent {
    /// The handshake completed with the `sip` subprotocol.
    Open,
    /// A text frame.
    Text(String),
    /// The socket closed (or never opened); `why` is for the trace.
    Closed {
        /// Close code and reason, or the failure.
        why: String,
    },
}

/// One WebSocket with its handlers; closed (handlers detached first) when dropped.
pub struct SipSocket {
    ws: WebSocket,
    _handlers: [Closure<dyn FnMut(JsValue)>; 3],
}

impl SipSocket {
    /// Opens `url` with the `sip` subprotocol; every event goes to `on_event`.
    pub fn open(
        url: &str,
        on_event: impl Fn(SocketEvent) + Clone + 'static,
    ) -> Result<Self, String> {
        let ws = WebSocket::new_with_str(url, "sip").map_err(|e| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
                .unwrap_or_else(|| "cannot open the WebSocket".into())
        })?;
        let f = on_event.clone();
        let ws2 = ws.clone();
        let open = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            if ws2.protocol() == "sip" {
                f(SocketEvent::Open);
            } else {
                // RFC 7118 §4: a server that did not accept `sip` cannot carry SIP.
                let _ = ws2.close();
                f(SocketEvent::Closed {
                    why: "the server did not accept the sip subprotocol".into(),
                });
            }
        });
        let f = on_event.clone();
        let message = Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
            let ev: MessageEvent = ev.unchecked_into();
            if let Some(text) = ev.data().as_string() {
                f(SocketEvent::Text(text));
            }
        });
        let f = on_event;
        let close = Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
            let ev: CloseEvent = ev.unchecked_into();
            f(SocketEvent::Closed {
                why: format!("WebSocket closed ({} {})", ev.code(), ev.reason()),
            });
        });
        ws.set_onopen(Some(open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(close.as_ref().unchecked_ref()));
        Ok(SipSocket {
            ws,
            _handlers: [open, message, close],
        })
    }

    /// Sends one text frame; false if the socket cannot take it.
    pub fn send(&self, text: &str) -> bool {
        self.ws.send_with_str(text).is_ok()
    }
}

impl Drop for SipSocket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}
