//! Reads a `getStats()` report into the plain numbers the phone's quality logic uses.

use js_sys::Reflect;
use wasm_bindgen::{closure::Closure, JsCast, JsValue};

use crate::phone::quality::RawStats;

fn num(obj: &JsValue, key: &str) -> Option<f64> {
    Reflect::get(obj, &JsValue::from_str(key)).ok()?.as_f64()
}

fn text(obj: &JsValue, key: &str) -> String {
    Reflect::get(obj, &JsValue::from_str(key))
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

/// The audio figures of one `RTCStatsReport` (a maplike: iterated with `forEach`).
pub fn read(report: &JsValue, at_ms: f64) -> RawStats {
    let acc = std::rc::Rc::new(std::cell::RefCell::new(RawStats {
        at_ms,
        ..RawStats::default()
    }));
    let cell = acc.clone();
    // codec id -> mimeType, and the inbound stream's codec id, resolved at the end.
    let codecs = std::rc::Rc::new(std::cell::RefCell::new((
        Vec::<(String, String)>::new(),
        String::new(),
    )));
    let codecs2 = codecs.clone();
    let cb = Closure::<dyn FnMut(JsValue)>::new(move |stat: JsValue| {
        let mut s = cell.borrow_mut();
        let kind = text(&stat, "kind");
        match text(&stat, "type").as_str() {
            "codec" => {
                codecs2
                    .borrow_mut()
                    .0
                    .push((text(&stat, "id"), text(&stat, "mimeType")));
            }
            "inbound-rtp" if kind == "audio" => {
                codecs2.borrow_mut().1 = text(&stat, "codecId");
                s.packets_received = num(&stat, "packetsReceived").unwrap_or(0.0) as u64;
                s.bytes_received = num(&stat, "bytesReceived").unwrap_or(0.0) as u64;
                s.packets_lost = num(&stat, "packetsLost").unwrap_or(0.0) as i64;
                s.jitter_s = num(&stat, "jitter").unwrap_or(0.0);
                s.audio_level_in = num(&stat, "audioLevel").unwrap_or(0.0);
            }
            "outbound-rtp" if kind == "audio" => {
                s.packets_sent = num(&stat, "packetsSent").unwrap_or(0.0) as u64;
                s.bytes_sent = num(&stat, "bytesSent").unwrap_or(0.0) as u64;
            }
            "media-source" if kind == "audio" => {
                s.audio_level_out = num(&stat, "audioLevel").unwrap_or(0.0);
            }
            "remote-inbound-rtp" if kind == "audio" => {
                if let Some(rtt) = num(&stat, "roundTripTime") {
                    s.rtt_s = Some(rtt);
                }
            }
            "candidate-pair" => {
                let selected = Reflect::get(&stat, &JsValue::from_str("nominated"))
                    .ok()
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false)
                    && text(&stat, "state") == "succeeded";
                if selected {
                    if let (None, Some(rtt)) = (s.rtt_s, num(&stat, "currentRoundTripTime")) {
                        s.rtt_s = Some(rtt);
                    }
                }
            }
            "transport" => {
                s.dtls_state = text(&stat, "dtlsState");
            }
            _ => {}
        }
    });
    if let Ok(for_each) = Reflect::get(report, &JsValue::from_str("forEach"))
        .and_then(|f| f.dyn_into::<js_sys::Function>())
    {
        let _ = for_each.call1(report, cb.as_ref());
    }
    drop(cb);
    let mut s = acc.borrow().clone();
    let (list, id) = &*codecs.borrow();
    if let Some((_, mime)) = list.iter().find(|(i, _)| i == id) {
        s.codec = mime.trim_start_matches("audio/").to_string();
    }
    s
}
