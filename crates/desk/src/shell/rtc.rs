//! The call's media: one RTCPeerConnection with one audio transceiver, the microphone
//! (getUserMedia with echo cancellation and noise suppression) and the remote audio element.
//!
//! Everything here is asked for by the SIP core's media actions; the SDP is produced and
//! consumed here and carried, never parsed, by the core.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    HtmlAudioElement, MediaStream, MediaStreamConstraints, MediaStreamTrack, RtcIceGatheringState,
    RtcOfferOptions, RtcPeerConnection, RtcPeerConnectionIceEvent, RtcRtpTransceiver,
    RtcRtpTransceiverDirection, RtcSdpType, RtcSessionDescriptionInit, RtcTrackEvent,
};

use super::clock::{now_ms, sleep};

/// Codecs we offer, in order of preference (VICIdial's trunks are G.711; Opus between
/// browsers), plus RFC 4733 events for DTMF.
const CODECS: &[&str] = &[
    "audio/opus",
    "audio/PCMU",
    "audio/PCMA",
    "audio/telephone-event",
];

/// What the peer connection reports, for the phone's state and the call trace.
pub enum PeerEvent {
    /// ICE, DTLS or connection state changed: (`ice`|`connection`, new state).
    State(&'static str, String),
    /// The remote audio element could (`false`) or could not (`true`) start playing.
    PlaybackBlocked(bool),
}

/// Why a local description could not be produced.
#[derive(Debug)]
pub enum MediaError {
    /// ICE gathering found no candidate at all.
    NoCandidates,
    /// The microphone was denied or is missing, or the browser refused an operation.
    Failed(String),
}

impl MediaError {
    fn from_js(what: &str, e: JsValue) -> MediaError {
        MediaError::Failed(describe_js(what, e))
    }
}

/// `what: Name: message` of a browser exception.
pub(crate) fn describe_js(what: &str, e: JsValue) -> String {
    let detail = e
        .dyn_ref::<js_sys::Error>()
        .map(|e| format!("{}: {}", String::from(e.name()), String::from(e.message())))
        .unwrap_or_else(|| format!("{e:?}"));
    format!("{what}: {detail}")
}

impl std::fmt::Display for MediaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediaError::NoCandidates => f.write_str("no ICE candidates"),
            MediaError::Failed(why) => f.write_str(why),
        }
    }
}

/// Settings for a new peer connection.
pub struct PeerSettings {
    /// `stun:`/`turn:` URLs from the server's session configuration.
    pub ice_servers: Vec<String>,
    /// The microphone's `deviceId`, if the agent picked one.
    pub input_device: Option<String>,
    /// The speaker's `deviceId` (setSinkId), if the agent picked one.
    pub output_device: Option<String>,
    /// Time limit for ICE gathering, in milliseconds.
    pub gather_limit_ms: f64,
}

/// One call's peer connection and the browser objects that go with it.
pub struct Peer {
    pc: RtcPeerConnection,
    audio: HtmlAudioElement,
    mic: RefCell<Option<MediaStream>>,
    transceiver: RefCell<Option<RtcRtpTransceiver>>,
    /// A server-reflexive or relay candidate was gathered: gathering may end early.
    reflexive: Rc<Cell<bool>>,
    gather_limit_ms: f64,
    input_device: RefCell<Option<String>>,
    closed: Cell<bool>,
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Calls `obj.method(...args)`.
fn call(obj: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: js_sys::Function = get(obj, method).dyn_into()?;
    f.apply(obj, &args.iter().collect::<Array>())
}

async fn promise(v: Result<JsValue, JsValue>) -> Result<JsValue, JsValue> {
    JsFuture::from(js_sys::Promise::from(v?)).await
}

fn media_devices() -> Result<web_sys::MediaDevices, MediaError> {
    web_sys::window()
        .ok_or_else(|| MediaError::Failed("no window".into()))?
        .navigator()
        .media_devices()
        .map_err(|e| MediaError::from_js("no media devices (insecure origin?)", e))
}

/// Opens the microphone with echo cancellation, noise suppression and gain control.
pub async fn microphone(device: Option<&str>) -> Result<MediaStream, MediaError> {
    let audio = Object::new();
    for key in ["echoCancellation", "noiseSuppression", "autoGainControl"] {
        set(&audio, key, &JsValue::TRUE);
    }
    if let Some(id) = device {
        let exact = Object::new();
        set(&exact, "exact", &JsValue::from_str(id));
        set(&audio, "deviceId", &exact);
    }
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&audio);
    let p = media_devices()?
        .get_user_media_with_constraints(&constraints)
        .map_err(|e| MediaError::from_js("microphone", e))?;
    JsFuture::from(p)
        .await
        .map(JsCast::unchecked_into)
        .map_err(|e| MediaError::from_js("microphone", e))
}

