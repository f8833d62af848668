//! SIP dialogs (RFC 3261 §12): the peer-to-peer relationship an INVITE sets up, and how
//! requests inside it are built and recognised.
//!
//! Over WebSocket every in-dialog request is sent on the one current connection, whatever
//! the remote target says: Asterisk's Contact on WS (`sip:asterisk@host:5060;transport=ws`)
//! is unreachable, and a browser cannot open a connection to it anyway. The remote target
//! and route set are still kept and used exactly as §12.2.1.1 says, for the Request-URI and
//! Route headers, so proxies can route the request.

use crate::msg::{Headers, Method, NameAddr, Request, Response, Uri};
use crate::transaction::cseq_of;

/// Which side of the dialog-creating INVITE we were.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We sent the INVITE (we own the Call-ID, which matters for §14.1 glare back-off).
    Uac,
    /// We received it.
    Uas,
}

/// Dialog state (RFC 3261 §12): identifiers, sequence numbers, remote target, route set.
#[derive(Clone, Debug)]
pub struct Dialog {
    /// Which side created it.
    pub role: Role,
    /// Call-ID (§12: part of the dialog ID).
    pub call_id: String,
    /// Our tag (From tag as UAC, To tag as UAS).
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
    /// Our URI (From of our requests), without tag, as a name-addr.
    pub local_uri: String,
    /// The peer's URI (To of our requests), without tag, as a name-addr.
    pub remote_uri: String,
    /// Local CSeq number: the last one used in a request we sent (§12.2.1.1).
    pub local_seq: u32,
    /// Remote CSeq number: the last one seen in a request received (§12.2.2).
    pub remote_seq: Option<u32>,
    /// Remote target: the URI of the peer's Contact (§12.1.1, §12.1.2).
    pub remote_target: Uri,
    /// Route set, in the order our requests carry it (§12.1.1: Record-Route as received
    /// for the UAS; §12.1.2: reversed for the UAC).
    pub route_set: Vec<String>,
    /// Methods the peer said it allows (Allow header), lower-cased, for choosing UPDATE.
    pub remote_allow: Vec<String>,
}

fn strip_tag(value: &str) -> Option<(String, Option<String>)> {
    let mut na = NameAddr::parse(value).ok()?;
    let tag = na.tag().map(str::to_string);
    na.params.retain(|(k, _)| !k.eq_ignore_ascii_case("tag"));
    Some((na.to_string(), tag))
}

fn contact_uri(headers: &Headers) -> Option<Uri> {
    let c = headers.get_all("Contact").next()?;
    NameAddr::parse(c).ok().map(|na| na.uri)
}

fn allow_list(headers: &Headers) -> Vec<String> {
    headers
        .get_all("Allow")
        .map(|m| m.trim().to_ascii_lowercase())
        .collect()
}

/// The tag of the From or To header of a message.
pub fn header_tag(headers: &Headers, name: &str) -> Option<String> {
    let v = headers.get(name)?;
    NameAddr::parse(v).ok()?.tag().map(str::to_string)
}

impl Dialog {
    /// The dialog a UAC gets from a response with a To tag to its INVITE (RFC 3261 §12.1.2):
    /// route set = Record-Route reversed, remote target = the response's Contact.
    pub fn from_uac(invite: &Request, resp: &Response) -> Option<Dialog> {
        let (local_uri, local_tag) = strip_tag(invite.headers.get("From")?)?;
        let (remote_uri, remote_tag) = strip_tag(resp.headers.get("To")?)?;
        let mut route_set: Vec<String> = resp
            .headers
            .get_all("Record-Route")
            .map(str::to_string)
            .collect();
        route_set.reverse();
        Some(Dialog {
            role: Role::Uac,
            call_id: invite.headers.get("Call-ID")?.to_string(),
            local_tag: local_tag?,
            remote_tag: remote_tag?,
            local_uri,
            remote_uri,
            local_seq: cseq_of(&invite.headers)?.seq,
            remote_seq: None,
            // A 1xx/2xx without Contact is broken; fall back to the Request-URI.
            remote_target: contact_uri(&resp.headers).unwrap_or_else(|| invite.uri.clone()),
            route_set,
            remote_allow: allow_list(&resp.headers),
        })
    }

    /// The dialog a UAS gets when it answers `invite` with a To tag `local_tag`
    /// (RFC 3261 §12.1.1): route set = Record-Route in order, remote target = Contact.
    pub fn from_uas(invite: &Request, local_tag: &str) -> Option<Dialog> {
        let (remote_uri, remote_tag) = strip_tag(invite.headers.get("From")?)?;
        let (local_uri, _) = strip_tag(invite.headers.get("To")?)?;
        Some(Dialog {
            role: Role::Uas,
            call_id: invite.headers.get("Call-ID")?.to_string(),
            local_tag: local_tag.to_string(),
            // RFC 2543 peers may omit the From tag; treat it as empty (§12.1.1).
            remote_tag: remote_tag.unwrap_or_default(),
            local_uri,
            remote_uri,
            // §12.1.1: the local sequence number starts empty; our first request uses 2.
            local_seq: 1,
            remote_seq: Some(cseq_of(&invite.headers)?.seq),
            remote_target: contact_uri(&invite.headers).unwrap_or_else(|| invite.uri.clone()),
            route_set: invite
                .headers
                .get_all("Record-Route")
                .map(str::to_string)
                .collect(),
            remote_allow: allow_list(&invite.headers),
        })
    }

