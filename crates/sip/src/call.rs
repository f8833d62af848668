//! One call: INVITE sessions (RFC 3261 §13-§15) with session timers (RFC 4028), hold by
//! re-INVITE (RFC 3264 §8.4), glare handling (§14.1), SIP INFO DTMF and ICE restarts.
//!
//! Media is asked for, never done: the call emits [`MediaAction`]s (create an offer or an
//! answer, apply an answer, roll back, close) and waits for [`MediaEvent`]s. SDP is carried,
//! never parsed. UI events ([`CallEvent`]) come from confirmed protocol state only: "held"
//! after the 200 to the hold re-INVITE, "established" after the 2xx (UAC) or its ACK (UAS).

use std::collections::VecDeque;

use crate::challenge::{Authenticator, ChallengeError};
use crate::dialog::{Dialog, Role};
use crate::msg::{Message, Method, NameAddr, Request, Response, Uri};
use crate::timer::{Duration, Instant, ACK_WAIT, TIMER_B};
use crate::transaction::{cseq_of, make_response, Transactions, TxKey};
use crate::ua::{Command, Ctx, Event, MediaAction, MediaEvent};

/// Why a call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The callee is busy (486 Busy Here, 600 Busy Everywhere).
    Busy,
    /// The call was cancelled before it was answered (by us, or by the caller's CANCEL).
    Cancelled,
    /// The call attempt was refused with this final response.
    Rejected {
        /// Status code.
        code: u16,
        /// Reason phrase.
        reason: String,
    },
    /// The peer sent BYE.
    RemoteHangup,
    /// We hung up (BYE) or declined an incoming call.
    LocalHangup,
    /// The WebSocket was lost and the call could not be kept.
    TransportLost,
    /// A transaction timed out (Timer B/F), or the ACK of our 2xx never came (§13.3.1.4).
    Timeout,
    /// The session interval ran out without a refresh (RFC 4028 §10).
    SessionExpired,
    /// The media layer produced no usable local description (no ICE candidates).
    NoIceCandidates,
    /// The server kept rejecting our credentials, or used a challenge we cannot answer.
    AuthenticationFailed,
    /// The dial string was not a usable target.
    InvalidTarget(String),
}

/// A call event for the UI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallEvent {
    /// We are placing a call (waiting for the media layer's offer, then the INVITE).
    Dialing {
        /// The Request-URI.
        target: String,
    },
    /// A call is coming in (not auto-answered, or auto-answered: see `auto_answer`).
    Incoming {
        /// The caller's From header value.
        from: String,
        /// Whether it is being answered automatically.
        auto_answer: bool,
    },
    /// The far end is alerting (180).
    Ringing,
    /// The far end sent early media (183 with SDP, or 180 with SDP).
    EarlyMedia,
    /// The call is up (2xx to our INVITE, or the ACK of our 2xx).
    Established,
    /// Our hold re-INVITE was accepted.
    Held,
    /// Our unhold re-INVITE was accepted.
    Resumed,
    /// A hold or unhold attempt failed; the previous state stands.
    HoldFailed {
        /// Status code (0 if the request could not even be sent).
        code: u16,
        /// Reason.
        reason: String,
    },
    /// A DTMF digit was acknowledged by the far end.
    DtmfSent {
        /// The digit.
        digit: char,
    },
    /// A DTMF INFO failed; queued digits were dropped.
    DtmfFailed {
        /// Status code (0 for a timeout or transport error).
        code: u16,
    },
    /// The WebSocket dropped during the call; media may still flow. Reconnect and send
    /// [`Command::IceRestart`] within the recovery window, or the call ends.
    Reconnecting,
    /// Media was renegotiated with an ICE restart after a reconnect.
    Recovered,
    /// The call is over.
    Ended {
        /// Why.
        reason: EndReason,
    },
}

/// Why we are sending a re-INVITE (or UPDATE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Hold,
    Unhold,
    Refresh,
    IceRestart,
}

/// The RFC 4028 session timer of an established call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SessionTimer {
    /// Session interval in seconds (Session-Expires).
    interval: u32,
    /// Whether we are the refresher.
    we_refresh: bool,
    /// When to send the refresh (half the interval, §10), if we are the refresher.
    refresh_at: Option<Instant>,
    /// When to give up and send BYE: interval minus min(32 s, interval/3) (§10).
    expires_at: Instant,
}

impl SessionTimer {
    fn armed(interval: u32, we_refresh: bool, now: Instant) -> SessionTimer {
        let s = u64::from(interval.max(1));
        let margin = (s / 3).min(32);
        SessionTimer {
            interval,
            we_refresh,
            refresh_at: we_refresh.then(|| now + Duration::from_millis(s * 500)),
            expires_at: now + Duration::from_secs(s - margin),
        }
    }

    /// The `refresher` parameter for a request we send: `uac` means "the sender of this
    /// request", which is us (RFC 4028 §7.1).
    fn request_header(&self) -> String {
        format!(
            "{};refresher={}",
            self.interval,
            if self.we_refresh { "uac" } else { "uas" }
        )
    }
}

/// Parses `Session-Expires: 1800;refresher=uac` (RFC 4028 §4).
fn session_expires(headers: &crate::msg::Headers) -> Option<(u32, Option<String>)> {
    let v = headers.get("Session-Expires")?;
    let mut parts = v.split(';');
    let secs = parts.next()?.trim().parse().ok()?;
    let refresher = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("refresher")
            .then(|| v.trim().to_ascii_lowercase())
    });
    Some((secs, refresher))
}

fn min_se(headers: &crate::msg::Headers) -> Option<u32> {
    headers
        .get("Min-SE")?
        .split(';')
        .next()?
        .trim()
        .parse()
        .ok()
}

fn supports(headers: &crate::msg::Headers, option: &str) -> bool {
    headers
        .get_all("Supported")
        .chain(headers.get_all("Require"))
        .any(|v| v.trim().eq_ignore_ascii_case(option))
}

fn sdp_body(msg_headers: &crate::msg::Headers, body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let ct = msg_headers.get("Content-Type").unwrap_or("application/sdp");
    if !ct
        .trim()
        .to_ascii_lowercase()
        .starts_with("application/sdp")
    {
        return None;
    }
    Some(String::from_utf8_lossy(body).into_owned())
}

/// Our re-INVITE / UPDATE machinery (RFC 3261 §14, RFC 3311).
#[derive(Clone, Debug)]
enum Reneg {
    Idle,
    /// Asked the media layer for an offer.
    Offering {
        purpose: Purpose,
    },
    /// Our re-INVITE is in flight.
    Inviting {
        purpose: Purpose,
        key: TxKey,
        request: Request,
    },
    /// Our session-refresh UPDATE (no SDP) is in flight.
    Updating {
        key: TxKey,
        request: Request,
    },
    /// §14.1: after a 491, wait before trying again.
    Backoff {
        purpose: Purpose,
        until: Instant,
    },
    /// The peer's re-INVITE or UPDATE: waiting for the media layer's answer (or offer, if
    /// the re-INVITE had no SDP).
    Answering {
        key: TxKey,
        request: Request,
        late_offer: bool,
        /// Our own renegotiation that was waiting out a §14.1 back-off: resumed after.
        resume: Option<(Purpose, Instant)>,
    },
}

