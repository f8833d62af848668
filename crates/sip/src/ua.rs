//! The facade: one [`UserAgent`] with two verbs, [`UserAgent::handle_input`] and
//! [`UserAgent::poll_output`] (the str0m / quinn-proto shape).
//!
//! The caller (the frontend's shell, or a test) owns the WebSocket, the RTCPeerConnection
//! and the clock. It feeds every event in as an [`Input`] with the current [`Instant`], then
//! drains [`Output`]s until it gets [`Output::Timeout`], the instant to call back with
//! [`Input::Timeout`].

use std::collections::VecDeque;

use crate::call::{Call, CallEvent, PendingBye};
use crate::msg::{Message, Method, ParseError, Request, Response, Uri};
use crate::random::{Random, Rng};
use crate::register::{Registration, RegistrationState};
use crate::timer::{Duration, Instant};
use crate::transaction::{make_response, RequestMatch, ResponseMatch, Transactions, TxKey};

/// Methods we accept, for Allow headers (RFC 3261 §20.5).
pub const ALLOW: &str = "INVITE,ACK,CANCEL,BYE,UPDATE,OPTIONS,INFO";
/// Body types we accept (RFC 3261 §20.1).
pub const ACCEPT: &str = "application/sdp, application/dtmf-relay";
/// Extensions we support in dialogs: session timers (RFC 4028), outbound (RFC 5626).
pub const SUPPORTED: &str = "timer, outbound";

/// Settings of a user agent. Nothing here is compiled in: the app gets it from its server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address of record, e.g. `sip:alice@siplab.test` (From/To of REGISTER, From of calls).
    pub aor: String,
    /// Registrar Request-URI, e.g. `sip:siplab.test`.
    pub registrar: String,
    /// Digest user name.
    pub username: String,
    /// Digest password.
    pub password: String,
    /// Display name for From, if any.
    pub display_name: Option<String>,
    /// Requested registration lifetime in seconds (Expires, RFC 3261 §10.2.1.1).
    pub register_expires: u32,
    /// `SIP/2.0/WSS` instead of `SIP/2.0/WS` in Via (RFC 7118 §5.2).
    pub secure: bool,
    /// User-Agent header value.
    pub user_agent: String,
    /// Session-Expires we ask for and accept (RFC 4028 §4), in seconds.
    pub session_expires: u32,
    /// Our Min-SE (RFC 4028 §5): the shortest session interval we accept, in seconds.
    pub min_se: u32,
    /// Answer incoming calls at once (VICIdial calls the agent's phone into its conference).
    pub auto_answer: bool,
    /// `+sip.instance` URN UUID (RFC 5626 §4.1); generated when `None`. Should be stable
    /// per browser profile.
    pub instance_id: Option<String>,
    /// CRLF keep-alive interval (RFC 5626 §4.4.1); `None` disables keep-alives.
    pub keepalive_interval: Option<Duration>,
    /// How long to wait for the CRLF pong before the flow is declared dead (RFC 5626 §4.4.1:
    /// 10 s).
    pub pong_timeout: Duration,
    /// How long the media layer may take to produce a local SDP (ICE gathering included)
    /// before the call fails with [`crate::call::EndReason::NoIceCandidates`].
    pub local_sdp_timeout: Duration,
    /// How long an established call survives a lost WebSocket, waiting for the caller to
    /// reconnect and ask for an ICE restart ([`Command::IceRestart`]).
    pub call_recovery_window: Duration,
}

impl Config {
    /// A configuration with the usual defaults (600 s registrations, 1800 s sessions,
    /// Min-SE 90, keep-alive every 120 s).
    pub fn new(aor: &str, registrar: &str, username: &str, password: &str) -> Config {
        Config {
            aor: aor.to_string(),
            registrar: registrar.to_string(),
            username: username.to_string(),
            password: password.to_string(),
            display_name: None,
            register_expires: 600,
            secure: false,
            user_agent: "dialdeck".to_string(),
            session_expires: 1800,
            min_se: 90,
            auto_answer: false,
            instance_id: None,
            keepalive_interval: Some(Duration::from_secs(120)),
            pong_timeout: Duration::from_secs(10),
            local_sdp_timeout: Duration::from_secs(10),
            call_recovery_window: Duration::from_secs(30),
        }
    }
}