    /// Whether an incoming request belongs to this dialog (Call-ID, From tag = remote tag,
    /// To tag = local tag; RFC 3261 §12.2.2).
    pub fn matches_request(&self, req: &Request) -> bool {
        req.headers.get("Call-ID") == Some(self.call_id.as_str())
            && header_tag(&req.headers, "To").as_deref() == Some(self.local_tag.as_str())
            && header_tag(&req.headers, "From").unwrap_or_default() == self.remote_tag
    }

    /// Whether a response belongs to this dialog (Call-ID, From tag = local tag, To tag =
    /// remote tag).
    pub fn matches_response(&self, resp: &Response) -> bool {
        resp.headers.get("Call-ID") == Some(self.call_id.as_str())
            && header_tag(&resp.headers, "From").as_deref() == Some(self.local_tag.as_str())
            && header_tag(&resp.headers, "To").unwrap_or_default() == self.remote_tag
    }

    /// Checks the CSeq of an incoming in-dialog request (RFC 3261 §12.2.2): lower than the
    /// remote sequence number means out of order (answer 500); otherwise it is recorded.
    /// ACK and CANCEL carry the INVITE's number and are not checked.
    pub fn accept_remote_cseq(&mut self, req: &Request) -> bool {
        if matches!(req.method, Method::Ack | Method::Cancel) {
            return true;
        }
        let Some(cseq) = cseq_of(&req.headers) else {
            return false;
        };
        match self.remote_seq {
            Some(r) if cseq.seq <= r => false,
            _ => {
                self.remote_seq = Some(cseq.seq);
                true
            }
        }
    }

    /// Target refresh (RFC 3261 §12.2.1.2, §12.2.2): a re-INVITE, UPDATE or their 2xx with a
    /// Contact replaces the remote target.
    pub fn refresh_target(&mut self, headers: &Headers) {
        if let Some(uri) = contact_uri(headers) {
            self.remote_target = uri;
        }
        let allow = allow_list(headers);
        if !allow.is_empty() {
            self.remote_allow = allow;
        }
    }

    /// Whether the peer advertised `method` in its Allow header.
    pub fn remote_allows(&self, method: &Method) -> bool {
        let m = method.as_str().to_ascii_lowercase();
        self.remote_allow.contains(&m)
    }

    /// Request-URI and Route headers for a request in this dialog (RFC 3261 §12.2.1.1):
    /// loose routing when the first route has `lr`, strict routing otherwise.
    pub fn request_target(&self) -> (Uri, Vec<String>) {
        let Some(first) = self.route_set.first() else {
            return (self.remote_target.clone(), Vec::new());
        };
        let first_uri = NameAddr::parse(first).ok().map(|na| na.uri);
        match first_uri {
            Some(uri) if uri.param("lr").is_none() => {
                // Strict router: it becomes the Request-URI and the remote target goes last.
                let mut routes: Vec<String> = self.route_set[1..].to_vec();
                routes.push(format!("<{}>", self.remote_target));
                (uri, routes)
            }
            _ => (self.remote_target.clone(), self.route_set.clone()),
        }
    }

    /// A new request in the dialog (RFC 3261 §12.2.1.1) with `via` as its Via value. The
    /// local CSeq is incremented, except for ACK and CANCEL which reuse `cseq_override`.
    /// The caller adds Contact, Allow, Supported, body and so on.
    pub fn request(&mut self, method: Method, via: String) -> Request {
        let seq = if matches!(method, Method::Ack | Method::Cancel) {
            self.local_seq
        } else {
            self.local_seq += 1;
            self.local_seq
        };
        self.request_with_seq(method, via, seq)
    }

    /// Like [`Dialog::request`] with an explicit CSeq number (the ACK of a 2xx uses the
    /// INVITE's number, §13.2.2.4).
    pub fn request_with_seq(&self, method: Method, via: String, seq: u32) -> Request {
        let (uri, routes) = self.request_target();
        let mut req = Request::new(method.clone(), uri);
        req.headers.push("Via", via);
        req.headers.push("Max-Forwards", "70");
        for r in routes {
            req.headers.push("Route", r);
        }
        req.headers
            .push("To", format!("{};tag={}", self.remote_uri, self.remote_tag));
        req.headers
            .push("From", format!("{};tag={}", self.local_uri, self.local_tag));
        req.headers.push("Call-ID", self.call_id.clone());
        req.headers.push("CSeq", format!("{seq} {method}"));
        req
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::Message;

    fn parse_req(text: &str) -> Request {
        match Message::parse(text.replace('\n', "\r\n").as_bytes()).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => panic!("not a request"),
        }
    }

