//! RFC 3261 §17 transactions, for a reliable transport (SIP over WebSocket, RFC 7118).
//!
//! Over a reliable transport nothing is retransmitted (§17.1.1.2: Timer A only applies to
//! unreliable transports), Timers D, I, J and K are zero, and what remains is:
//! - matching responses to client transactions by top-Via `branch` + CSeq method (§17.1.3),
//! - matching requests to server transactions by `branch` + sent-by + method, with ACK
//!   matching its INVITE (§17.2.3),
//! - the transaction timeouts Timer B and Timer F (client, 64*T1), Timer H (server INVITE
//!   waiting for the ACK of a non-2xx), and RFC 6026's Accepted state (Timers L and M),
//! - the ACK a client INVITE transaction sends for a non-2xx final response (§17.1.1.3),
//! - answering retransmitted requests with the last response (§17.2.1, §17.2.2).
//!
//! A transport failure terminates every pending client transaction (§17.1.4); the owner
//! (registration or call) sees [`TimedOut`]-like reports through [`Transactions::transport_lost`].

use crate::msg::{CSeq, Method, NameAddr, Request, Response, Via};
use crate::timer::{Instant, TIMER_B, TIMER_F, TIMER_H, TIMER_L, TIMER_M};

/// Identifies a transaction: the `branch` of the top Via and the method (RFC 3261 §17.1.3).
/// For server transactions an ACK or CANCEL is looked up with `method` INVITE as needed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TxKey {
    /// The `branch` parameter of the top Via (RFC 3261 §8.1.1.7).
    pub branch: String,
    /// The CSeq method of the transaction (INVITE for an INVITE transaction).
    pub method: Method,
}

/// State of a client transaction (RFC 3261 figures 5 and 6, RFC 6026 figure 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    /// INVITE sent, nothing heard yet; Timer B runs (§17.1.1.2).
    Calling,
    /// Non-INVITE sent, nothing heard yet; Timer F runs (§17.1.2.2).
    Trying,
    /// A provisional response arrived.
    Proceeding,
    /// INVITE got a 2xx; kept for Timer M to pass 2xx retransmissions up (RFC 6026 §8.4).
    Accepted,
    /// Final response handled; over a reliable transport this ends at once (Timer D/K = 0).
    Terminated,
}

/// State of a server transaction (RFC 3261 figures 7 and 8, RFC 6026 figure 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerState {
    /// Non-INVITE received, no response yet.
    Trying,
    /// INVITE received (or non-INVITE answered provisionally).
    Proceeding,
    /// INVITE answered with a non-2xx final response; waiting for the ACK, Timer H runs.
    Completed,
    /// INVITE answered with a 2xx; absorbs retransmitted INVITEs until Timer L (RFC 6026).
    Accepted,
    /// Done.
    Terminated,
}

/// A client transaction: one request we sent and what has come back (RFC 3261 §17.1).
#[derive(Clone, Debug)]
pub struct ClientTransaction {
    /// How responses are matched to it.
    pub key: TxKey,
    /// The request as sent (kept for CANCEL, ACK and authentication retries).
    pub request: Request,
    /// Where it stands.
    pub state: ClientState,
    timer: Option<Instant>,
}

/// A server transaction: one request we received and our responses (RFC 3261 §17.2).
#[derive(Clone, Debug)]
pub struct ServerTransaction {
    /// Branch and method of the request.
    pub key: TxKey,
    /// sent-by (host[:port]) of the top Via, part of the §17.2.3 match.
    pub sent_by: String,
    /// The request as received.
    pub request: Request,
    /// Where it stands.
    pub state: ServerState,
    /// The last response sent, re-sent if the request is retransmitted.
    pub last_response: Option<Response>,
    timer: Option<Instant>,
}

/// What [`Transactions::on_response`] decided about an incoming response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseMatch {
    /// It belongs to this client transaction and must be passed to its owner.
    Deliver(TxKey),
    /// A retransmitted 2xx to an INVITE already accepted: the owner re-sends its ACK
    /// (RFC 3261 §13.2.2.4).
    Retransmitted2xx(TxKey),
    /// Matched, but nothing for the owner (late provisional, duplicate final).
    Absorbed,
    /// No transaction matches; dropped (§18.1.2).
    Stray,
}