/// The ACK we are waiting for after sending a 2xx to an INVITE (§13.3.1.4).
#[derive(Clone, Copy, Debug)]
struct AckWait {
    deadline: Instant,
    /// The 2xx carried our offer; the ACK carries the answer.
    late_offer: bool,
    /// This is the first INVITE: the call is established on the ACK.
    initial: bool,
}

#[derive(Clone, Debug)]
struct Session {
    dialog: Dialog,
    held: bool,
    reneg: Reneg,
    timer: Option<SessionTimer>,
    ack_wait: Option<AckWait>,
    /// Our last ACK for a 2xx and the INVITE transaction it answered, for retransmitted 2xx.
    last_ack: Option<(TxKey, Request)>,
    dtmf: VecDeque<(char, u32)>,
    info: Option<(TxKey, char)>,
    /// The transport was lost; the call ends at this instant unless recovered.
    lost_deadline: Option<Instant>,
    /// Credentials answering the challenge to our last re-INVITE, for its retry (the digest
    /// covers method and Request-URI, not CSeq or an `auth`-only body).
    reneg_auth: Option<(&'static str, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cancel {
    No,
    /// Hang-up requested before any provisional response: CANCEL as soon as one arrives
    /// (§9.1: a CANCEL before a provisional response SHOULD NOT be sent).
    Wanted,
    /// CANCEL sent; if the INVITE gets no final response by `deadline`, give up (§9.1).
    Sent {
        deadline: Instant,
    },
}

#[derive(Clone, Debug)]
struct Inviting {
    invite: Request,
    key: TxKey,
    provisional: bool,
    cancel: Cancel,
    answer_applied: bool,
}

#[derive(Clone, Debug)]
struct Incoming {
    invite: Request,
    key: TxKey,
    to_tag: String,
    offer: Option<String>,
    answering: bool,
    /// Negotiated session interval and whether we refresh (RFC 4028 §9).
    timer: Option<(u32, bool)>,
    uac_supports_timer: bool,
}

#[derive(Clone, Debug)]
enum Phase {
    /// Outgoing: waiting for the media layer's offer.
    Offering { target: Uri },
    /// Outgoing: INVITE in flight.
    Inviting(Box<Inviting>),
    /// Incoming: alerting, or answering (waiting for the media layer's answer).
    Incoming(Box<Incoming>),
    /// Dialog established.
    Active(Box<Session>),
    /// Over.
    Ended,
}

/// One call, incoming or outgoing.
#[derive(Debug)]
pub struct Call {
    phase: Phase,
    /// Our BYE in flight, if we sent one.
    final_bye: Option<(TxKey, Request)>,
    auth: Authenticator,
    /// The media layer must deliver a local SDP before this instant.
    sdp_deadline: Option<Instant>,
}

impl Call {
    /// Whether the call is over (the user agent then drops it).
    pub fn is_ended(&self) -> bool {
        matches!(self.phase, Phase::Ended)
    }

    /// Whether the call is established and our hold is confirmed.
    pub fn is_held(&self) -> bool {
        matches!(&self.phase, Phase::Active(s) if s.held)
    }

    pub(crate) fn outgoing(ctx: &mut Ctx<'_>, target: Uri) -> Call {
        ctx.event(Event::Call(CallEvent::Dialing {
            target: target.to_string(),
        }));
        ctx.media(MediaAction::CreateOffer {
            ice_restart: false,
            hold: false,
        });
        Call {
            phase: Phase::Offering { target },
            final_bye: None,
            auth: Authenticator::new(
                ctx.ep.config.username.clone(),
                ctx.ep.config.password.clone(),
            ),
            sdp_deadline: Some(ctx.now + ctx.ep.config.local_sdp_timeout),
        }
    }

    pub(crate) fn incoming(
        ctx: &mut Ctx<'_>,
        key: &TxKey,
        invite: Request,
        auto_answer: bool,
    ) -> Option<Call> {
        let config = &ctx.ep.config;
        let offer = sdp_body(&invite.headers, &invite.body);
        if !invite.body.is_empty() && offer.is_none() {
            let mut resp = make_response(&invite, 415, Some(&ctx.rng.tag()));
            resp.headers.push("Accept", "application/sdp");
            ctx.respond(key, resp);
            return None;
        }
        // RFC 3261 §8.2.2.3: option tags we do not support in Require get a 420. We support
        // only `timer` (100rel/PRACK is not implemented, and Asterisk does not require it).
        let unsupported: Vec<&str> = invite
            .headers
            .get_all("Require")
            .map(str::trim)
            .filter(|t| !t.eq_ignore_ascii_case("timer"))
            .collect();
        if !unsupported.is_empty() {
            let mut resp = make_response(&invite, 420, Some(&ctx.rng.tag()));
            resp.headers.push("Unsupported", unsupported.join(", "));
            ctx.respond(key, resp);
            return None;
        }
        let uac_supports_timer = supports(&invite.headers, "timer");
        // RFC 4028 §8: too short an interval is refused with 422 and our Min-SE.
        let mut timer = None;
        if let Some((secs, refresher)) = session_expires(&invite.headers) {
            if secs < config.min_se {
                let mut resp = make_response(&invite, 422, Some(&ctx.rng.tag()));
                resp.headers.push("Min-SE", config.min_se.to_string());
                ctx.respond(key, resp);
                return None;
            }
            // §9: keep the UAC's choice; if it made none, let it refresh when it can.
            let we_refresh = match refresher.as_deref() {
                Some("uas") => true,
                Some(_) => false,
                None => !uac_supports_timer,
            };
            timer = Some((secs, we_refresh));
        }
        let to_tag = ctx.rng.tag();
        let from = invite.headers.get("From").unwrap_or_default().to_string();
        let mut ringing = make_response(&invite, 180, Some(&to_tag));
        decorate_uas(ctx, &invite, &mut ringing);
        ctx.respond(key, ringing);
        ctx.event(Event::Call(CallEvent::Incoming { from, auto_answer }));
        let mut call = Call {
            phase: Phase::Incoming(Box::new(Incoming {
                invite,
                key: key.clone(),
                to_tag,
                offer,
                answering: false,
                timer,
                uac_supports_timer,
            })),
            final_bye: None,
            auth: Authenticator::new(config.username.clone(), config.password.clone()),
            sdp_deadline: None,
        };
        if auto_answer {
            call.answer(ctx);
        }
        Some(call)
    }

    /// Next call timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.sdp_deadline;
        match &self.phase {
            Phase::Inviting(inv) => {
                if let Cancel::Sent { deadline } = inv.cancel {
                    t = crate::timer::earliest(t, Some(deadline));
                }
            }
            Phase::Active(s) => {
                if let Some(timer) = &s.timer {
                    t = crate::timer::earliest(t, timer.refresh_at);
                    t = crate::timer::earliest(t, Some(timer.expires_at));
                }
                t = crate::timer::earliest(t, s.ack_wait.map(|a| a.deadline));
                t = crate::timer::earliest(t, s.lost_deadline);
                if let Reneg::Backoff { until, .. } = s.reneg {
                    t = crate::timer::earliest(t, Some(until));
                }
            }
            _ => {}
        }
        t
    }

