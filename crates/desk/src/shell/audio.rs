//! Sound for the phone's readiness check: one AudioContext with a level meter (an
//! AnalyserNode on a microphone stream, never connected to the speakers) and a test tone (an
//! OscillatorNode) played through an audio element on the chosen speaker with `setSinkId`,
//! the path the call's own audio takes.

use std::cell::RefCell;

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AnalyserNode, AudioContext, AudioContextState, GainNode, HtmlAudioElement, MediaStream,
    MediaStreamAudioSourceNode, OscillatorNode,
};

use super::rtc::describe_js as js_error;
use crate::phone::readiness::level_of;

/// The check's AudioContext; closed by [`Sound::close`] or when dropped.
pub struct Sound {
    ctx: AudioContext,
}

impl Sound {
    /// A new context (browsers may hold it suspended until the page gets a click).
    pub fn new() -> Result<Sound, String> {
        AudioContext::new()
            .map(|ctx| Sound { ctx })
            .map_err(|e| js_error("AudioContext", e))
    }

    /// Whether the audio graph runs.
    pub fn running(&self) -> bool {
        self.ctx.state() == AudioContextState::Running
    }

    /// Asks the browser to run the graph (granted during or after a user gesture).
    pub fn resume(&self) {
        if self.ctx.state() == AudioContextState::Suspended {
            let _ = self.ctx.resume();
        }
    }

    /// A level meter on `stream`'s audio.
    pub fn meter(&self, stream: &MediaStream) -> Result<Meter, String> {
        let source = self
            .ctx
            .create_media_stream_source(stream)
            .map_err(|e| js_error("createMediaStreamSource", e))?;
        let analyser = self
            .ctx
            .create_analyser()
            .map_err(|e| js_error("createAnalyser", e))?;
        // The meter reads the peak of the analyser's window every 100 ms: a window shorter
        // than that misses what falls between readings (a short consonant, or the 20 ms
        // beeps of Chromium's fake microphone, which a short window at a fixed tick can miss
        // for good). 8192 samples are 170 ms at 48 kHz and 186 ms at 44.1 kHz.
        analyser.set_fft_size(8192);
        source
            .connect_with_audio_node(&analyser)
            .map_err(|e| js_error("connect", e))?;
        let size = analyser.fft_size() as usize;
        Ok(Meter {
            source,
            analyser,
            samples: RefCell::new(vec![128; size]),
        })
    }

    /// A test tone of `ms` milliseconds, ready to [`Tone::play`].
    pub fn tone(&self, ms: u32) -> Result<Tone, String> {
        let fail = |e| js_error("test tone", e);
        let osc = self.ctx.create_oscillator().map_err(fail)?;
        osc.frequency().set_value(660.0);
        let gain = self.ctx.create_gain().map_err(fail)?;
        let dest = self.ctx.create_media_stream_destination().map_err(fail)?;
        osc.connect_with_audio_node(&gain).map_err(fail)?;
        gain.connect_with_audio_node(&dest).map_err(fail)?;
        // Short ramps at both ends: no click in the agent's ear.
        let (t, end) = (self.ctx.current_time(), f64::from(ms) / 1000.0);
        let g = gain.gain();
        g.set_value_at_time(0.0, t).map_err(fail)?;
        g.linear_ramp_to_value_at_time(0.3, t + 0.03)
            .map_err(fail)?;
        g.set_value_at_time(0.3, t + end - 0.05).map_err(fail)?;
        g.linear_ramp_to_value_at_time(0.0, t + end).map_err(fail)?;
        osc.start().map_err(fail)?;
        osc.stop_with_when(t + end).map_err(fail)?;
        let audio = HtmlAudioElement::new().map_err(fail)?;
        audio.set_src_object(Some(&dest.stream()));
        Ok(Tone { osc, gain, audio })
    }

    /// Closes the context (and with it every node of the check).
    pub fn close(&self) {
        if self.ctx.state() != AudioContextState::Closed {
            let _ = self.ctx.close();
        }
    }
}

impl Drop for Sound {
    fn drop(&mut self) {
        self.close();
    }
}

/// An AnalyserNode on a microphone.
pub struct Meter {
    source: MediaStreamAudioSourceNode,
    analyser: AnalyserNode,
    samples: RefCell<Vec<u8>>,
}

impl Meter {
    /// The current level, 0 to 100.
    pub fn level(&self) -> u8 {
        let mut samples = self.samples.borrow_mut();
        self.analyser.get_byte_time_domain_data(&mut samples);
        level_of(&samples)
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        let _ = self.source.disconnect();
    }
}

/// A test tone routed to an audio element.
pub struct Tone {
    osc: OscillatorNode,
    gain: GainNode,
    audio: HtmlAudioElement,
}

impl Tone {
    /// Plays on `output` (a `deviceId`; the default speaker where the browser cannot choose);
    /// the future holds its own handle on the element, so it may outlive a borrow.
    pub fn play(
        &self,
        output: Option<String>,
    ) -> impl std::future::Future<Output = Result<(), String>> + 'static {
        let audio = self.audio.clone();
        async move {
            let set_sink = js_sys::Reflect::get(&audio, &JsValue::from_str("setSinkId"))
                .ok()
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
            if let (Some(set_sink), Some(id)) = (set_sink, output.filter(|id| !id.is_empty())) {
                let p = set_sink
                    .call1(&audio, &JsValue::from_str(&id))
                    .map_err(|e| js_error("setSinkId", e))?;
                JsFuture::from(js_sys::Promise::from(p))
                    .await
                    .map_err(|e| js_error("the chosen speaker", e))?;
            }
            let p = audio.play().map_err(|e| js_error("play", e))?;
            JsFuture::from(p)
                .await
                .map(|_| ())
                .map_err(|e| js_error("play", e))
        }
    }
}

impl Drop for Tone {
    fn drop(&mut self) {
        let _ = self.osc.stop();
        let _ = self.osc.disconnect();
        let _ = self.gain.disconnect();
        let _ = self.audio.pause();
        self.audio.set_src_object(None);
    }
}