    fn parse_resp(text: &str) -> Response {
        match Message::parse(text.replace('\n', "\r\n").as_bytes()).unwrap() {
            Message::Response(r) => r,
            Message::Request(_) => panic!("not a response"),
        }
    }

    const INVITE: &str = "INVITE sip:bob@siplab.test SIP/2.0
Via: SIP/2.0/WS v0q4jn467q8b.invalid;branch=z9hG4bK1390982
Max-Forwards: 69
To: <sip:bob@siplab.test>
From: <sip:alice@siplab.test>;tag=4b8kil9lpn
Call-ID: ai7p2bc2q4ul0fvrlm8u
CSeq: 7761 INVITE
Contact: <sip:higa9pi8@v0q4jn467q8b.invalid;transport=ws;ob>
Content-Length: 0

";

    // The 200 from trace 02 (Kamailio Record-Routes, bob's Contact has an alias).
    const OK: &str = "SIP/2.0 200 OK
Record-Route: <sip:127.0.0.1:8080;transport=ws;lr;ftag=4b8kil9lpn>
Via: SIP/2.0/WS v0q4jn467q8b.invalid;rport=56004;received=127.0.0.1;branch=z9hG4bK1390982
To: <sip:bob@siplab.test>;tag=ntdihd3eb9
From: <sip:alice@siplab.test>;tag=4b8kil9lpn
Call-ID: ai7p2bc2q4ul0fvrlm8u
CSeq: 7761 INVITE
Contact: <sip:k0u3ie4j@sb20lr4i49mm.invalid;transport=ws;alias=127.0.0.1~56002~5>
Allow: INVITE,ACK,CANCEL,BYE,UPDATE
Content-Length: 0

";

    #[test]
    fn uac_dialog_routes_bye_like_the_trace() {
        let invite = parse_req(INVITE);
        let ok = parse_resp(OK);
        let mut d = Dialog::from_uac(&invite, &ok).unwrap();
        assert!(d.matches_response(&ok));
        assert!(d.remote_allows(&Method::Update));
        let bye = d.request(Method::Bye, "SIP/2.0/WS x.invalid;branch=z9hG4bKabc".into());
        assert_eq!(
            bye.uri.to_string(),
            "sip:k0u3ie4j@sb20lr4i49mm.invalid;transport=ws;alias=127.0.0.1~56002~5"
        );
        assert_eq!(
            bye.headers.get("Route"),
            Some("<sip:127.0.0.1:8080;transport=ws;lr;ftag=4b8kil9lpn>")
        );
        assert_eq!(bye.headers.get("CSeq"), Some("7762 BYE"));
        let to = NameAddr::parse(bye.headers.get("To").unwrap()).unwrap();
        assert_eq!(to.tag(), Some("ntdihd3eb9"));
        let ack = d.request_with_seq(
            Method::Ack,
            "SIP/2.0/WS x.invalid;branch=z9hG4bKdef".into(),
            7761,
        );
        assert_eq!(ack.headers.get("CSeq"), Some("7761 ACK"));
    }

    #[test]
    fn strict_route_becomes_request_uri() {
        let invite = parse_req(INVITE);
        let ok = parse_resp(&OK.replace(";lr;", ";"));
        let mut d = Dialog::from_uac(&invite, &ok).unwrap();
        let bye = d.request(Method::Bye, "SIP/2.0/WS x.invalid;branch=z9hG4bKabc".into());
        assert_eq!(bye.uri.host, "127.0.0.1");
        let routes: Vec<&str> = bye.headers.get_all("Route").collect();
        assert_eq!(routes.len(), 1);
        assert!(routes[0].contains("k0u3ie4j@sb20lr4i49mm.invalid"));
    }

    #[test]
    fn uas_dialog_checks_cseq_and_matches() {
        let mut invite = parse_req(INVITE);
        invite
            .headers
            .push("Record-Route", "<sip:p1;lr>, <sip:p2;lr>");
        let mut d = Dialog::from_uas(&invite, "localtag").unwrap();
        assert_eq!(
            d.route_set,
            vec!["<sip:p1;lr>".to_string(), "<sip:p2;lr>".to_string()]
        );
        assert_eq!(d.remote_target.host, "v0q4jn467q8b.invalid");
        let mut bye = parse_req(
            &INVITE
                .replace("7761 INVITE", "7762 BYE")
                .replace("INVITE sip", "BYE sip"),
        );
        bye.headers.set("To", "<sip:bob@siplab.test>;tag=localtag");
        assert!(d.matches_request(&bye));
        assert!(d.accept_remote_cseq(&bye));
        assert!(
            !d.accept_remote_cseq(&bye),
            "same CSeq again is out of order"
        );
    }
}