/// A [`Config`] the user agent cannot work with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The address of record is not a SIP URI.
    InvalidAor(ParseError),
    /// The registrar is not a SIP URI.
    InvalidRegistrar(ParseError),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::InvalidAor(e) => write!(f, "invalid address of record: {e}"),
            ConfigError::InvalidRegistrar(e) => write!(f, "invalid registrar URI: {e}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Something that happened, fed to [`UserAgent::handle_input`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// The WebSocket (subprotocol `sip`) is open.
    TransportConnected,
    /// The WebSocket closed or failed to open.
    TransportClosed,
    /// A text frame arrived: one SIP message, or a CRLF keep-alive.
    Frame(String),
    /// The media layer finished something we asked for.
    Media(MediaEvent),
    /// The user (or the agent screen) asked for something.
    Command(Command),
    /// The instant last returned in [`Output::Timeout`] has come.
    Timeout,
}

/// Reports from the media layer (the shell's RTCPeerConnection).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaEvent {
    /// The local description asked for by [`MediaAction::CreateOffer`] or
    /// [`MediaAction::CreateAnswer`] is ready, ICE candidates included.
    LocalSdpReady {
        /// The SDP text.
        sdp: String,
    },
    /// ICE gathering ran out of time before producing a usable description.
    IceGatheringTimedOut,
    /// Gathering finished without a single candidate (no usable interface).
    NoCandidates,
}

/// What the user or the agent screen asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Connect if needed and keep a registration up.
    Register,
    /// Remove the registration (Expires: 0) and stop re-registering.
    Unregister,
    /// Place a call to a SIP URI (`sip:bob@siplab.test`) or a user part (`8600051`).
    Call {
        /// The target.
        target: String,
    },
    /// Answer the ringing incoming call.
    Answer,
    /// Hang up, cancel or decline, whatever fits the call's state.
    Hangup,
    /// Put the call on hold (re-INVITE with a=sendonly).
    Hold,
    /// Take it off hold (re-INVITE with a=sendrecv).
    Unhold,
    /// Send a DTMF digit with SIP INFO (application/dtmf-relay).
    SendDtmf {
        /// `0`-`9`, `*`, `#`, `A`-`D`.
        digit: char,
        /// Tone length in milliseconds.
        duration_ms: u32,
    },
    /// Turn auto-answer of incoming calls on or off.
    SetAutoAnswer(bool),
    /// Renegotiate media with an ICE restart (after a reconnect or a network change).
    IceRestart,
}

/// Something the caller must do, drained with [`UserAgent::poll_output`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send this text frame on the WebSocket.
    Send(String),
    /// Open the WebSocket (subprotocol `sip`).
    Connect,
    /// Close the WebSocket (it is dead or no longer needed).
    Disconnect,
    /// Do something with the RTCPeerConnection.
    Media(MediaAction),
    /// Tell the UI.
    Event(Event),
    /// Nothing more to do now; call back with [`Input::Timeout`] at this instant.
    Timeout(Instant),
}

/// What the media layer is asked to do. SDP is produced and consumed there, never here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaAction {
    /// Create a local offer; answer with [`MediaEvent::LocalSdpReady`].
    CreateOffer {
        /// Restart ICE (new ufrag/pwd), after a reconnect.
        ice_restart: bool,
        /// Offer `a=sendonly` (hold) instead of `a=sendrecv`.
        hold: bool,
    },
    /// Apply this remote offer and create an answer; reply with [`MediaEvent::LocalSdpReady`].
    CreateAnswer {
        /// The remote offer.
        remote_sdp: String,
    },
    /// Apply this remote answer to the offer we made.
    ApplyRemoteAnswer {
        /// The remote answer.
        sdp: String,
    },
    /// The offer we made was refused: roll the local description back.
    RollbackOffer,
    /// The call is over: stop tracks and close the peer connection.
    CloseMedia,
}

/// A UI event. Flags come from confirmed protocol state only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The registration changed state.
    Registration(RegistrationState),
    /// The call changed state.
    Call(CallEvent),
}

/// Our side of the flow: the parts of our identity put in Via and Contact (RFC 7118 §5).
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// The configuration.
    pub config: Config,
    /// Parsed address of record.
    pub aor: Uri,
    /// Parsed registrar URI.
    pub registrar: Uri,
    /// `<random>.invalid`: a WebSocket client has no reachable host (RFC 7118 §5.2).
    pub via_host: String,
    /// The random user part of our Contact.
    pub contact_user: String,
    /// `+sip.instance` UUID (RFC 5626 §4.1).
    pub instance: String,
}

impl Endpoint {
    fn new(config: Config, rng: &mut Random) -> Result<Endpoint, ConfigError> {
        let aor = Uri::parse(&config.aor).map_err(ConfigError::InvalidAor)?;
        let registrar = Uri::parse(&config.registrar).map_err(ConfigError::InvalidRegistrar)?;
        let instance = config.instance_id.clone().unwrap_or_else(|| rng.uuid_v4());
        Ok(Endpoint {
            aor,
            registrar,
            via_host: format!("{}.invalid", rng.token(12)),
            contact_user: rng.token(8),
            instance,
            config,
        })
    }

