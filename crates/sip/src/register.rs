//! Registration (RFC 3261 §10) over an outbound flow (RFC 5626), and the flow itself: the
//! one WebSocket, its CRLF keep-alive (RFC 5626 §3.5.1, §4.4.1) and reconnection with capped
//! exponential back-off and jitter (RFC 5626 §4.5).
//!
//! - REGISTER carries `Contact: <sip:<random>@<random>.invalid;transport=ws>;+sip.ice;
//!   reg-id=1;+sip.instance="<urn:uuid:...>"` (RFC 5626 §4.2, RFC 7118 §5).
//! - 401/407 are answered with digest credentials; a second challenge for the same nonce
//!   (not `stale`) means a wrong password and the registration fails with that reason.
//! - The refresh is scheduled at a jittered 60-80 % of the granted expiry, which comes from
//!   our Contact's `expires` parameter in the 200, else its Expires header (§10.2.4).
//! - 423 Interval Too Brief is retried with the registrar's Min-Expires (§10.3 step 7).
//! - Never two REGISTERs in flight: requests wanted meanwhile are remembered and sent after.
//! - "Registered" is reported only after a 200 (UI flags from confirmed protocol state).

use std::collections::VecDeque;

use crate::challenge::{Authenticator, ChallengeError};
use crate::msg::{Method, NameAddr, Request, Response};
use crate::random::Random;
use crate::timer::{Duration, Instant};
use crate::transaction::TxKey;
use crate::ua::{Config, Ctx, Endpoint, Event, Output};

/// First reconnect delay (RFC 5626 §4.5's base-time, shortened for an agent desktop where
/// a minute without a phone is a lost call).
pub const RECONNECT_BASE: Duration = Duration::from_secs(2);
/// Reconnect delays never exceed this (RFC 5626 §4.5 max-time, shortened likewise).
pub const RECONNECT_MAX: Duration = Duration::from_secs(60);
/// The refresh is sent at a random point in this range of the granted expiry, in percent.
const REFRESH_FRACTION_PERCENT: (u64, u64) = (60, 80);

/// Why registration failed, for the UI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistrationFailure {
    /// The registrar refused our credentials (a second challenge for the same nonce).
    AuthenticationFailed,
    /// The challenge used something we cannot answer.
    UnsupportedChallenge(String),
    /// The registrar answered with this final failure response.
    Rejected {
        /// Status code.
        code: u16,
        /// Reason phrase.
        reason: String,
    },
    /// No final response within Timer F (RFC 3261 §17.1.2.2).
    Timeout,
}

/// Registration as the UI sees it. Only a 200 makes it [`RegistrationState::Registered`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistrationState {
    /// Not registered and not trying.
    Unregistered,
    /// A REGISTER is in flight (or waiting for the WebSocket to open).
    Registering,
    /// The registrar accepted our binding for this many seconds.
    Registered {
        /// Granted expiry in seconds.
        expires: u32,
    },
    /// The WebSocket is down; the next connection attempt is at `at`.
    Reconnecting {
        /// How many attempts have failed in a row.
        attempt: u32,
        /// When the next attempt starts.
        at: Instant,
    },
    /// Gave up; only a new [`crate::ua::Command::Register`] tries again.
    Failed {
        /// Why.
        reason: RegistrationFailure,
    },
}

/// What a flow timer firing means for the user agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowTimeout {
    /// Nothing for others.
    None,
    /// The keep-alive pong did not come: the flow is dead and a Disconnect was queued.
    Dead,
}

/// The WebSocket flow (RFC 5626 §3.5): connection state, keep-alive, reconnect back-off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flow {
    /// No connection; maybe a reconnect is scheduled.
    Down {
        /// When to try again, if we want the flow.
        reconnect_at: Option<Instant>,
        /// Failed attempts in a row (0 after a success).
        attempt: u32,
    },
    /// [`Output::Connect`] was issued; waiting for the shell.
    Connecting {
        /// Failed attempts before this one.
        attempt: u32,
    },
    /// Open.
    Up {
        /// When to send the next `\r\n\r\n` ping.
        next_ping: Option<Instant>,
        /// When a pong is due for the ping in flight (RFC 5626 §4.4.1: 10 s).
        pong_deadline: Option<Instant>,
        /// Keep-alive interval and pong timeout.
        keepalive: Option<(Duration, Duration)>,
        /// A pong has been seen on this flow. Only then does a missing pong mean a dead
        /// flow: a server that never answers CRLF pings (RFC 5626 keep-alives are only
        /// promised by an outbound-capable edge proxy) must not get us disconnected.
        pongs_seen: bool,
    },
}