    /// Whether an incoming request is for this call (its dialog, or a CANCEL of its INVITE).
    pub(crate) fn handles(&self, req: &Request, tx: &Transactions) -> bool {
        match &self.phase {
            Phase::Active(s) => s.dialog.matches_request(req),
            Phase::Incoming(inc) => {
                req.method == Method::Cancel
                    && tx.invite_for_cancel(req).is_some_and(|s| s.key == inc.key)
            }
            _ => false,
        }
    }

    fn end(&mut self, ctx: &mut Ctx<'_>, reason: EndReason, close_media: bool) {
        if close_media {
            ctx.media(MediaAction::CloseMedia);
        }
        ctx.event(Event::Call(CallEvent::Ended { reason }));
        self.phase = Phase::Ended;
        self.sdp_deadline = None;
    }

    fn answer(&mut self, ctx: &mut Ctx<'_>) {
        let Phase::Incoming(inc) = &mut self.phase else {
            return;
        };
        if inc.answering {
            return;
        }
        inc.answering = true;
        match &inc.offer {
            Some(sdp) => ctx.media(MediaAction::CreateAnswer {
                remote_sdp: sdp.clone(),
            }),
            // Late offer (§13.2.1): we offer in the 2xx, the answer comes in the ACK.
            None => ctx.media(MediaAction::CreateOffer {
                ice_restart: false,
                hold: false,
            }),
        }
        self.sdp_deadline = Some(ctx.now + ctx.ep.config.local_sdp_timeout);
    }

    pub(crate) fn on_command(&mut self, ctx: &mut Ctx<'_>, cmd: Command) {
        match cmd {
            Command::Answer => self.answer(ctx),
            Command::Hangup => self.hangup(ctx),
            Command::Hold | Command::Unhold => {
                let hold = cmd == Command::Hold;
                let Phase::Active(s) = &mut self.phase else {
                    return;
                };
                if s.held == hold {
                    return;
                }
                if !matches!(s.reneg, Reneg::Idle) || !ctx.connected || s.lost_deadline.is_some() {
                    ctx.event(Event::Call(CallEvent::HoldFailed {
                        code: 0,
                        reason: "renegotiation not possible now".into(),
                    }));
                    return;
                }
                self.start_reneg(ctx, if hold { Purpose::Hold } else { Purpose::Unhold });
            }
            Command::IceRestart => {
                let Phase::Active(s) = &mut self.phase else {
                    return;
                };
                if !ctx.connected {
                    return;
                }
                match s.reneg {
                    Reneg::Idle | Reneg::Backoff { .. } => {
                        self.start_reneg(ctx, Purpose::IceRestart)
                    }
                    // Busy: whatever is in flight finishes first; the caller may ask again.
                    _ => {}
                }
            }
            Command::SendDtmf { digit, duration_ms } => {
                let Phase::Active(s) = &mut self.phase else {
                    return;
                };
                let digit = digit.to_ascii_uppercase();
                if !matches!(digit, '0'..='9' | '*' | '#' | 'A'..='D') {
                    return;
                }
                s.dtmf.push_back((digit, duration_ms.clamp(40, 5000)));
                self.pump_dtmf(ctx);
            }
            Command::Register
            | Command::Unregister
            | Command::Call { .. }
            | Command::SetAutoAnswer(_) => {}
        }
    }

    fn hangup(&mut self, ctx: &mut Ctx<'_>) {
        match &mut self.phase {
            Phase::Offering { .. } => self.end(ctx, EndReason::LocalHangup, true),
            Phase::Inviting(inv) => match inv.cancel {
                Cancel::No if inv.provisional => self.send_cancel(ctx),
                Cancel::No => inv.cancel = Cancel::Wanted,
                _ => {}
            },
            Phase::Incoming(inc) => {
                // Declining (RFC 3261 §21.6.2).
                let resp = make_response(&inc.invite, 603, Some(&inc.to_tag));
                let key = inc.key.clone();
                let answering = inc.answering;
                ctx.respond(&key, resp);
                self.end(ctx, EndReason::LocalHangup, answering);
            }
            Phase::Active(_) => {
                self.send_bye(ctx);
                self.end(ctx, EndReason::LocalHangup, true);
            }
            Phase::Ended => {}
        }
    }

    fn send_bye(&mut self, ctx: &mut Ctx<'_>) {
        let Phase::Active(s) = &mut self.phase else {
            return;
        };
        if !ctx.connected {
            return;
        }
        let mut bye = s.dialog.request(Method::Bye, ctx.ep.via(&ctx.rng.branch()));
        ctx.ep.decorate(&mut bye.headers);
        let key = ctx.send_request(&bye);
        self.final_bye = Some((key, bye));
    }

    /// The BYE that ended this call, still in flight, to be followed up after the call is
    /// gone (a proxy may challenge it).
    pub(crate) fn take_final_bye(&mut self) -> Option<PendingBye> {
        let (key, request) = self.final_bye.take()?;
        Some(PendingBye {
            key,
            request,
            auth: self.auth.clone(),
        })
    }

    /// CANCEL (§9.1): same Request-URI, Call-ID, To, From, CSeq number and top Via as the
    /// INVITE, method CANCEL.
    fn send_cancel(&mut self, ctx: &mut Ctx<'_>) {
        let Phase::Inviting(inv) = &mut self.phase else {
            return;
        };
        let invite = &inv.invite;
        let mut cancel = Request::new(Method::Cancel, invite.uri.clone());
        for name in ["Via", "Route"] {
            if let Some(v) = invite.headers.get_all(name).next() {
                cancel.headers.push(name, v);
            }
        }
        cancel.headers.push("Max-Forwards", "70");
        for name in ["To", "From", "Call-ID"] {
            if let Some(v) = invite.headers.get(name) {
                cancel.headers.push(name, v);
            }
        }
        let seq = cseq_of(&invite.headers).map(|c| c.seq).unwrap_or(1);
        cancel.headers.push("CSeq", format!("{seq} CANCEL"));
        cancel
            .headers
            .push("User-Agent", ctx.ep.config.user_agent.clone());
        ctx.send_request(&cancel);
        inv.cancel = Cancel::Sent {
            deadline: ctx.now + TIMER_B,
        };
    }

    pub(crate) fn on_media(&mut self, ctx: &mut Ctx<'_>, ev: MediaEvent) {
        match ev {
            MediaEvent::LocalSdpReady { sdp } => self.on_local_sdp(ctx, sdp),
            MediaEvent::IceGatheringTimedOut | MediaEvent::NoCandidates => {
                self.on_media_failure(ctx)
            }
        }
    }