/// The audio devices: `(kind, deviceId, label)` with kind `audioinput` or `audiooutput`.
pub async fn audio_devices() -> Vec<(String, String, String)> {
    let Ok(md) = media_devices() else {
        return vec![];
    };
    let Ok(list) = promise(md.enumerate_devices().map(JsValue::from)).await else {
        return vec![];
    };
    Array::from(&list)
        .iter()
        .filter_map(|d| {
            let kind = get(&d, "kind").as_string()?;
            kind.starts_with("audio").then(|| {
                let id = get(&d, "deviceId").as_string().unwrap_or_default();
                let label = get(&d, "label").as_string().unwrap_or_default();
                (kind, id, label)
            })
        })
        .collect()
}

/// Calls `f` when audio devices are plugged in or out (`devicechange`) until dropped.
pub struct DeviceWatch {
    cb: Option<Closure<dyn FnMut(JsValue)>>,
}

impl DeviceWatch {
    /// Starts watching (a no-op where the page has no media devices).
    pub fn start(mut f: impl FnMut() + 'static) -> DeviceWatch {
        let cb = media_devices().ok().map(|md| {
            let cb = Closure::<dyn FnMut(JsValue)>::new(move |_| f());
            let _ =
                md.add_event_listener_with_callback("devicechange", cb.as_ref().unchecked_ref());
            cb
        });
        DeviceWatch { cb }
    }
}

impl Drop for DeviceWatch {
    fn drop(&mut self) {
        if let (Some(cb), Ok(md)) = (&self.cb, media_devices()) {
            let _ =
                md.remove_event_listener_with_callback("devicechange", cb.as_ref().unchecked_ref());
        }
    }
}

/// Plays `audio`, reporting whether autoplay rules blocked it.
fn play(audio: &HtmlAudioElement, report: Rc<dyn Fn(PeerEvent)>) {
    let Ok(p) = audio.play() else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        let blocked = JsFuture::from(p).await.is_err();
        report(PeerEvent::PlaybackBlocked(blocked));
    });
}

/// A peer connection with these ICE servers, bundle policy max-bundle and rtcp-mux required.
fn peer_connection(ice_servers: &[String]) -> Result<RtcPeerConnection, MediaError> {
    let config = Object::new();
    let servers = Array::new();
    if !ice_servers.is_empty() {
        let server = Object::new();
        let urls: Array = ice_servers.iter().map(|u| JsValue::from_str(u)).collect();
        set(&server, "urls", &urls);
        servers.push(&server);
    }
    set(&config, "iceServers", &servers);
    set(&config, "bundlePolicy", &JsValue::from_str("max-bundle"));
    set(&config, "rtcpMuxPolicy", &JsValue::from_str("require"));
    RtcPeerConnection::new_with_configuration(config.unchecked_ref())
        .map_err(|e| MediaError::from_js("RTCPeerConnection", e))
}