impl Flow {
    /// Whether the WebSocket is open.
    pub fn is_up(&self) -> bool {
        matches!(self, Flow::Up { .. })
    }

    /// Whether it is open or opening.
    pub fn is_active(&self) -> bool {
        !matches!(self, Flow::Down { .. })
    }

    pub(crate) fn connect(&mut self, out: &mut VecDeque<Output>) {
        let attempt = match self {
            Flow::Down { attempt, .. } => *attempt,
            _ => return,
        };
        out.push_back(Output::Connect);
        *self = Flow::Connecting { attempt };
    }

    pub(crate) fn on_connected(&mut self, now: Instant, rng: &mut Random, config: &Config) {
        let keepalive = config.keepalive_interval.map(|i| (i, config.pong_timeout));
        *self = Flow::Up {
            next_ping: keepalive.map(|(i, _)| now + keepalive_delay(rng, i)),
            pong_deadline: None,
            keepalive,
            pongs_seen: false,
        };
    }

    /// The socket closed (or we declared it dead); schedules a reconnect if `want`.
    pub(crate) fn on_closed(&mut self, now: Instant, rng: &mut Random, want: bool) {
        let attempt = match self {
            Flow::Down { attempt, .. } | Flow::Connecting { attempt } => *attempt + 1,
            Flow::Up { .. } => 0,
        };
        let reconnect_at = want.then(|| now + backoff(rng, attempt));
        *self = Flow::Down {
            reconnect_at,
            attempt,
        };
    }

    pub(crate) fn on_pong(&mut self) {
        if let Flow::Up {
            pong_deadline,
            pongs_seen,
            ..
        } = self
        {
            *pong_deadline = None;
            *pongs_seen = true;
        }
    }

    /// Any message from the server proves the flow alive as a pong would.
    pub(crate) fn on_traffic(&mut self) {
        if let Flow::Up { pong_deadline, .. } = self {
            *pong_deadline = None;
        }
    }

    /// Next flow timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Flow::Down { reconnect_at, .. } => *reconnect_at,
            Flow::Connecting { .. } => None,
            Flow::Up {
                next_ping,
                pong_deadline,
                ..
            } => crate::timer::earliest(*next_ping, *pong_deadline),
        }
    }

    pub(crate) fn handle_timeout(
        &mut self,
        now: Instant,
        out: &mut VecDeque<Output>,
    ) -> FlowTimeout {
        match self {
            Flow::Down {
                reconnect_at: Some(at),
                ..
            } if *at <= now => {
                self.connect(out);
                FlowTimeout::None
            }
            Flow::Up {
                next_ping,
                pong_deadline,
                keepalive,
                pongs_seen,
            } => {
                if pong_deadline.is_some_and(|d| d <= now) {
                    if *pongs_seen {
                        out.push_back(Output::Disconnect);
                        return FlowTimeout::Dead;
                    }
                    *pong_deadline = None;
                }
                if let (Some(at), Some((interval, pong_timeout))) = (*next_ping, *keepalive) {
                    if at <= now {
                        out.push_back(Output::Send("\r\n\r\n".to_string()));
                        *pong_deadline = Some(now + pong_timeout);
                        // Next ping one interval later; jitter is applied once, at connect.
                        *next_ping = Some(now + interval);
                    }
                }
                FlowTimeout::None
            }
            _ => FlowTimeout::None,
        }
    }

    fn reconnect_info(&self) -> Option<(u32, Instant)> {
        match self {
            Flow::Down {
                reconnect_at: Some(at),
                attempt,
            } => Some((*attempt, *at)),
            _ => None,
        }
    }
}

/// RFC 5626 §4.4.1: send keep-alives at a random 80-100 % of the interval.
fn keepalive_delay(rng: &mut Random, interval: Duration) -> Duration {
    rng.between(interval * 4 / 5, interval)
}

/// RFC 5626 §4.5: `min(max-time, base-time * 2^attempt)`, then a random 50-100 % of that.
pub fn backoff(rng: &mut Random, attempt: u32) -> Duration {
    let exp = RECONNECT_BASE.saturating_mul(1u32 << attempt.min(16));
    let capped = exp.min(RECONNECT_MAX);
    rng.between(capped / 2, capped)
}

/// Why a REGISTER is in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Register,
    Unregister,
}