/// What [`Transactions::on_request`] decided about an incoming request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestMatch {
    /// A new request; a server transaction was created under this key (not for ACK).
    New(TxKey),
    /// A retransmission of a request already being handled; re-send this, if anything.
    Retransmission(Option<Response>),
    /// The ACK of a non-2xx final response we sent; it ends the transaction, nothing else.
    AckAbsorbed,
    /// An ACK with no transaction: the ACK of a 2xx, for the dialog layer (§17.2.3, §13.3.1.4).
    AckFor2xx,
}

/// A client transaction that ended without a final response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimedOut {
    /// The transaction.
    pub key: TxKey,
    /// True for a transport failure (§17.1.4), false for Timer B/F.
    pub transport_error: bool,
}

/// All live transactions of one user agent.
#[derive(Debug, Default)]
pub struct Transactions {
    clients: Vec<ClientTransaction>,
    servers: Vec<ServerTransaction>,
}

/// The `branch` and sent-by of a message's top Via, if it has a parseable one.
pub fn top_via(headers: &crate::msg::Headers) -> Option<(String, String)> {
    let via = Via::parse(headers.get_all("Via").next()?).ok()?;
    let branch = via.branch()?.to_string();
    let sent_by = match via.port {
        Some(p) => format!("{}:{}", via.host, p),
        None => via.host.clone(),
    };
    Some((branch, sent_by))
}

/// The parsed CSeq of a message.
pub fn cseq_of(headers: &crate::msg::Headers) -> Option<CSeq> {
    CSeq::parse(headers.get("CSeq")?).ok()
}

/// Builds a response to `req` per RFC 3261 §8.2.6.2: Via (all), From, To, Call-ID and CSeq
/// copied; `to_tag` added to To unless it already has one (and never on a 100, §8.2.6.2).
pub fn make_response(req: &Request, status: u16, to_tag: Option<&str>) -> Response {
    let mut resp = Response::new(status, crate::msg::default_reason(status));
    for v in req.headers.get_all("Via") {
        resp.headers.push("Via", v);
    }
    if let Some(from) = req.headers.get("From") {
        resp.headers.push("From", from);
    }
    if let Some(to) = req.headers.get("To") {
        let mut value = to.to_string();
        if status != 100 {
            if let (Some(tag), Ok(mut na)) = (to_tag, NameAddr::parse(to)) {
                if na.tag().is_none() {
                    na.set_param("tag", Some(tag));
                    value = na.to_string();
                }
            }
        }
        resp.headers.push("To", value);
    }
    if let Some(cid) = req.headers.get("Call-ID") {
        resp.headers.push("Call-ID", cid);
    }
    if let Some(cseq) = req.headers.get("CSeq") {
        resp.headers.push("CSeq", cseq);
    }
    resp
}

/// The ACK a client INVITE transaction sends for a non-2xx final response (RFC 3261
/// §17.1.1.3): same Request-URI, top Via, From, Call-ID and CSeq number as the INVITE,
/// To from the response, Route headers of the INVITE.
pub fn ack_for_non2xx(invite: &Request, resp: &Response) -> Request {
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    if let Some(via) = invite.headers.get_all("Via").next() {
        ack.headers.push("Via", via);
    }
    for r in invite.headers.get_all("Route") {
        ack.headers.push("Route", r);
    }
    ack.headers.push("Max-Forwards", "70");
    if let Some(to) = resp.headers.get("To") {
        ack.headers.push("To", to);
    }
    if let Some(from) = invite.headers.get("From") {
        ack.headers.push("From", from);
    }
    if let Some(cid) = invite.headers.get("Call-ID") {
        ack.headers.push("Call-ID", cid);
    }
    let seq = cseq_of(&invite.headers).map(|c| c.seq).unwrap_or(1);
    ack.headers.push("CSeq", format!("{seq} ACK"));
    ack
}

impl Transactions {
    /// No transactions.
    pub fn new() -> Transactions {
        Transactions::default()
    }