    fn on_local_sdp(&mut self, ctx: &mut Ctx<'_>, sdp: String) {
        self.sdp_deadline = None;
        match &mut self.phase {
            Phase::Offering { target } => {
                if !ctx.connected {
                    self.end(ctx, EndReason::TransportLost, true);
                    return;
                }
                let invite = initial_invite(ctx, target.clone(), sdp);
                let key = ctx.send_request(&invite);
                self.phase = Phase::Inviting(Box::new(Inviting {
                    invite,
                    key,
                    provisional: false,
                    cancel: Cancel::No,
                    answer_applied: false,
                }));
            }
            Phase::Incoming(inc) if inc.answering => {
                let mut ok = make_response(&inc.invite, 200, Some(&inc.to_tag));
                decorate_uas(ctx, &inc.invite, &mut ok);
                if let Some((secs, we_refresh)) = inc.timer {
                    ok.headers.push(
                        "Session-Expires",
                        format!(
                            "{secs};refresher={}",
                            if we_refresh { "uas" } else { "uac" }
                        ),
                    );
                    if inc.uac_supports_timer {
                        ok.headers.push("Require", "timer");
                    }
                }
                ok.headers.push("Content-Type", "application/sdp");
                ok.body = sdp.into_bytes();
                let key = inc.key.clone();
                let Some(dialog) = Dialog::from_uas(&inc.invite, &inc.to_tag) else {
                    ctx.respond(&key, make_response(&inc.invite, 400, Some(&inc.to_tag)));
                    self.end(
                        ctx,
                        EndReason::Rejected {
                            code: 400,
                            reason: "Bad Request".into(),
                        },
                        true,
                    );
                    return;
                };
                let timer = inc
                    .timer
                    .map(|(secs, we)| SessionTimer::armed(secs, we, ctx.now));
                let late_offer = inc.offer.is_none();
                ctx.respond(&key, ok);
                self.phase = Phase::Active(Box::new(Session {
                    dialog,
                    held: false,
                    reneg: Reneg::Idle,
                    timer,
                    ack_wait: Some(AckWait {
                        deadline: ctx.now + ACK_WAIT,
                        late_offer,
                        initial: true,
                    }),
                    last_ack: None,
                    dtmf: VecDeque::new(),
                    info: None,
                    lost_deadline: None,
                    reneg_auth: None,
                }));
            }
            Phase::Active(s) => match std::mem::replace(&mut s.reneg, Reneg::Idle) {
                Reneg::Offering { purpose } => {
                    if !ctx.connected {
                        ctx.media(MediaAction::RollbackOffer);
                        return;
                    }
                    let mut req = s
                        .dialog
                        .request(Method::Invite, ctx.ep.via(&ctx.rng.branch()));
                    req.headers.push("Contact", ctx.ep.dialog_contact());
                    ctx.ep.decorate(&mut req.headers);
                    if let Some(timer) = &s.timer {
                        req.headers.push("Session-Expires", timer.request_header());
                        req.headers.push("Min-SE", ctx.ep.config.min_se.to_string());
                    }
                    if let Some((name, value)) = s.reneg_auth.take() {
                        req.headers.push(name, value);
                    }
                    req.headers.push("Content-Type", "application/sdp");
                    req.body = sdp.into_bytes();
                    let key = ctx.send_request(&req);
                    s.reneg = Reneg::Inviting {
                        purpose,
                        key,
                        request: req,
                    };
                }
                Reneg::Answering {
                    key,
                    request,
                    late_offer,
                    resume,
                } => {
                    if let Some((purpose, until)) = resume {
                        s.reneg = Reneg::Backoff { purpose, until };
                    }
                    let mut ok = make_response(&request, 200, Some(&s.dialog.local_tag));
                    ok.headers.push("Contact", ctx.ep.dialog_contact());
                    ctx.ep.decorate(&mut ok.headers);
                    let refreshed = refresh_on_request(ctx, s, &request);
                    if let Some(v) = refreshed {
                        ok.headers.push("Session-Expires", v);
                        ok.headers.push("Require", "timer");
                    }
                    ok.headers.push("Content-Type", "application/sdp");
                    ok.body = sdp.into_bytes();
                    s.dialog.refresh_target(&request.headers);
                    if request.method == Method::Invite {
                        s.ack_wait = Some(AckWait {
                            deadline: ctx.now + ACK_WAIT,
                            late_offer,
                            initial: false,
                        });
                    }
                    ctx.respond(&key, ok);
                }
                other => s.reneg = other,
            },
            _ => {}
        }
    }

    fn on_media_failure(&mut self, ctx: &mut Ctx<'_>) {
        self.sdp_deadline = None;
        match &mut self.phase {
            // Nothing was sent yet: no INVITE, no CANCEL, just a clear reason.
            Phase::Offering { .. } => self.end(ctx, EndReason::NoIceCandidates, true),
            Phase::Incoming(inc) if inc.answering => {
                let resp = make_response(&inc.invite, 488, Some(&inc.to_tag));
                let key = inc.key.clone();
                ctx.respond(&key, resp);
                self.end(ctx, EndReason::NoIceCandidates, true);
            }
            Phase::Active(s) => match std::mem::replace(&mut s.reneg, Reneg::Idle) {
                Reneg::Offering { purpose } => match purpose {
                    Purpose::Hold | Purpose::Unhold => {
                        ctx.event(Event::Call(CallEvent::HoldFailed {
                            code: 0,
                            reason: "no local description".into(),
                        }))
                    }
                    Purpose::IceRestart if s.lost_deadline.is_some() => {
                        // Recovery impossible without candidates.
                        self.send_bye(ctx);
                        self.end(ctx, EndReason::NoIceCandidates, true);
                    }
                    _ => {}
                },
                Reneg::Answering {
                    key,
                    request,
                    resume,
                    ..
                } => {
                    ctx.respond(
                        &key,
                        make_response(&request, 488, Some(&s.dialog.local_tag)),
                    );
                    if let Some((purpose, until)) = resume {
                        s.reneg = Reneg::Backoff { purpose, until };
                    }
                }
                other => s.reneg = other,
            },
            _ => {}
        }
    }

    fn start_reneg(&mut self, ctx: &mut Ctx<'_>, purpose: Purpose) {
        let Phase::Active(s) = &mut self.phase else {
            return;
        };
        let hold = match purpose {
            Purpose::Hold => true,
            Purpose::Unhold => false,
            Purpose::Refresh | Purpose::IceRestart => s.held,
        };
        s.reneg = Reneg::Offering { purpose };
        ctx.media(MediaAction::CreateOffer {
            ice_restart: purpose == Purpose::IceRestart,
            hold,
        });
        self.sdp_deadline = Some(ctx.now + ctx.ep.config.local_sdp_timeout);
    }