    /// A Via header value with this branch (RFC 3261 §8.1.1.7, RFC 7118 §5.2).
    pub fn via(&self, branch: &str) -> String {
        let transport = if self.config.secure { "WSS" } else { "WS" };
        format!("SIP/2.0/{transport} {};branch={branch}", self.via_host)
    }

    /// Our Contact URI: `sip:<random>@<random>.invalid;transport=ws` (RFC 7118 §5.2).
    pub fn contact_uri(&self) -> String {
        format!("sip:{}@{};transport=ws", self.contact_user, self.via_host)
    }

    /// The Contact for dialogs: with `ob`, as we register with outbound (RFC 5626 §5.4).
    pub fn dialog_contact(&self) -> String {
        format!("<{};ob>", self.contact_uri())
    }

    /// Our From/To name-addr without tag.
    pub fn aor_name_addr(&self) -> String {
        match &self.config.display_name {
            Some(name) => format!("\"{}\" <{}>", name.replace('"', ""), self.aor),
            None => format!("<{}>", self.aor),
        }
    }

    /// Adds Allow, Supported and User-Agent.
    pub fn decorate(&self, headers: &mut crate::msg::Headers) {
        headers.push("Allow", ALLOW);
        headers.push("Supported", SUPPORTED);
        headers.push("User-Agent", self.config.user_agent.clone());
    }
}

/// What layers below the facade use while handling one input: the time, randomness, the
/// output queue, the transactions and our identity.
pub(crate) struct Ctx<'a> {
    pub now: Instant,
    pub rng: &'a mut Random,
    pub out: &'a mut VecDeque<Output>,
    pub tx: &'a mut Transactions,
    pub ep: &'a Endpoint,
    pub connected: bool,
}

impl Ctx<'_> {
    /// Starts a client transaction for `req` and sends it (RFC 3261 §17.1).
    pub fn send_request(&mut self, req: &Request) -> TxKey {
        let key = self.tx.start_client(self.now, req);
        self.send(&Message::Request(req.clone()));
        key
    }

    /// Sends a response on a server transaction, if the transaction still takes one.
    pub fn respond(&mut self, key: &TxKey, resp: Response) {
        if self.tx.respond(self.now, key, &resp) {
            self.send(&Message::Response(resp));
        }
    }

    /// Sends a message outside any transaction (the ACK of a 2xx, §13.2.2.4).
    pub fn send(&mut self, msg: &Message) {
        if self.connected {
            self.out.push_back(Output::Send(msg.to_string()));
        }
    }

    /// Queues a UI event.
    pub fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    /// Queues a media action.
    pub fn media(&mut self, m: MediaAction) {
        self.out.push_back(Output::Media(m));
    }
}

/// A sans-IO SIP user agent: registration, one call at a time, over one WebSocket.
#[derive(Debug)]
pub struct UserAgent {
    ep: Endpoint,
    rng: Random,
    out: VecDeque<Output>,
    tx: Transactions,
    registration: Registration,
    call: Option<Call>,
    /// BYEs of calls already over, kept so a challenge to them can still be answered.
    closing: Vec<PendingBye>,
    now: Instant,
}

macro_rules! ctx {
    ($self:ident) => {
        Ctx {
            now: $self.now,
            rng: &mut $self.rng,
            out: &mut $self.out,
            tx: &mut $self.tx,
            ep: &$self.ep,
            connected: $self.registration.flow.is_up(),
        }
    };
}

impl UserAgent {
    /// A user agent for `config`, drawing randomness from `rng`. Fails if the AoR or
    /// registrar URI does not parse.
    pub fn new(config: Config, rng: impl Rng + 'static) -> Result<UserAgent, ConfigError> {
        let mut rng = Random::new(rng);
        let ep = Endpoint::new(config, &mut rng)?;
        let registration = Registration::new(&ep, &mut rng);
        Ok(UserAgent {
            ep,
            rng,
            out: VecDeque::new(),
            tx: Transactions::new(),
            registration,
            call: None,
            closing: Vec::new(),
            now: Instant::default(),
        })
    }

    /// The `+sip.instance` UUID in use (store it to keep it stable across sessions).
    pub fn instance_id(&self) -> &str {
        &self.ep.instance
    }

    /// The current registration state (confirmed protocol state).
    pub fn registration_state(&self) -> RegistrationState {
        self.registration.ui_state()
    }