    /// Starts a client transaction for `req`, which must carry a Via with a branch and a
    /// CSeq. Not for ACK (an ACK of a 2xx is not a transaction, §17.1.1.1). Returns the key
    /// responses will be matched by.
    pub fn start_client(&mut self, now: Instant, req: &Request) -> TxKey {
        let branch = top_via(&req.headers).map(|(b, _)| b).unwrap_or_default();
        let key = TxKey {
            branch,
            method: req.method.clone(),
        };
        let (state, timer) = if req.method == Method::Invite {
            (ClientState::Calling, now + TIMER_B)
        } else {
            (ClientState::Trying, now + TIMER_F)
        };
        self.clients.push(ClientTransaction {
            key: key.clone(),
            request: req.clone(),
            state,
            timer: Some(timer),
        });
        key
    }

    /// The client transaction with this key, if still alive.
    pub fn client(&self, key: &TxKey) -> Option<&ClientTransaction> {
        self.clients.iter().find(|c| &c.key == key)
    }

    /// Matches a response to a client transaction (RFC 3261 §17.1.3) and advances it.
    /// For a non-2xx final response to an INVITE, also returns the ACK to send (§17.1.1.3).
    pub fn on_response(
        &mut self,
        now: Instant,
        resp: &Response,
    ) -> (ResponseMatch, Option<Request>) {
        let Some((branch, _)) = top_via(&resp.headers) else {
            return (ResponseMatch::Stray, None);
        };
        let Some(cseq) = cseq_of(&resp.headers) else {
            return (ResponseMatch::Stray, None);
        };
        let Some(tx) = self
            .clients
            .iter_mut()
            .find(|c| c.key.branch == branch && c.key.method == cseq.method)
        else {
            return (ResponseMatch::Stray, None);
        };
        let status = resp.status;
        let invite = tx.key.method == Method::Invite;
        match tx.state {
            ClientState::Calling | ClientState::Trying | ClientState::Proceeding => {
                if status < 200 {
                    tx.state = ClientState::Proceeding;
                    if invite {
                        // Timer B only guards the Calling state (§17.1.1.2).
                        tx.timer = None;
                    }
                    (ResponseMatch::Deliver(tx.key.clone()), None)
                } else if invite && status < 300 {
                    tx.state = ClientState::Accepted;
                    tx.timer = Some(now + TIMER_M);
                    (ResponseMatch::Deliver(tx.key.clone()), None)
                } else {
                    // Over a reliable transport Timers D and K are zero (§17.1.1.2, §17.1.2.2).
                    tx.state = ClientState::Terminated;
                    tx.timer = None;
                    let ack = invite.then(|| ack_for_non2xx(&tx.request, resp));
                    let key = tx.key.clone();
                    self.gc();
                    (ResponseMatch::Deliver(key), ack)
                }
            }
            ClientState::Accepted if (200..300).contains(&status) => {
                (ResponseMatch::Retransmitted2xx(tx.key.clone()), None)
            }
            _ => (ResponseMatch::Absorbed, None),
        }
    }

    /// Matches a request to a server transaction (RFC 3261 §17.2.3); creates one for a new
    /// non-ACK request.
    pub fn on_request(&mut self, now: Instant, req: &Request) -> RequestMatch {
        let (branch, sent_by) = top_via(&req.headers).unwrap_or_default();
        let lookup = if req.method == Method::Ack {
            Method::Invite
        } else {
            req.method.clone()
        };
        if let Some(tx) = self.servers.iter_mut().find(|s| {
            !branch.is_empty()
                && s.key.branch == branch
                && s.sent_by == sent_by
                && s.key.method == lookup
        }) {
            if req.method == Method::Ack {
                return match tx.state {
                    ServerState::Completed => {
                        // Timer I is zero over a reliable transport (§17.2.1).
                        tx.state = ServerState::Terminated;
                        tx.timer = None;
                        self.gc();
                        RequestMatch::AckAbsorbed
                    }
                    _ => RequestMatch::AckFor2xx,
                };
            }
            return RequestMatch::Retransmission(tx.last_response.clone());
        }
        if req.method == Method::Ack {
            return RequestMatch::AckFor2xx;
        }
        let key = TxKey {
            branch,
            method: req.method.clone(),
        };
        let state = if req.method == Method::Invite {
            ServerState::Proceeding
        } else {
            ServerState::Trying
        };
        self.servers.push(ServerTransaction {
            key: key.clone(),
            sent_by,
            request: req.clone(),
            state,
            last_response: None,
            timer: None,
        });
        let _ = now;
        key.into_new()
    }