    /// Session refresh (RFC 4028 §7.4): UPDATE without a body if the peer allows UPDATE
    /// (RFC 3311), else a re-INVITE with a fresh offer.
    fn start_refresh(&mut self, ctx: &mut Ctx<'_>) {
        let Phase::Active(s) = &mut self.phase else {
            return;
        };
        if !matches!(s.reneg, Reneg::Idle) || !ctx.connected {
            return;
        }
        if s.dialog.remote_allows(&Method::Update) {
            let mut req = s
                .dialog
                .request(Method::Update, ctx.ep.via(&ctx.rng.branch()));
            req.headers.push("Contact", ctx.ep.dialog_contact());
            ctx.ep.decorate(&mut req.headers);
            if let Some(timer) = &s.timer {
                req.headers.push("Session-Expires", timer.request_header());
                req.headers.push("Min-SE", ctx.ep.config.min_se.to_string());
            }
            let key = ctx.send_request(&req);
            s.reneg = Reneg::Updating { key, request: req };
        } else {
            self.start_reneg(ctx, Purpose::Refresh);
        }
    }

    fn pump_dtmf(&mut self, ctx: &mut Ctx<'_>) {
        let Phase::Active(s) = &mut self.phase else {
            return;
        };
        if s.info.is_some() || !ctx.connected {
            return;
        }
        let Some((digit, duration)) = s.dtmf.pop_front() else {
            return;
        };
        let mut info = s
            .dialog
            .request(Method::Info, ctx.ep.via(&ctx.rng.branch()));
        ctx.ep.decorate(&mut info.headers);
        info.headers.push("Content-Type", "application/dtmf-relay");
        info.body = format!("Signal={digit}\r\nDuration={duration}\r\n").into_bytes();
        let key = ctx.send_request(&info);
        s.info = Some((key, digit));
    }

    pub(crate) fn on_response(&mut self, ctx: &mut Ctx<'_>, key: &TxKey, resp: &Response) {
        match &mut self.phase {
            Phase::Inviting(inv) if &inv.key == key => self.on_invite_response(ctx, resp),
            Phase::Active(s) => {
                if s.info.as_ref().is_some_and(|(k, _)| k == key) {
                    if resp.status < 200 {
                        return;
                    }
                    let (_, digit) = s.info.take().unwrap_or_else(|| (key.clone(), ' '));
                    if resp.status < 300 {
                        ctx.event(Event::Call(CallEvent::DtmfSent { digit }));
                    } else {
                        s.dtmf.clear();
                        ctx.event(Event::Call(CallEvent::DtmfFailed { code: resp.status }));
                    }
                    self.pump_dtmf(ctx);
                    return;
                }
                let ours = match &s.reneg {
                    Reneg::Inviting { key: k, .. } | Reneg::Updating { key: k, .. } => k == key,
                    _ => false,
                };
                if ours && resp.status >= 200 {
                    self.on_reneg_response(ctx, resp);
                }
            }
            _ => {}
        }
    }

    fn on_invite_response(&mut self, ctx: &mut Ctx<'_>, resp: &Response) {
        let Phase::Inviting(inv) = &mut self.phase else {
            return;
        };
        let status = resp.status;
        if status < 200 {
            if status == 100 {
                return;
            }
            inv.provisional = true;
            let sdp = sdp_body(&resp.headers, &resp.body);
            if let Some(sdp) = sdp.filter(|_| !inv.answer_applied) {
                inv.answer_applied = true;
                ctx.media(MediaAction::ApplyRemoteAnswer { sdp });
                ctx.event(Event::Call(CallEvent::EarlyMedia));
            } else if status == 180 {
                ctx.event(Event::Call(CallEvent::Ringing));
            }
            if inv.cancel == Cancel::Wanted {
                self.send_cancel(ctx);
            }
            return;
        }
        if status < 300 {
            let Some(dialog) = Dialog::from_uac(&inv.invite, resp) else {
                self.end(
                    ctx,
                    EndReason::Rejected {
                        code: status,
                        reason: "2xx without a usable To tag".into(),
                    },
                    true,
                );
                return;
            };
            let seq = cseq_of(&inv.invite.headers).map(|c| c.seq).unwrap_or(1);
            // §13.2.2.4: the ACK of a 2xx is built by the UAC core, in the dialog, with the
            // INVITE's CSeq number and a new branch, and sent outside any transaction.
            let ack = dialog.request_with_seq(Method::Ack, ctx.ep.via(&ctx.rng.branch()), seq);
            ctx.send(&Message::Request(ack.clone()));
            let cancelled = inv.cancel != Cancel::No;
            let sdp = sdp_body(&resp.headers, &resp.body).filter(|_| !inv.answer_applied);
            let key = inv.key.clone();
            let timer = session_expires(&resp.headers).map(|(secs, refresher)| {
                SessionTimer::armed(secs, refresher.as_deref() != Some("uas"), ctx.now)
            });
            self.auth.succeeded();
            self.phase = Phase::Active(Box::new(Session {
                dialog,
                held: false,
                reneg: Reneg::Idle,
                timer,
                ack_wait: None,
                last_ack: Some((key, ack)),
                dtmf: VecDeque::new(),
                info: None,
                lost_deadline: None,
                reneg_auth: None,
            }));
            if cancelled {
                // §9.1 / §15: the 200 crossed our CANCEL; the call must still be torn down.
                self.send_bye(ctx);
                self.end(ctx, EndReason::Cancelled, true);
                return;
            }
            if let Some(sdp) = sdp {
                ctx.media(MediaAction::ApplyRemoteAnswer { sdp });
            }
            ctx.event(Event::Call(CallEvent::Established));
            return;
        }
        // Failure. The transaction layer already sent the ACK (§17.1.1.3).
        if (status == 401 || status == 407 || status == 422) && inv.cancel == Cancel::No {
            let mut retry = inv.invite.clone();
            let seq = cseq_of(&retry.headers).map(|c| c.seq).unwrap_or(1) + 1;
            retry.headers.set("CSeq", format!("{seq} INVITE"));
            retry.headers.set("Via", ctx.ep.via(&ctx.rng.branch()));
            if status == 422 {
                // RFC 4028 §7.4: retry with the larger Min-SE as our interval.
                match min_se(&resp.headers) {
                    Some(m) if m > session_expires(&retry.headers).map(|s| s.0).unwrap_or(0) => {
                        retry.headers.set("Session-Expires", m.to_string());
                        retry.headers.set("Min-SE", m.to_string());
                    }
                    _ => {
                        self.end(
                            ctx,
                            EndReason::Rejected {
                                code: 422,
                                reason: resp.reason.clone(),
                            },
                            true,
                        );
                        return;
                    }
                }
            } else {
                retry.headers.remove("Authorization");
                retry.headers.remove("Proxy-Authorization");
                let cnonce = ctx.rng.token(12);
                match self.auth.answer(&retry, resp, &cnonce) {
                    Ok((name, value)) => retry.headers.push(name, value),
                    Err(ChallengeError::Rejected) => {
                        self.end(ctx, EndReason::AuthenticationFailed, true);
                        return;
                    }
                    Err(_) => {
                        self.end(ctx, EndReason::AuthenticationFailed, true);
                        return;
                    }
                }
            }
            let key = ctx.send_request(&retry);
            let Phase::Inviting(inv) = &mut self.phase else {
                return;
            };
            inv.invite = retry;
            inv.key = key;
            inv.provisional = false;
            return;
        }
        let cancelled = inv.cancel != Cancel::No;
        let reason = match status {
            // We hung up first: whatever the final response, the user cancelled.
            _ if cancelled => EndReason::Cancelled,
            486 | 600 => EndReason::Busy,
            487 => EndReason::Cancelled,
            408 => EndReason::Timeout,
            _ => EndReason::Rejected {
                code: status,
                reason: resp.reason.clone(),
            },
        };
        self.end(ctx, reason, true);
    }