impl Peer {
    /// A call's peer connection (see [`peer_connection`]) and its remote audio element.
    pub fn new(
        settings: PeerSettings,
        on_event: impl Fn(PeerEvent) + 'static,
    ) -> Result<Peer, MediaError> {
        let report: Rc<dyn Fn(PeerEvent)> = Rc::new(on_event);
        let pc = peer_connection(&settings.ice_servers)?;

        let doc = web_sys::window()
            .and_then(|w| w.document())
            .ok_or_else(|| MediaError::Failed("no document".into()))?;
        let audio: HtmlAudioElement = doc
            .create_element("audio")
            .map_err(|e| MediaError::from_js("audio element", e))?
            .unchecked_into();
        audio.set_autoplay(true);
        audio.set_id("phone-remote-audio");
        if let Some(body) = doc.body() {
            let _ = body.append_child(&audio);
        }
        if let Some(sink) = &settings.output_device {
            let _ = call(&audio, "setSinkId", &[JsValue::from_str(sink)]);
        }

        let mut handlers = Vec::new();
        let (a, r) = (audio.clone(), report.clone());
        let ontrack = Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
            let ev: RtcTrackEvent = ev.unchecked_into();
            let stream = ev
                .streams()
                .get(0)
                .dyn_into::<MediaStream>()
                .ok()
                .or_else(|| {
                    let s = MediaStream::new().ok()?;
                    s.add_track(&ev.track());
                    Some(s)
                });
            a.set_src_object(stream.as_ref());
            play(&a, r.clone());
        });
        pc.set_ontrack(Some(ontrack.as_ref().unchecked_ref()));
        handlers.push(ontrack);

        let reflexive = Rc::new(Cell::new(false));
        let refl = reflexive.clone();
        let onicecandidate = Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
            let ev: RtcPeerConnectionIceEvent = ev.unchecked_into();
            if let Some(c) = ev.candidate() {
                let c = c.candidate();
                if c.contains(" typ srflx") || c.contains(" typ relay") {
                    refl.set(true);
                }
            }
        });
        pc.set_onicecandidate(Some(onicecandidate.as_ref().unchecked_ref()));
        handlers.push(onicecandidate);

        for (kind, prop) in [
            ("ice", "iceConnectionState"),
            ("connection", "connectionState"),
        ] {
            let (p, r) = (pc.clone(), report.clone());
            let cb = Closure::<dyn FnMut(JsValue)>::new(move |_| {
                let state = get(&p, prop).as_string().unwrap_or_default();
                r(PeerEvent::State(kind, state));
            });
            set(&pc, &state_handler(prop), cb.as_ref());
            handlers.push(cb);
        }

        Ok(Peer {
            pc,
            audio,
            mic: RefCell::new(None),
            transceiver: RefCell::new(None),
            reflexive,
            gather_limit_ms: settings.gather_limit_ms,
            input_device: RefCell::new(settings.input_device),
            closed: Cell::new(false),
            _handlers: handlers,
        })
    }

    /// Opens the microphone and attaches it to the call's one audio transceiver (created for
    /// an offer, or the one the remote offer created), limited to [`CODECS`].
    async fn attach_microphone(&self) -> Result<(), MediaError> {
        if self.mic.borrow().is_some() {
            return Ok(());
        }
        let device = self.input_device.borrow().clone();
        let stream = microphone(device.as_deref()).await?;
        if self.closed.get() {
            stop_tracks(&stream);
            return Err(MediaError::Failed("the call ended".into()));
        }
        let track: MediaStreamTrack = stream.get_audio_tracks().get(0).unchecked_into();
        self.pc.add_track(&track, &stream, &Array::new());
        *self.mic.borrow_mut() = Some(stream);
        let transceiver: RtcRtpTransceiver = self.pc.get_transceivers().get(0).unchecked_into();
        transceiver.set_direction(RtcRtpTransceiverDirection::Sendrecv);
        set_codec_preferences(&transceiver);
        *self.transceiver.borrow_mut() = Some(transceiver);
        Ok(())
    }

    /// Creates a local offer (hold: `a=sendonly`; ICE restart: new credentials), sets it and
    /// waits for ICE gathering; returns the SDP with its candidates.
    pub async fn create_offer(&self, ice_restart: bool, hold: bool) -> Result<String, MediaError> {
        self.attach_microphone().await?;
        if let Some(t) = self.transceiver.borrow().as_ref() {
            t.set_direction(if hold {
                RtcRtpTransceiverDirection::Sendonly
            } else {
                RtcRtpTransceiverDirection::Sendrecv
            });
        }
        let opts = RtcOfferOptions::new();
        opts.set_ice_restart(ice_restart);
        let offer = JsFuture::from(self.pc.create_offer_with_rtc_offer_options(&opts))
            .await
            .map_err(|e| MediaError::from_js("createOffer", e))?;
        self.set_local(offer).await?;
        self.gather().await
    }

    /// Applies a remote offer, creates the answer, sets it and waits for ICE gathering.
    pub async fn create_answer(&self, remote_sdp: &str) -> Result<String, MediaError> {
        let desc = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
        desc.set_sdp(remote_sdp);
        JsFuture::from(self.pc.set_remote_description(&desc))
            .await
            .map_err(|e| MediaError::from_js("setRemoteDescription(offer)", e))?;
        self.attach_microphone().await?;
        let answer = JsFuture::from(self.pc.create_answer())
            .await
            .map_err(|e| MediaError::from_js("createAnswer", e))?;
        self.set_local(answer).await?;
        self.gather().await
    }

    /// Applies the remote answer to our offer.
    pub async fn apply_answer(&self, sdp: &str) -> Result<(), MediaError> {
        let local = self
            .pc
            .local_description()
            .map(|d| d.sdp())
            .unwrap_or_default();
        let desc = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
        desc.set_sdp(&bundle_single_section(sdp, &local));
        JsFuture::from(self.pc.set_remote_description(&desc))
            .await
            .map(|_| ())
            .map_err(|e| MediaError::from_js("setRemoteDescription(answer)", e))
    }

    /// Rolls back a local offer that was refused.
    pub async fn rollback(&self) {
        let desc = RtcSessionDescriptionInit::new(RtcSdpType::Rollback);
        let _ = JsFuture::from(self.pc.set_local_description(&desc)).await;
    }

    async fn set_local(&self, desc: JsValue) -> Result<(), MediaError> {
        JsFuture::from(self.pc.set_local_description(desc.unchecked_ref()))
            .await
            .map(|_| ())
            .map_err(|e| MediaError::from_js("setLocalDescription", e))
    }

    /// Waits for ICE gathering: until it completes, or shortly after a server-reflexive or
    /// relay candidate (enough to reach anyone), or the time limit. Then the local
    /// description must hold at least one candidate.
    async fn gather(&self) -> Result<String, MediaError> {
        let start = now_ms();
        let mut early: Option<f64> = None;
        let local_sdp = || {
            self.pc
                .local_description()
                .map(|d| d.sdp())
                .unwrap_or_default()
        };
        loop {
            // Right after an ICE restart the state may still read "complete" from the last
            // round while the new description has no candidate yet: wait for both.
            if self.pc.ice_gathering_state() == RtcIceGatheringState::Complete
                && local_sdp().contains("a=candidate:")
            {
                break;
            }
            let now = now_ms();
            if self.reflexive.get() && early.is_none() {
                // A little more for the host candidates of other interfaces.
                early = Some(now + 200.0);
            }
            if early.is_some_and(|e| now >= e) || now - start >= self.gather_limit_ms {
                break;
            }
            sleep(20).await;
        }
        let sdp = local_sdp();
        if sdp.contains("a=candidate:") {
            Ok(sdp)
        } else {
            Err(MediaError::NoCandidates)
        }
    }

    /// Mutes or unmutes the microphone (the track keeps running; nothing is renegotiated).
    pub fn set_muted(&self, muted: bool) {
        if let Some(mic) = self.mic.borrow().as_ref() {
            for t in mic.get_audio_tracks().iter() {
                t.unchecked_into::<MediaStreamTrack>().set_enabled(!muted);
            }
        }
    }

    /// Sends DTMF as RFC 4733 events when telephone-event was negotiated; false otherwise
    /// (the caller then uses SIP INFO).
    pub fn send_dtmf_rtp(&self, digit: char) -> bool {
        let negotiated = self
            .pc
            .remote_description()
            .is_some_and(|d| d.sdp().contains("telephone-event/"));
        let sender = self.transceiver.borrow().as_ref().map(|t| t.sender());
        match sender.and_then(|s| s.dtmf()) {
            Some(dtmf) if negotiated && get(&dtmf, "canInsertDTMF") != JsValue::FALSE => {
                dtmf.insert_dtmf_with_duration_and_inter_tone_gap(&digit.to_string(), 100, 70);
                true
            }
            _ => false,
        }
    }

    /// Plays the remote audio again (after a user gesture unlocked playback).
    pub fn retry_playback(&self, on_event: impl Fn(PeerEvent) + 'static) {
        if self.audio.src_object().is_some() {
            play(&self.audio, Rc::new(on_event));
        }
    }

    /// Switches the microphone to `device` without renegotiation (replaceTrack).
    pub async fn switch_input(&self, device: Option<String>) -> Result<(), MediaError> {
        *self.input_device.borrow_mut() = device.clone();
        let Some(sender) = self.transceiver.borrow().as_ref().map(|t| t.sender()) else {
            return Ok(());
        };
        let stream = microphone(device.as_deref()).await?;
        let track = stream.get_audio_tracks().get(0);
        promise(call(&sender, "replaceTrack", &[track]))
            .await
            .map_err(|e| MediaError::from_js("replaceTrack", e))?;
        if let Some(old) = self.mic.borrow_mut().replace(stream) {
            stop_tracks(&old);
        }
        if self.closed.get() {
            self.close();
        }
        Ok(())
    }

    /// Plays the remote audio on `device` (setSinkId).
    pub fn set_output(&self, device: &str) {
        let _ = call(&self.audio, "setSinkId", &[JsValue::from_str(device)]);
    }

    /// Whether the negotiated direction is two-way (false on hold, either side).
    pub fn two_way(&self) -> bool {
        self.transceiver
            .borrow()
            .as_ref()
            .and_then(|t| t.current_direction())
            .is_none_or(|d| d == RtcRtpTransceiverDirection::Sendrecv)
    }

    /// `getStats()`, as a plain JS Map-like report.
    pub async fn stats(&self) -> Option<JsValue> {
        JsFuture::from(self.pc.get_stats()).await.ok()
    }
}