    /// Whether a call exists (ringing, in progress or established).
    pub fn has_call(&self) -> bool {
        self.call.is_some()
    }

    /// Feeds one input at time `now`. Then drain [`UserAgent::poll_output`].
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        self.now = self.now.max(now);
        match input {
            Input::TransportConnected => self.on_connected(),
            Input::TransportClosed => self.on_transport_lost(false),
            Input::Frame(text) => self.on_frame(&text),
            Input::Media(ev) => {
                let mut ctx = ctx!(self);
                if let Some(call) = self.call.as_mut() {
                    call.on_media(&mut ctx, ev);
                }
            }
            Input::Command(cmd) => self.on_command(cmd),
            Input::Timeout => self.on_timeout(),
        }
        self.reap_call();
    }

    /// The next thing to do. Ends with [`Output::Timeout`] (which is returned again on every
    /// call once the queue is empty).
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        Output::Timeout(self.next_timeout())
    }

    fn next_timeout(&self) -> Instant {
        let mut t = self.tx.poll_timeout();
        t = crate::timer::earliest(t, self.registration.poll_timeout());
        if let Some(call) = &self.call {
            t = crate::timer::earliest(t, call.poll_timeout());
        }
        // Nothing scheduled: wake up in an hour anyway; harmless and keeps the API total.
        t.unwrap_or(self.now + Duration::from_secs(3600))
    }

    fn reap_call(&mut self) {
        if self.call.as_ref().is_some_and(Call::is_ended) {
            if let Some(bye) = self.call.take().and_then(|mut c| c.take_final_bye()) {
                self.closing.push(bye);
            }
        }
    }

    fn on_connected(&mut self) {
        self.registration
            .flow
            .on_connected(self.now, &mut self.rng, &self.ep.config);
        let mut ctx = ctx!(self);
        self.registration.on_connected(&mut ctx);
    }

    /// The flow died: the socket closed, or we declared it dead (no pong).
    fn on_transport_lost(&mut self, we_closed: bool) {
        if !we_closed && !self.registration.flow.is_active() {
            return;
        }
        let want = self.registration.wants_flow() || self.call.is_some();
        self.registration
            .flow
            .on_closed(self.now, &mut self.rng, want);
        let mut ctx = ctx!(self);
        // §17.1.4: pending client transactions fail with a transport error. Their owners
        // are told below as a whole, so the individual reports are not needed.
        let _ = ctx.tx.transport_lost();
        self.closing.clear();
        self.registration.on_transport_lost(&mut ctx);
        if let Some(call) = self.call.as_mut() {
            call.on_transport_lost(&mut ctx);
        }
    }

    fn on_frame(&mut self, text: &str) {
        if text.trim_matches(|c| c == '\r' || c == '\n').is_empty() {
            // RFC 5626 §3.5.1 over a message-oriented transport: a double CRLF ping is
            // answered with a single CRLF pong; a lone CRLF is a pong.
            if text == "\r\n\r\n" {
                self.out.push_back(Output::Send("\r\n".to_string()));
            } else {
                self.registration.flow.on_pong();
            }
            return;
        }
        // Any traffic proves the flow alive, as a pong would.
        self.registration.flow.on_traffic();
        let Ok(msg) = Message::parse(text.as_bytes()) else {
            // §16.3 / §8.2.2: unparseable messages are dropped; we cannot even answer them.
            return;
        };
        match msg {
            Message::Response(resp) => self.on_response(resp),
            Message::Request(req) => self.on_request(req),
        }
    }

    fn on_response(&mut self, resp: Response) {
        let (matched, ack) = self.tx.on_response(self.now, &resp);
        let mut ctx = ctx!(self);
        if let Some(ack) = ack {
            ctx.send(&Message::Request(ack));
        }
        match matched {
            ResponseMatch::Deliver(key) => {
                if self.registration.owns(&key) {
                    self.registration.on_response(&mut ctx, &key, &resp);
                } else if let Some(i) = self.closing.iter().position(|b| b.owns(&key)) {
                    let bye = self.closing.swap_remove(i);
                    if let Some(bye) = bye.on_response(&mut ctx, &resp) {
                        self.closing.push(bye);
                    }
                } else if let Some(call) = self.call.as_mut() {
                    call.on_response(&mut ctx, &key, &resp);
                }
            }
            ResponseMatch::Retransmitted2xx(key) => {
                if let Some(call) = self.call.as_mut() {
                    call.on_2xx_retransmission(&mut ctx, &key, &resp);
                }
            }
            ResponseMatch::Absorbed | ResponseMatch::Stray => {}
        }
    }

    fn on_request(&mut self, req: Request) {
        let matched = self.tx.on_request(self.now, &req);
        let mut ctx = ctx!(self);
        let key = match matched {
            RequestMatch::New(key) => key,
            RequestMatch::Retransmission(Some(resp)) => {
                ctx.send(&Message::Response(resp));
                return;
            }
            RequestMatch::Retransmission(None) | RequestMatch::AckAbsorbed => return,
            RequestMatch::AckFor2xx => {
                if let Some(call) = self.call.as_mut() {
                    call.on_ack(&mut ctx, &req);
                }
                return;
            }
        };
        if req.method == Method::Options {
            // RFC 3261 §11.2: answer as we would an INVITE, advertising capabilities.
            let mut resp = make_response(&req, 200, Some(&ctx.rng.tag()));
            resp.headers.push("Allow", ALLOW);
            resp.headers.push("Accept", ACCEPT);
            resp.headers.push("Supported", SUPPORTED);
            resp.headers
                .push("User-Agent", ctx.ep.config.user_agent.clone());
            ctx.respond(&key, resp);
            return;
        }
        if let Some(call) = self.call.as_mut() {
            if call.handles(&req, ctx.tx) {
                call.on_request(&mut ctx, &key, req);
                return;
            }
        }
        let has_to_tag = crate::dialog::header_tag(&req.headers, "To").is_some();
        match req.method {
            Method::Invite if !has_to_tag => {
                if self.call.is_some() {
                    // One call at a time: the agent is busy (RFC 3261 §21.4.24).
                    let resp = make_response(&req, 486, Some(&ctx.rng.tag()));
                    ctx.respond(&key, resp);
                } else {
                    self.call = Call::incoming(&mut ctx, &key, req, self.ep.config.auto_answer);
                }
            }
            Method::Cancel => ctx.respond(&key, make_response(&req, 481, None)),
            Method::Notify => ctx.respond(&key, make_response(&req, 200, None)),
            _ if has_to_tag => {
                // §12.2.2: a request for a dialog we do not have.
                ctx.respond(&key, make_response(&req, 481, None));
            }
            _ => {
                let mut resp = make_response(&req, 405, Some(&ctx.rng.tag()));
                resp.headers.push("Allow", ALLOW);
                ctx.respond(&key, resp);
            }
        }
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Register => {
                if !self.registration.flow.is_active() {
                    self.registration.flow.connect(&mut self.out);
                }
                let mut ctx = ctx!(self);
                self.registration.start(&mut ctx);
            }
            Command::Unregister => {
                let mut ctx = ctx!(self);
                self.registration.stop(&mut ctx);
            }
            Command::SetAutoAnswer(on) => self.ep.config.auto_answer = on,
            Command::Call { target } => {
                if self.call.is_some() {
                    return;
                }
                let uri = self.target_uri(&target);
                let mut ctx = ctx!(self);
                match uri {
                    Some(uri) => self.call = Some(Call::outgoing(&mut ctx, uri)),
                    None => ctx.event(Event::Call(CallEvent::Ended {
                        reason: crate::call::EndReason::InvalidTarget(target),
                    })),
                }
            }
            other => {
                let mut ctx = ctx!(self);
                if let Some(call) = self.call.as_mut() {
                    call.on_command(&mut ctx, other);
                }
            }
        }
    }

    fn target_uri(&self, target: &str) -> Option<Uri> {
        let t = target.trim();
        if t.is_empty() {
            return None;
        }
        if t.starts_with("sip:") || t.starts_with("sips:") {
            return Uri::parse(t).ok();
        }
        // A bare user part (extension, phone number): at the AoR's domain.
        let user: String = t.chars().filter(|c| !c.is_whitespace()).collect();
        Uri::parse(&format!("sip:{user}@{}", self.ep.aor.host)).ok()
    }

    fn on_timeout(&mut self) {
        let now = self.now;
        // The flow first: a dead flow changes what everything else may do.
        match self.registration.flow.handle_timeout(now, &mut self.out) {
            crate::register::FlowTimeout::Dead => self.on_transport_lost(true),
            crate::register::FlowTimeout::None => {}
        }
        let timed_out = self.tx.handle_timeout(now);
        let mut ctx = ctx!(self);
        for t in timed_out {
            self.closing.retain(|b| !b.owns(&t.key));
            if self.registration.owns(&t.key) {
                self.registration.on_tx_timeout(&mut ctx, &t.key);
            } else if let Some(call) = self.call.as_mut() {
                call.on_tx_timeout(&mut ctx, &t.key);
            }
        }
        self.registration.handle_timeout(&mut ctx);
        if let Some(call) = self.call.as_mut() {
            call.handle_timeout(&mut ctx);
        }
    }
}