    fn on_reneg_response(&mut self, ctx: &mut Ctx<'_>, resp: &Response) {
        let Phase::Active(s) = &mut self.phase else {
            return;
        };
        let status = resp.status;
        let (purpose, request, is_invite) = match std::mem::replace(&mut s.reneg, Reneg::Idle) {
            Reneg::Inviting {
                purpose,
                request,
                key,
            } => {
                if (200..300).contains(&status) {
                    let seq = cseq_of(&request.headers)
                        .map(|c| c.seq)
                        .unwrap_or(s.dialog.local_seq);
                    let ack =
                        s.dialog
                            .request_with_seq(Method::Ack, ctx.ep.via(&ctx.rng.branch()), seq);
                    ctx.send(&Message::Request(ack.clone()));
                    s.last_ack = Some((key, ack));
                }
                (purpose, request, true)
            }
            Reneg::Updating { request, .. } => (Purpose::Refresh, request, false),
            other => {
                s.reneg = other;
                return;
            }
        };
        if (200..300).contains(&status) {
            s.dialog.refresh_target(&resp.headers);
            if is_invite {
                if let Some(sdp) = sdp_body(&resp.headers, &resp.body) {
                    ctx.media(MediaAction::ApplyRemoteAnswer { sdp });
                }
            }
            // RFC 4028 §7.2: the 2xx of a refresh states the interval and who refreshes.
            if let Some((secs, refresher)) = session_expires(&resp.headers) {
                s.timer = Some(SessionTimer::armed(
                    secs,
                    refresher.as_deref() != Some("uas"),
                    ctx.now,
                ));
            } else if let Some(t) = s.timer {
                s.timer = Some(SessionTimer::armed(t.interval, t.we_refresh, ctx.now));
            }
            self.auth.succeeded();
            match purpose {
                Purpose::Hold => {
                    s.held = true;
                    ctx.event(Event::Call(CallEvent::Held));
                }
                Purpose::Unhold => {
                    s.held = false;
                    ctx.event(Event::Call(CallEvent::Resumed));
                }
                Purpose::IceRestart => {
                    s.lost_deadline = None;
                    ctx.event(Event::Call(CallEvent::Recovered));
                }
                Purpose::Refresh => {}
            }
            self.pump_dtmf(ctx);
            return;
        }
        // A failed offer/answer leaves the session as it was (§14.1): roll the offer back.
        if is_invite {
            ctx.media(MediaAction::RollbackOffer);
        }
        match status {
            401 | 407 | 422 => {
                let mut retry = request;
                s.dialog.local_seq += 1;
                let method = retry.method.clone();
                retry
                    .headers
                    .set("CSeq", format!("{} {method}", s.dialog.local_seq));
                retry.headers.set("Via", ctx.ep.via(&ctx.rng.branch()));
                let ok = if status == 422 {
                    match (min_se(&resp.headers), s.timer.as_mut()) {
                        (Some(m), Some(t)) if m > t.interval => {
                            t.interval = m;
                            retry.headers.set("Session-Expires", t.request_header());
                            retry.headers.set("Min-SE", m.to_string());
                            true
                        }
                        _ => false,
                    }
                } else {
                    retry.headers.remove("Authorization");
                    retry.headers.remove("Proxy-Authorization");
                    let cnonce = ctx.rng.token(12);
                    match self.auth.answer(&retry, resp, &cnonce) {
                        Ok((name, value)) => {
                            if let Phase::Active(s) = &mut self.phase {
                                s.reneg_auth = Some((name, value.clone()));
                            }
                            retry.headers.push(name, value);
                            true
                        }
                        Err(_) => false,
                    }
                };
                if ok {
                    if is_invite {
                        // The offer was rolled back; ask for a new one rather than reusing
                        // an SDP the media layer no longer holds.
                        let Phase::Active(s) = &mut self.phase else {
                            return;
                        };
                        s.dialog.local_seq -= 1;
                        self.start_reneg(ctx, purpose);
                    } else {
                        let key = ctx.send_request(&retry);
                        let Phase::Active(s) = &mut self.phase else {
                            return;
                        };
                        s.reneg = Reneg::Updating {
                            key,
                            request: retry,
                        };
                    }
                } else {
                    self.reneg_failed(ctx, purpose, status, resp.reason.clone());
                }
            }
            491 => {
                // §14.1: retry after a random 2.1-4 s if we own the Call-ID (we sent the
                // initial INVITE), else after 0-2 s.
                let wait = if s.dialog.role == Role::Uac {
                    ctx.rng
                        .between(Duration::from_millis(2100), Duration::from_millis(4000))
                } else {
                    ctx.rng.between(Duration::ZERO, Duration::from_millis(2000))
                };
                s.reneg = Reneg::Backoff {
                    purpose,
                    until: ctx.now + wait,
                };
            }
            408 | 481 => {
                // §14.1: the dialog is gone (481) or unreachable (408): end the call.
                if status == 408 {
                    self.send_bye(ctx);
                }
                let reason = if status == 408 {
                    EndReason::Timeout
                } else {
                    EndReason::Rejected {
                        code: 481,
                        reason: resp.reason.clone(),
                    }
                };
                self.end(ctx, reason, true);
            }
            _ => self.reneg_failed(ctx, purpose, status, resp.reason.clone()),
        }
    }

    fn reneg_failed(&mut self, ctx: &mut Ctx<'_>, purpose: Purpose, code: u16, reason: String) {
        match purpose {
            Purpose::Hold | Purpose::Unhold => {
                ctx.event(Event::Call(CallEvent::HoldFailed { code, reason }))
            }
            Purpose::IceRestart => {
                self.send_bye(ctx);
                self.end(ctx, EndReason::TransportLost, true);
            }
            // The session goes on; if nobody refreshes it, it expires (§10).
            Purpose::Refresh => {}
        }
    }

    pub(crate) fn on_2xx_retransmission(
        &mut self,
        ctx: &mut Ctx<'_>,
        key: &TxKey,
        resp: &Response,
    ) {
        let Phase::Active(s) = &self.phase else {
            return;
        };
        let Some((k, ack)) = &s.last_ack else {
            return;
        };
        if k != key {
            return;
        }
        if s.dialog.matches_response(resp) {
            ctx.send(&Message::Request(ack.clone()));
            return;
        }
        // §13.2.2.4: a 2xx from another fork creates another dialog; we keep only the first,
        // so ACK this one and BYE it at once.
        let Some(invite) = ctx.tx.client(key).map(|c| c.request.clone()) else {
            return;
        };
        let Some(mut other) = Dialog::from_uac(&invite, resp) else {
            return;
        };
        let seq = other.local_seq;
        let ack = other.request_with_seq(Method::Ack, ctx.ep.via(&ctx.rng.branch()), seq);
        ctx.send(&Message::Request(ack));
        let mut bye = other.request(Method::Bye, ctx.ep.via(&ctx.rng.branch()));
        ctx.ep.decorate(&mut bye.headers);
        ctx.send_request(&bye);
    }