    /// The server transaction with this key, if still alive.
    pub fn server(&self, key: &TxKey) -> Option<&ServerTransaction> {
        self.servers.iter().find(|s| &s.key == key)
    }

    /// The live INVITE server transaction a CANCEL with this branch targets (§9.2).
    pub fn invite_for_cancel(&self, cancel: &Request) -> Option<&ServerTransaction> {
        let (branch, sent_by) = top_via(&cancel.headers)?;
        self.servers.iter().find(|s| {
            s.key.branch == branch
                && s.sent_by == sent_by
                && s.key.method == Method::Invite
                && s.state == ServerState::Proceeding
        })
    }

    /// Records a response sent on a server transaction and advances it. Returns false when
    /// the transaction is gone or already final (the response must then not be sent).
    pub fn respond(&mut self, now: Instant, key: &TxKey, resp: &Response) -> bool {
        let Some(tx) = self.servers.iter_mut().find(|s| &s.key == key) else {
            return false;
        };
        if !matches!(tx.state, ServerState::Trying | ServerState::Proceeding) {
            return false;
        }
        tx.last_response = Some(resp.clone());
        let invite = tx.key.method == Method::Invite;
        if resp.status < 200 {
            tx.state = ServerState::Proceeding;
        } else if invite && resp.status < 300 {
            tx.state = ServerState::Accepted;
            tx.timer = Some(now + TIMER_L);
        } else if invite {
            // Timer G (retransmissions) is not used over a reliable transport; Timer H is.
            tx.state = ServerState::Completed;
            tx.timer = Some(now + TIMER_H);
        } else {
            // Timer J is zero over a reliable transport (§17.2.2).
            tx.state = ServerState::Terminated;
            self.gc();
        }
        true
    }

    /// The next instant a transaction timer fires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let c = self.clients.iter().filter_map(|c| c.timer);
        let s = self.servers.iter().filter_map(|s| s.timer);
        c.chain(s).min()
    }

    /// Fires due timers. Returns the client transactions that timed out (Timer B or F);
    /// their owners treat that as a 408 (RFC 3261 §8.1.3.1). Server transactions whose
    /// Timer H fired simply end (§17.2.1).
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<TimedOut> {
        let mut out = Vec::new();
        for c in &mut self.clients {
            if c.timer.is_some_and(|t| t <= now) {
                c.timer = None;
                if matches!(
                    c.state,
                    ClientState::Calling | ClientState::Trying | ClientState::Proceeding
                ) {
                    out.push(TimedOut {
                        key: c.key.clone(),
                        transport_error: false,
                    });
                }
                c.state = ClientState::Terminated;
            }
        }
        for s in &mut self.servers {
            if s.timer.is_some_and(|t| t <= now) {
                s.timer = None;
                s.state = ServerState::Terminated;
            }
        }
        self.gc();
        out
    }

    /// The transport failed: every pending client transaction ends with a transport error
    /// (§17.1.4) and every server transaction ends (its responses cannot be delivered).
    pub fn transport_lost(&mut self) -> Vec<TimedOut> {
        let out = self
            .clients
            .iter()
            .filter(|c| {
                matches!(
                    c.state,
                    ClientState::Calling | ClientState::Trying | ClientState::Proceeding
                )
            })
            .map(|c| TimedOut {
                key: c.key.clone(),
                transport_error: true,
            })
            .collect();
        self.clients.clear();
        self.servers.clear();
        out
    }

    /// Number of live client and server transactions (for tests and diagnostics).
    pub fn len(&self) -> (usize, usize) {
        (self.clients.len(), self.servers.len())
    }

    fn gc(&mut self) {
        self.clients.retain(|c| c.state != ClientState::Terminated);
        self.servers.retain(|s| s.state != ServerState::Terminated);
    }
}

impl TxKey {
    fn into_new(self) -> RequestMatch {
        RequestMatch::New(self)
    }
}

#[cfg(test)]
mod tests;