/// Internal registration state (each state holds its own data).
#[derive(Clone, Debug)]
enum State {
    /// Not wanted and not registered.
    Idle,
    /// Wanted; waiting for the WebSocket.
    WaitingTransport,
    /// A REGISTER is in flight.
    Sending {
        key: TxKey,
        request: Box<Request>,
        purpose: Purpose,
        /// The expiry of the binding we still hold while a refresh is in flight.
        bound: Option<u32>,
    },
    /// Bound; refresh at `refresh_at`.
    Registered { expires: u32, refresh_at: Instant },
    /// A refresh failed for a reason worth retrying; try again at `at`.
    RetryAt { at: Instant },
    /// Gave up.
    Failed(RegistrationFailure),
}

/// The registration of our Contact at the registrar.
#[derive(Debug)]
pub struct Registration {
    /// The flow the registration lives on.
    pub flow: Flow,
    state: State,
    wanted: bool,
    /// Same Call-ID and From tag for every REGISTER to this registrar (RFC 3261 §10.2).
    call_id: String,
    from_tag: String,
    cseq: u32,
    expires: u32,
    auth: Authenticator,
    retries: u32,
    last_reported: Option<RegistrationState>,
}

impl Registration {
    pub(crate) fn new(ep: &Endpoint, rng: &mut Random) -> Registration {
        Registration {
            flow: Flow::Down {
                reconnect_at: None,
                attempt: 0,
            },
            state: State::Idle,
            wanted: false,
            call_id: rng.call_id(),
            from_tag: rng.tag(),
            cseq: 0,
            expires: ep.config.register_expires,
            auth: Authenticator::new(ep.config.username.clone(), ep.config.password.clone()),
            retries: 0,
            last_reported: None,
        }
    }

    /// The state as the UI sees it.
    pub fn ui_state(&self) -> RegistrationState {
        if let Some((attempt, at)) = self.flow.reconnect_info() {
            return RegistrationState::Reconnecting { attempt, at };
        }
        match &self.state {
            State::Idle => RegistrationState::Unregistered,
            State::WaitingTransport | State::RetryAt { .. } => RegistrationState::Registering,
            State::Sending {
                purpose: Purpose::Register,
                bound: Some(expires),
                ..
            } => RegistrationState::Registered { expires: *expires },
            State::Sending {
                purpose: Purpose::Register,
                ..
            } => RegistrationState::Registering,
            State::Sending {
                purpose: Purpose::Unregister,
                ..
            } => RegistrationState::Unregistered,
            State::Registered { expires, .. } => {
                RegistrationState::Registered { expires: *expires }
            }
            State::Failed(reason) => RegistrationState::Failed {
                reason: reason.clone(),
            },
        }
    }

    /// Whether the flow should be kept up for the registration's sake.
    pub fn wants_flow(&self) -> bool {
        self.wanted && !matches!(self.state, State::Failed(_))
    }

    /// Whether this client transaction is ours.
    pub fn owns(&self, key: &TxKey) -> bool {
        matches!(&self.state, State::Sending { key: k, .. } if k == key)
    }