    pub(crate) fn on_ack(&mut self, ctx: &mut Ctx<'_>, ack: &Request) {
        let Phase::Active(s) = &mut self.phase else {
            return;
        };
        if !s.dialog.matches_request(ack) {
            return;
        }
        let Some(wait) = s.ack_wait.take() else {
            return;
        };
        if wait.late_offer {
            match sdp_body(&ack.headers, &ack.body) {
                Some(sdp) => ctx.media(MediaAction::ApplyRemoteAnswer { sdp }),
                None => {
                    // §13.3.1.4 / RFC 3264: no answer in the ACK; the session cannot work.
                    self.send_bye(ctx);
                    self.end(
                        ctx,
                        EndReason::Rejected {
                            code: 400,
                            reason: "ACK without answer".into(),
                        },
                        true,
                    );
                    return;
                }
            }
        }
        if wait.initial {
            ctx.event(Event::Call(CallEvent::Established));
        }
    }

    pub(crate) fn on_request(&mut self, ctx: &mut Ctx<'_>, key: &TxKey, req: Request) {
        if req.method == Method::Cancel {
            let Phase::Incoming(inc) = &self.phase else {
                return;
            };
            // §9.2: 200 to the CANCEL, 487 to the INVITE.
            ctx.respond(key, make_response(&req, 200, Some(&inc.to_tag)));
            let invite_key = inc.key.clone();
            let resp = make_response(&inc.invite, 487, Some(&inc.to_tag));
            let answering = inc.answering;
            ctx.respond(&invite_key, resp);
            self.end(ctx, EndReason::Cancelled, answering);
            return;
        }
        let Phase::Active(s) = &mut self.phase else {
            return;
        };
        let tag = s.dialog.local_tag.clone();
        if !s.dialog.accept_remote_cseq(&req) {
            // §12.2.2: lower CSeq than the last one: out of order.
            ctx.respond(key, make_response(&req, 500, Some(&tag)));
            return;
        }
        match req.method {
            Method::Bye => {
                ctx.respond(key, make_response(&req, 200, Some(&tag)));
                self.end(ctx, EndReason::RemoteHangup, true);
            }
            Method::Invite | Method::Update => {
                let offer = sdp_body(&req.headers, &req.body);
                let busy = !matches!(s.reneg, Reneg::Idle | Reneg::Backoff { .. })
                    || (req.method == Method::Invite && s.ack_wait.is_some());
                if busy {
                    // §14.2 / RFC 3311 §5.2: an offer while ours is pending: glare.
                    let mut resp = make_response(&req, 491, Some(&tag));
                    resp.headers.push("Retry-After", "1");
                    ctx.respond(key, resp);
                    return;
                }
                if let Some((secs, _)) = session_expires(&req.headers) {
                    if secs < ctx.ep.config.min_se {
                        let mut resp = make_response(&req, 422, Some(&tag));
                        resp.headers
                            .push("Min-SE", ctx.ep.config.min_se.to_string());
                        ctx.respond(key, resp);
                        return;
                    }
                }
                let is_invite = req.method == Method::Invite;
                if offer.is_none() && !is_invite {
                    // A session refresh by UPDATE without SDP (RFC 4028 §7.4, RFC 3311).
                    let mut ok = make_response(&req, 200, Some(&tag));
                    ok.headers.push("Contact", ctx.ep.dialog_contact());
                    ctx.ep.decorate(&mut ok.headers);
                    if let Some(v) = refresh_on_request(ctx, s, &req) {
                        ok.headers.push("Session-Expires", v);
                        ok.headers.push("Require", "timer");
                    }
                    s.dialog.refresh_target(&req.headers);
                    ctx.respond(key, ok);
                    return;
                }
                // Our re-INVITE waiting out a 491 back-off yields to theirs and resumes after.
                let resume = match s.reneg {
                    Reneg::Backoff { purpose, until } => Some((purpose, until)),
                    _ => None,
                };
                let late_offer = offer.is_none();
                match offer {
                    Some(sdp) => ctx.media(MediaAction::CreateAnswer { remote_sdp: sdp }),
                    None => ctx.media(MediaAction::CreateOffer {
                        ice_restart: false,
                        hold: s.held,
                    }),
                }
                s.reneg = Reneg::Answering {
                    key: key.clone(),
                    request: req,
                    late_offer,
                    resume,
                };
                self.sdp_deadline = Some(ctx.now + ctx.ep.config.local_sdp_timeout);
            }
            Method::Info | Method::Notify => ctx.respond(key, make_response(&req, 200, Some(&tag))),
            _ => {
                let mut resp = make_response(&req, 405, Some(&tag));
                resp.headers.push("Allow", crate::ua::ALLOW);
                ctx.respond(key, resp);
            }
        }
    }

    pub(crate) fn on_tx_timeout(&mut self, ctx: &mut Ctx<'_>, key: &TxKey) {
        match &mut self.phase {
            Phase::Inviting(inv) if &inv.key == key => {
                let reason = if inv.cancel == Cancel::No {
                    EndReason::Timeout
                } else {
                    EndReason::Cancelled
                };
                self.end(ctx, reason, true);
            }
            Phase::Active(s) => {
                if s.info.as_ref().is_some_and(|(k, _)| k == key) {
                    s.info = None;
                    s.dtmf.clear();
                    ctx.event(Event::Call(CallEvent::DtmfFailed { code: 0 }));
                    return;
                }
                let ours = match &s.reneg {
                    Reneg::Inviting { key: k, .. } | Reneg::Updating { key: k, .. } => k == key,
                    _ => false,
                };
                if ours {
                    if matches!(s.reneg, Reneg::Inviting { .. }) {
                        ctx.media(MediaAction::RollbackOffer);
                    }
                    s.reneg = Reneg::Idle;
                    // §14.1: a re-INVITE timing out ends the dialog.
                    self.send_bye(ctx);
                    self.end(ctx, EndReason::Timeout, true);
                }
            }
            _ => {}
        }
    }