fn set_codec_preferences(transceiver: &RtcRtpTransceiver) {
    let receiver_class = web_sys::window().map(|w| get(&w, "RTCRtpReceiver"));
    let Some(caps) = receiver_class
        .and_then(|c| call(&c, "getCapabilities", &[JsValue::from_str("audio")]).ok())
    else {
        return;
    };
    let codecs: Array = Array::from(&get(&caps, "codecs"))
        .iter()
        .filter(|c| {
            let mime = get(c, "mimeType").as_string().unwrap_or_default();
            CODECS.iter().any(|m| m.eq_ignore_ascii_case(&mime))
        })
        .collect();
    // Sorted by our preference; within a codec the browser's order stays.
    let sorted: Array = CODECS
        .iter()
        .flat_map(|m| {
            codecs
                .iter()
                .filter(|c| {
                    get(c, "mimeType")
                        .as_string()
                        .is_some_and(|x| x.eq_ignore_ascii_case(m))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    if sorted.length() > 0 {
        transceiver.set_codec_preferences(&sorted);
    }
}

/// With max-bundle, Chromium refuses an answer that drops our BUNDLE group. Gateways that
/// do not do BUNDLE (rtpengine 10.5, Asterisk without `bundle=yes`) answer our single audio
/// section without `a=group:BUNDLE` (and sometimes without `a=mid`); for one section that is
/// the same thing, so the group (and the offer's mid) is added.
fn bundle_single_section(answer: &str, offer: &str) -> String {
    let sections = answer.lines().filter(|l| l.starts_with("m=")).count();
    let mid = offer
        .lines()
        .find_map(|l| l.strip_prefix("a=mid:"))
        .map(str::trim);
    let (Some(mid), 1) = (mid, sections) else {
        return answer.to_string();
    };
    if answer.contains("a=group:BUNDLE") {
        return answer.to_string();
    }
    let has_mid = answer.contains("a=mid:");
    let mut out = String::with_capacity(answer.len() + 40);
    for line in answer.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with("m=") {
            out.push_str(&format!("a=group:BUNDLE {mid}\r\n{line}\r\n"));
            if !has_mid {
                out.push_str(&format!("a=mid:{mid}\r\n"));
            }
        } else if !line.is_empty() {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out
}

/// `iceConnectionState` -> `oniceconnectionstatechange`.
fn state_handler(prop: &str) -> String {
    format!(
        "on{}statechange",
        prop.trim_end_matches("State").to_lowercase()
    )
}

/// Stops every track of `stream` (the browser's microphone indicator goes off).
pub fn stop_tracks(stream: &MediaStream) {
    for t in stream.get_tracks().iter() {
        t.unchecked_into::<MediaStreamTrack>().stop();
    }
}

/// What the ICE probe reports.
pub enum ProbeEvent {
    /// A candidate line (`candidate:… typ host …`).
    Candidate(String),
    /// Gathering is complete.
    Complete,
    /// The offer that starts gathering failed.
    Failed(String),
}

/// A throwaway peer connection that only gathers ICE candidates, for the readiness check: a
/// receive-only audio transceiver (no microphone), an offer set locally, nothing sent.
/// Closed by [`IceProbe::close`] or when dropped.
pub struct IceProbe {
    pc: RtcPeerConnection,
    _handler: Closure<dyn FnMut(JsValue)>,
}

impl IceProbe {
    /// Starts gathering with `ice_servers`; every candidate and the end go to `on_event`.
    pub fn start(
        ice_servers: &[String],
        on_event: impl Fn(ProbeEvent) + 'static,
    ) -> Result<IceProbe, MediaError> {
        let pc = peer_connection(ice_servers)?;
        let report = Rc::new(on_event);
        let r = report.clone();
        let handler = Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
            let ev: RtcPeerConnectionIceEvent = ev.unchecked_into();
            match ev.candidate() {
                Some(c) if !c.candidate().is_empty() => r(ProbeEvent::Candidate(c.candidate())),
                Some(_) => {}
                None => r(ProbeEvent::Complete),
            }
        });
        pc.set_onicecandidate(Some(handler.as_ref().unchecked_ref()));
        let init = Object::new();
        set(&init, "direction", &JsValue::from_str("recvonly"));
        call(
            &pc,
            "addTransceiver",
            &[JsValue::from_str("audio"), init.into()],
        )
        .map_err(|e| MediaError::from_js("addTransceiver", e))?;
        let p = pc.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let offer = match JsFuture::from(p.create_offer()).await {
                Ok(o) => o,
                Err(e) => return report(ProbeEvent::Failed(describe_js("createOffer", e))),
            };
            if let Err(e) = JsFuture::from(p.set_local_description(offer.unchecked_ref())).await {
                report(ProbeEvent::Failed(describe_js("setLocalDescription", e)));
            }
        });
        Ok(IceProbe {
            pc,
            _handler: handler,
        })
    }

    /// Closes the connection (idempotent).
    pub fn close(&self) {
        self.pc.set_onicecandidate(None);
        self.pc.close();
    }
}

impl Drop for IceProbe {
    fn drop(&mut self) {
        self.close();
    }
}

impl Peer {
    /// Releases every browser resource: microphone tracks stopped, connection closed, audio
    /// element detached and removed. Idempotent; also done on drop.
    pub fn close(&self) {
        self.closed.set(true);
        if let Some(mic) = self.mic.borrow_mut().take() {
            stop_tracks(&mic);
        }
        self.pc.set_ontrack(None);
        self.pc.set_onicecandidate(None);
        for prop in ["iceConnectionState", "connectionState"] {
            set(&self.pc, &state_handler(prop), &JsValue::NULL);
        }
        self.pc.close();
        self.audio.set_src_object(None);
        self.audio.remove();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::bundle_single_section;

    const OFFER: &str = "v=0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\na=mid:0\r\n";

    #[test]
    fn an_answer_without_bundle_gets_the_group_and_the_mid() {
        let answer = "v=0\r\ns=-\r\nt=0 0\r\nm=audio 30000 UDP/TLS/RTP/SAVPF 0\r\na=sendrecv\r\n";
        let fixed = bundle_single_section(answer, OFFER);
        assert!(
            fixed.contains("t=0 0\r\na=group:BUNDLE 0\r\nm=audio 30000"),
            "{fixed}"
        );
        assert!(fixed.contains("m=audio 30000 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n"));
    }

    #[test]
    fn a_bundled_answer_is_left_alone() {
        let answer = "v=0\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 1 RTP/SAVPF 0\r\na=mid:0\r\n";
        assert_eq!(bundle_single_section(answer, OFFER), answer);
    }
}