    /// Next registration or flow timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let own = match &self.state {
            State::Registered { refresh_at, .. } => Some(*refresh_at),
            State::RetryAt { at } => Some(*at),
            _ => None,
        };
        crate::timer::earliest(own, self.flow.poll_timeout())
    }

    fn report(&mut self, ctx: &mut Ctx<'_>) {
        let s = self.ui_state();
        if self.last_reported.as_ref() != Some(&s) {
            self.last_reported = Some(s.clone());
            ctx.event(Event::Registration(s));
        }
    }

    pub(crate) fn start(&mut self, ctx: &mut Ctx<'_>) {
        self.wanted = true;
        self.auth.succeeded();
        self.expires = ctx.ep.config.register_expires;
        match self.state {
            State::Sending { .. } => {}
            _ if ctx.connected => self.send(ctx, Purpose::Register),
            _ => self.state = State::WaitingTransport,
        }
        self.report(ctx);
    }

    pub(crate) fn stop(&mut self, ctx: &mut Ctx<'_>) {
        self.wanted = false;
        match self.state {
            // Never two in flight: the un-REGISTER follows when this one completes.
            State::Sending { .. } => {}
            State::Registered { .. } | State::RetryAt { .. } if ctx.connected => {
                self.send(ctx, Purpose::Unregister)
            }
            _ => self.state = State::Idle,
        }
        if !ctx.connected {
            // Cancel any scheduled reconnect that only the registration wanted.
            if let Flow::Down { reconnect_at, .. } = &mut self.flow {
                *reconnect_at = None;
            }
        }
        self.report(ctx);
    }

    pub(crate) fn on_connected(&mut self, ctx: &mut Ctx<'_>) {
        if self.wanted && !matches!(self.state, State::Sending { .. } | State::Failed(_)) {
            self.send(ctx, Purpose::Register);
        }
        self.report(ctx);
    }

    pub(crate) fn on_transport_lost(&mut self, ctx: &mut Ctx<'_>) {
        // The binding is tied to the flow (RFC 5626 §4.4.1, Kamailio handle_lost_tcp):
        // it is gone with it, and comes back with a new REGISTER after reconnecting.
        self.state = if self.wanted && !matches!(self.state, State::Failed(_)) {
            State::WaitingTransport
        } else {
            State::Idle
        };
        self.report(ctx);
    }

    fn build(&mut self, ctx: &mut Ctx<'_>, purpose: Purpose) -> Request {
        self.cseq += 1;
        let ep = ctx.ep;
        let mut req = Request::new(Method::Register, ep.registrar.clone());
        let expires = if purpose == Purpose::Unregister {
            0
        } else {
            self.expires
        };
        req.headers.push("Via", ep.via(&ctx.rng.branch()));
        req.headers.push("Max-Forwards", "70");
        req.headers.push("To", ep.aor_name_addr());
        req.headers.push(
            "From",
            format!("{};tag={}", ep.aor_name_addr(), self.from_tag),
        );
        req.headers.push("Call-ID", self.call_id.clone());
        req.headers.push("CSeq", format!("{} REGISTER", self.cseq));
        req.headers.push("Expires", expires.to_string());
        // RFC 5626 §4.2 (reg-id, +sip.instance), RFC 5245 §… (+sip.ice), RFC 7118 §5.
        req.headers.push(
            "Contact",
            format!(
                "<{}>;+sip.ice;reg-id=1;+sip.instance=\"<urn:uuid:{}>\";expires={expires}",
                ep.contact_uri(),
                ep.instance
            ),
        );
        req.headers.push("Allow", crate::ua::ALLOW);
        req.headers.push("Supported", "path, outbound");
        req.headers.push("User-Agent", ep.config.user_agent.clone());
        req
    }

    fn send(&mut self, ctx: &mut Ctx<'_>, purpose: Purpose) {
        if purpose == Purpose::Register {
            self.auth.succeeded();
        }
        let req = self.build(ctx, purpose);
        self.transmit(ctx, req, purpose);
    }

    fn transmit(&mut self, ctx: &mut Ctx<'_>, req: Request, purpose: Purpose) {
        let key = ctx.send_request(&req);
        let bound = match &self.state {
            State::Registered { expires, .. } => Some(*expires),
            State::Sending { bound, .. } => *bound,
            _ => None,
        };
        self.state = State::Sending {
            key,
            request: Box::new(req),
            purpose,
            bound,
        };
    }

    pub(crate) fn on_response(&mut self, ctx: &mut Ctx<'_>, key: &TxKey, resp: &Response) {
        let State::Sending {
            key: k,
            request,
            purpose,
            ..
        } = &self.state
        else {
            return;
        };
        if k != key || resp.status < 200 {
            return;
        }
        let (request, purpose) = ((**request).clone(), *purpose);
        match resp.status {
            200..=299 => {
                self.auth.succeeded();
                self.retries = 0;
                if purpose == Purpose::Unregister {
                    self.state = State::Idle;
                } else {
                    let expires = granted_expires(ctx.ep, resp).unwrap_or(self.expires).max(1);
                    let percent = REFRESH_FRACTION_PERCENT.0
                        + ctx
                            .rng
                            .below(REFRESH_FRACTION_PERCENT.1 - REFRESH_FRACTION_PERCENT.0 + 1);
                    let refresh_in = Duration::from_millis(u64::from(expires) * 10 * percent);
                    self.state = State::Registered {
                        expires,
                        refresh_at: ctx.now + refresh_in,
                    };
                }
            }
            401 | 407 => {
                let mut retry = request;
                self.cseq += 1;
                retry.headers.set("CSeq", format!("{} REGISTER", self.cseq));
                retry.headers.remove("Authorization");
                retry.headers.remove("Proxy-Authorization");
                let cnonce = ctx.rng.token(12);
                match self.auth.answer(&retry, resp, &cnonce) {
                    Ok((name, value)) => {
                        set_branch(ctx, &mut retry);
                        // Keep the credentials next to the Via like common UAs do; the
                        // position does not matter to the registrar.
                        retry.headers.push(name, value);
                        self.transmit(ctx, retry, purpose);
                    }
                    Err(e) => self.fail(ctx, purpose, failure_from_challenge(e)),
                }
            }
            423 => {
                // §10.3 step 7 / §10.2.8: retry with the registrar's Min-Expires.
                let min = resp
                    .headers
                    .get("Min-Expires")
                    .and_then(|v| v.trim().parse::<u32>().ok());
                match min {
                    Some(min) if min > self.expires && purpose == Purpose::Register => {
                        self.expires = min;
                        self.send(ctx, purpose);
                    }
                    _ => self.fail(
                        ctx,
                        purpose,
                        RegistrationFailure::Rejected {
                            code: 423,
                            reason: resp.reason.clone(),
                        },
                    ),
                }
            }
            408 | 480 | 500 | 503 | 504 => {
                let retry_after = resp
                    .headers
                    .get("Retry-After")
                    .and_then(|v| v.split(';').next()?.trim().parse::<u64>().ok());
                self.retry_later(ctx, purpose, retry_after.map(Duration::from_secs));
            }
            _ => self.fail(
                ctx,
                purpose,
                RegistrationFailure::Rejected {
                    code: resp.status,
                    reason: resp.reason.clone(),
                },
            ),
        }
        self.after_final(ctx);
    }

    pub(crate) fn on_tx_timeout(&mut self, ctx: &mut Ctx<'_>, key: &TxKey) {
        if let State::Sending { purpose, .. } = self.state {
            if self.owns(key) {
                self.retry_later(ctx, purpose, None);
                self.after_final(ctx);
            }
        }
    }

    fn retry_later(&mut self, ctx: &mut Ctx<'_>, purpose: Purpose, after: Option<Duration>) {
        if purpose == Purpose::Unregister {
            self.state = State::Idle;
            return;
        }
        let delay = after.unwrap_or_else(|| backoff(ctx.rng, self.retries));
        self.retries += 1;
        self.state = State::RetryAt {
            at: ctx.now + delay,
        };
    }

    fn fail(&mut self, _ctx: &mut Ctx<'_>, purpose: Purpose, reason: RegistrationFailure) {
        self.state = if purpose == Purpose::Unregister {
            State::Idle
        } else {
            State::Failed(reason)
        };
    }

    /// After a final response: start whatever was wanted while the REGISTER was in flight.
    fn after_final(&mut self, ctx: &mut Ctx<'_>) {
        if !matches!(self.state, State::Sending { .. }) && ctx.connected {
            match (&self.state, self.wanted) {
                (State::Registered { .. }, false) => self.send(ctx, Purpose::Unregister),
                (State::Idle, true) => self.send(ctx, Purpose::Register),
                _ => {}
            }
        }
        self.report(ctx);
    }

    pub(crate) fn handle_timeout(&mut self, ctx: &mut Ctx<'_>) {
        let due = match &self.state {
            State::Registered { refresh_at, .. } => *refresh_at <= ctx.now,
            State::RetryAt { at } => *at <= ctx.now,
            _ => false,
        };
        if due && ctx.connected && self.wanted {
            self.send(ctx, Purpose::Register);
        }
        self.report(ctx);
    }
}