    pub(crate) fn on_transport_lost(&mut self, ctx: &mut Ctx<'_>) {
        match &mut self.phase {
            Phase::Offering { .. } | Phase::Inviting(_) => {
                self.end(ctx, EndReason::TransportLost, true)
            }
            Phase::Incoming(inc) => {
                let answering = inc.answering;
                self.end(ctx, EndReason::TransportLost, answering);
            }
            Phase::Active(s) => {
                // Media is peer-to-peer (or via the media server) and may survive; keep the
                // dialog for a while so the caller can reconnect and restart ICE.
                match std::mem::replace(&mut s.reneg, Reneg::Idle) {
                    Reneg::Inviting { purpose, .. } => {
                        ctx.media(MediaAction::RollbackOffer);
                        if matches!(purpose, Purpose::Hold | Purpose::Unhold) {
                            ctx.event(Event::Call(CallEvent::HoldFailed {
                                code: 0,
                                reason: "transport lost".into(),
                            }));
                        }
                    }
                    // Whatever the media layer is preparing is rolled back when it arrives.
                    Reneg::Offering { purpose } => s.reneg = Reneg::Offering { purpose },
                    _ => {}
                }
                if s.info.take().is_some() || !s.dtmf.is_empty() {
                    s.dtmf.clear();
                    ctx.event(Event::Call(CallEvent::DtmfFailed { code: 0 }));
                }
                s.ack_wait = None;
                if s.lost_deadline.is_none() {
                    s.lost_deadline = Some(ctx.now + ctx.ep.config.call_recovery_window);
                }
                ctx.event(Event::Call(CallEvent::Reconnecting));
            }
            Phase::Ended => {}
        }
    }

    pub(crate) fn handle_timeout(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now;
        if self.sdp_deadline.is_some_and(|d| d <= now) {
            self.on_media_failure(ctx);
        }
        match &mut self.phase {
            Phase::Inviting(inv) => {
                if matches!(inv.cancel, Cancel::Sent { deadline } if deadline <= now) {
                    self.end(ctx, EndReason::Cancelled, true);
                }
            }
            Phase::Active(s) => {
                if s.lost_deadline.is_some_and(|d| d <= now) {
                    self.send_bye(ctx);
                    self.end(ctx, EndReason::TransportLost, true);
                    return;
                }
                if s.ack_wait.is_some_and(|a| a.deadline <= now) {
                    // §13.3.1.4: no ACK for our 2xx within 64*T1: end the session with BYE.
                    self.send_bye(ctx);
                    self.end(ctx, EndReason::Timeout, true);
                    return;
                }
                if let Some(timer) = &mut s.timer {
                    if timer.expires_at <= now {
                        // RFC 4028 §10: no refresh in time: BYE.
                        self.send_bye(ctx);
                        self.end(ctx, EndReason::SessionExpired, true);
                        return;
                    }
                    if timer.refresh_at.is_some_and(|r| r <= now) {
                        timer.refresh_at = None;
                        self.start_refresh(ctx);
                        return;
                    }
                }
                if let Reneg::Backoff { purpose, until } = s.reneg {
                    if until <= now {
                        s.reneg = Reneg::Idle;
                        if ctx.connected {
                            self.start_reneg(ctx, purpose);
                        } else if matches!(purpose, Purpose::Hold | Purpose::Unhold) {
                            ctx.event(Event::Call(CallEvent::HoldFailed {
                                code: 491,
                                reason: "Request Pending".into(),
                            }));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// RFC 4028 §9: the session timer after a refresh request from the peer. Returns the
/// Session-Expires value for our 2xx, if the request carried one.
fn refresh_on_request(ctx: &Ctx<'_>, s: &mut Session, req: &Request) -> Option<String> {
    match session_expires(&req.headers) {
        Some((secs, refresher)) => {
            // `uac` in their request means them; absent, the requester keeps refreshing.
            let we_refresh = refresher.as_deref() == Some("uas");
            s.timer = Some(SessionTimer::armed(secs, we_refresh, ctx.now));
            Some(format!(
                "{secs};refresher={}",
                if we_refresh { "uas" } else { "uac" }
            ))
        }
        None => {
            // No Session-Expires: the request still refreshes the session we have.
            if let Some(t) = s.timer {
                s.timer = Some(SessionTimer::armed(t.interval, t.we_refresh, ctx.now));
            }
            None
        }
    }
}

/// Headers a UAS puts in its 1xx/2xx to an INVITE: Record-Route copied (§12.1.1), Contact,
/// Allow, Supported, User-Agent.
fn decorate_uas(ctx: &Ctx<'_>, invite: &Request, resp: &mut Response) {
    for rr in invite.headers.get_all("Record-Route") {
        resp.headers.push("Record-Route", rr);
    }
    resp.headers.push("Contact", ctx.ep.dialog_contact());
    resp.headers.push("Allow", crate::ua::ALLOW);
    resp.headers.push("Supported", crate::ua::SUPPORTED);
    resp.headers
        .push("User-Agent", ctx.ep.config.user_agent.clone());
}

/// The initial INVITE (§13.2.1) with our offer, Session-Expires and Min-SE (RFC 4028 §7.1).
fn initial_invite(ctx: &mut Ctx<'_>, target: Uri, sdp: String) -> Request {
    let ep = ctx.ep;
    let mut req = Request::new(Method::Invite, target.clone());
    req.headers.push("Via", ep.via(&ctx.rng.branch()));
    req.headers.push("Max-Forwards", "70");
    req.headers.push(
        "To",
        NameAddr {
            display_name: None,
            uri: target,
            params: Vec::new(),
        }
        .to_string(),
    );
    req.headers.push(
        "From",
        format!("{};tag={}", ep.aor_name_addr(), ctx.rng.tag()),
    );
    req.headers.push("Call-ID", ctx.rng.call_id());
    // §8.1.1.5: any value below 2^31; a random start makes stale retransmissions obvious.
    let seq = 1 + ctx.rng.below(9_999) as u32;
    req.headers.push("CSeq", format!("{seq} INVITE"));
    req.headers.push("Contact", ep.dialog_contact());
    ep.decorate(&mut req.headers);
    req.headers
        .push("Session-Expires", ep.config.session_expires.to_string());
    req.headers.push("Min-SE", ep.config.min_se.to_string());
    req.headers.push("Content-Type", "application/sdp");
    req.body = sdp.into_bytes();
    req
}

/// A BYE that outlives its call: the call is over for the UI, but a proxy may still
/// challenge the BYE (401/407), and the far end must get it or it keeps the call up.
#[derive(Debug)]
pub struct PendingBye {
    key: TxKey,
    request: Request,
    auth: Authenticator,
}

impl PendingBye {
    /// Whether this client transaction is this BYE's.
    pub fn owns(&self, key: &TxKey) -> bool {
        &self.key == key
    }

    /// A final response to the BYE. Returns the follow-up BYE still in flight, if the
    /// response was a challenge we could answer.
    pub(crate) fn on_response(mut self, ctx: &mut Ctx<'_>, resp: &Response) -> Option<PendingBye> {
        if resp.status < 200 {
            return Some(self);
        }
        if resp.status != 401 && resp.status != 407 {
            return None;
        }
        let mut retry = self.request.clone();
        let seq = cseq_of(&retry.headers).map(|c| c.seq).unwrap_or(1) + 1;
        retry.headers.set("CSeq", format!("{seq} BYE"));
        retry.headers.set("Via", ctx.ep.via(&ctx.rng.branch()));
        retry.headers.remove("Authorization");
        retry.headers.remove("Proxy-Authorization");
        let cnonce = ctx.rng.token(12);
        let (name, value) = self.auth.answer(&retry, resp, &cnonce).ok()?;
        retry.headers.push(name, value);
        self.key = ctx.send_request(&retry);
        self.request = retry;
        Some(self)
    }
}