fn set_branch(ctx: &mut Ctx<'_>, req: &mut Request) {
    // A new request, so a new transaction and branch (RFC 3261 §8.1.3.5).
    req.headers.set("Via", ctx.ep.via(&ctx.rng.branch()));
}

fn failure_from_challenge(e: ChallengeError) -> RegistrationFailure {
    match e {
        ChallengeError::Rejected => RegistrationFailure::AuthenticationFailed,
        other => RegistrationFailure::UnsupportedChallenge(other.to_string()),
    }
}

/// The expiry the registrar granted us (RFC 3261 §10.2.4): the `expires` parameter of the
/// Contact that is ours, else the Expires header.
fn granted_expires(ep: &Endpoint, resp: &Response) -> Option<u32> {
    let ours = resp
        .headers
        .get_all("Contact")
        .filter_map(|c| NameAddr::parse(c).ok())
        .find(|na| {
            na.uri.user.as_deref() == Some(ep.contact_user.as_str())
                && na.uri.host.eq_ignore_ascii_case(&ep.via_host)
        });
    if let Some(Some(v)) = ours.as_ref().and_then(|na| na.param("expires")) {
        if let Ok(secs) = v.trim().parse() {
            return Some(secs);
        }
    }
    resp.headers
        .get("Expires")
        .and_then(|v| v.trim().parse().ok())
}
