//! RFC 4475 torture messages (tests/vectors/rfc4475/): the valid ones parse and round-trip, the
//! syntactically invalid ones give the expected typed error, and the semantic-only ones parse
//! (their faults are for the transaction and UA layers). See the folder's README.

use std::path::PathBuf;

use dialdeck_sip::msg::{CSeq, Message, Method, NameAddr, ParseErrorKind, Uri, Via};

fn vector(dir: &str, name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/rfc4475")
        .join(dir)
        .join(format!("{name}.sip"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn names(dir: &str) -> Vec<String> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/rfc4475")
        .join(dir);
    let mut v: Vec<String> = std::fs::read_dir(&p)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sip"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn parse_ok(dir: &str, name: &str) -> Message {
    let m = Message::parse(&vector(dir, name))
        .unwrap_or_else(|e| panic!("{dir}/{name} must parse: {e:?}"));
    let again = Message::parse(&m.to_bytes()).unwrap_or_else(|e| panic!("{name} reprint: {e:?}"));
    assert_eq!(m, again, "{dir}/{name} round-trips");
    m
}

#[test]
fn every_valid_message_parses_and_round_trips() {
    let all = names("valid");
    assert_eq!(all.len(), 13, "RFC 4475 §3.1.1 has 13 valid messages");
    for n in all {
        let m = parse_ok("valid", &n);
        // Every valid message's typed headers parse too.
        for v in m.headers().get_all("Via") {
            Via::parse(v).unwrap_or_else(|e| panic!("{n}: Via {v:?}: {e}"));
        }
        CSeq::parse(m.headers().get("CSeq").unwrap()).unwrap();
        NameAddr::parse(m.headers().get("To").unwrap()).unwrap();
        NameAddr::parse(m.headers().get("From").unwrap()).unwrap();
    }
}

/// RFC 4475 §3.1.2: what we expect for each invalid message. `None` marks the ones that are
/// syntactically valid and invalid only at a higher layer (they must parse).
const INVALID: &[(&str, Option<ParseErrorKind>)] = &[
    ("badinv01", Some(ParseErrorKind::InvalidParam)), // §3.1.2.1  empty Via params ";;"
    ("clerr", Some(ParseErrorKind::BodyTooShort)),    // §3.1.2.2  Content-Length 9999
    ("ncl", Some(ParseErrorKind::InvalidContentLength)), // §3.1.2.3  -999
    ("scalar02", Some(ParseErrorKind::InvalidCSeq)),  // §3.1.2.4  CSeq 2**65
    ("scalarlg", Some(ParseErrorKind::InvalidCSeq)),  // §3.1.2.5  CSeq overflow in a response
    ("quotbal", Some(ParseErrorKind::UnterminatedQuote)), // §3.1.2.6
    ("ltgtruri", Some(ParseErrorKind::InvalidRequestUri)), // §3.1.2.7  <sip:...> R-URI
    ("lwsruri", Some(ParseErrorKind::InvalidStartLine)), // §3.1.2.8  "sip:...; lr"
    ("lwsstart", Some(ParseErrorKind::InvalidStartLine)), // §3.1.2.9  double SP
    ("trws", Some(ParseErrorKind::InvalidStartLine)), // §3.1.2.10 trailing SP
    ("escruri", Some(ParseErrorKind::InvalidRequestUri)), // §3.1.2.11 ?Route= in R-URI
    ("baddate", None),                                // §3.1.2.12 Date in EST: semantic
    ("regbadct", Some(ParseErrorKind::InvalidNameAddr)), // §3.1.2.13 bare Contact with '?'
    ("badaspec", Some(ParseErrorKind::InvalidUri)),   // §3.1.2.14 "< sip:... >"
    ("baddn", Some(ParseErrorKind::InvalidDisplayName)), // §3.1.2.15 unquoted "Bell, Alexander"
    ("badvers", Some(ParseErrorKind::UnsupportedVersion)), // §3.1.2.16 SIP/7.0
    ("mismatch01", None),                             // §3.1.2.17 CSeq method mismatch: semantic
    ("mismatch02", None),                             // §3.1.2.18 CSeq method mismatch: semantic
    ("bigcode", Some(ParseErrorKind::InvalidStatusCode)), // §3.1.2.19 4294967301
    ("mcl01", Some(ParseErrorKind::InvalidContentLength)), // §3.3.9 two Content-Length values
];

#[test]
fn invalid_messages_are_rejected_with_typed_errors() {
    let files = names("invalid");
    let listed: Vec<String> = {
        let mut v: Vec<String> = INVALID.iter().map(|(n, _)| n.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(files, listed, "every invalid vector has an expectation");
    for (name, expect) in INVALID {
        let r = Message::parse(&vector("invalid", name));
        match expect {
            Some(kind) => {
                let e = r.expect_err(name);
                assert_eq!(e.kind, *kind, "{name}: {e}");
                // The error is a real std error with a message.
                let _: &dyn std::error::Error = &e;
                assert!(!e.to_string().is_empty());
            }
            None => {
                parse_ok("invalid", name);
            }
        }
    }
}

#[test]
fn semantic_only_messages_parse() {
    let all = names("semantic");
    assert!(all.len() >= 16);
    for n in all {
        parse_ok("semantic", &n);
    }
}

#[test]
fn wsinv_details() {
    let m = parse_ok("valid", "wsinv");
    let Message::Request(r) = &m else { panic!() };
    assert_eq!(r.method, Method::Invite);
    assert_eq!(r.uri.param("unknownparam"), Some(None));
    let h = &r.headers;
    let to = NameAddr::parse(h.get("To").unwrap()).unwrap();
    assert_eq!(to.tag(), Some("1918181833n"));
    let from = NameAddr::parse(h.get("From").unwrap()).unwrap();
    assert_eq!(from.display_name.as_deref(), Some("J Rosenberg \\\""));
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(h.get("Max-Forwards"), Some("0068"));
    let cseq = CSeq::parse(h.get("CSeq").unwrap()).unwrap();
    assert_eq!((cseq.seq, cseq.method), (9, Method::Invite));
    let vias: Vec<Via> = h.get_all("Via").map(|v| Via::parse(v).unwrap()).collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(
        (vias[0].transport.as_str(), vias[0].branch()),
        ("UDP", Some("390skdjuw"))
    );
    assert_eq!(vias[1].host, "spindle.example.com");
    assert_eq!(vias[1].branch(), Some("z9hG4bK9ikj8"));
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    assert_eq!(h.get("s"), Some(""));
    assert_eq!(
        h.get("NewFangledHeader"),
        Some("newfangled value continued newfangled value")
    );
    let contact = NameAddr::parse(h.get("Contact").unwrap()).unwrap();
    assert_eq!(contact.display_name.as_deref(), Some("Quoted string \"\""));
    assert_eq!(contact.param("newparam"), Some(Some("newvalue")));
    assert_eq!(contact.param("secondparam"), Some(None));
    assert_eq!(contact.param("q"), Some(Some("0.33")));
    let route = NameAddr::parse(h.get("Route").unwrap()).unwrap();
    assert_eq!(route.uri.param("unknownwith"), Some(Some("value")));
    assert_eq!(m.body().len(), 150);
}

#[test]
fn other_valid_details() {
    // intmeth: an extension method with every token character, and escaped NUL/BEL/DEL in a
    // quoted display name.
    let m = parse_ok("valid", "intmeth");
    let Message::Request(r) = &m else { panic!() };
    assert_eq!(
        r.method,
        Method::Other("!interesting-Method0123456789_*+`.%indeed'~".into())
    );
    assert_eq!(
        r.uri.user.as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        r.uri.password.as_deref(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    let to = NameAddr::parse(r.headers.get("To").unwrap()).unwrap();
    assert_eq!(to.display_name.as_deref(), Some("BEL:\x07 NUL:\0 DEL:\x7f"));
    assert_eq!(
        r.headers.get("extensionHeader-!.%*+_`'~"),
        Some("\u{feff}大停電")
    );

    // esc01: escapes are kept as written.
    let m = parse_ok("valid", "esc01");
    let Message::Request(r) = &m else { panic!() };
    assert_eq!(r.uri.user.as_deref(), Some("sips%3Auser%40example.com"));
    assert_eq!(
        m.headers().get("i"),
        Some("esc01.239409asdfakjkn23onasd0-3234")
    );

    // esc02: "C%6Fntact" is a different (extension) header, not Contact.
    let m = parse_ok("valid", "esc02");
    assert_eq!(m.headers().get_all("Contact").count(), 2);

    // longreq: 34 Via values under every spelling of the name.
    let m = parse_ok("valid", "longreq");
    assert_eq!(m.headers().get_all("via").count(), 34);

    // dblreq: one datagram with a REGISTER and an INVITE; only the REGISTER is the message.
    let m = parse_ok("valid", "dblreq");
    assert_eq!(m.as_request().unwrap().method, Method::Register);
    assert!(m.body().is_empty());

    // semiuri: the ';' is in the user part.
    let m = parse_ok("valid", "semiuri");
    let r = m.as_request().unwrap();
    assert_eq!(r.uri.user.as_deref(), Some("user;par=u%40example.net"));
    assert!(r.uri.params.is_empty());
    assert_eq!(m.headers().get_all("Accept").count(), 6);

    let m = parse_ok("valid", "transports");
    let t: Vec<String> = m
        .headers()
        .get_all("Via")
        .map(|v| Via::parse(v).unwrap().transport)
        .collect();
    assert_eq!(t, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);

    // mpart01: a binary body with NUL bytes, exactly Content-Length long.
    let m = parse_ok("valid", "mpart01");
    assert_eq!(m.body().len(), 553);
    assert!(m.body().contains(&0));

    let m = parse_ok("valid", "unreason");
    assert_eq!(
        m.as_response().unwrap().reason,
        "= 2**3 * 5**2 но сто девяносто девять - простое"
    );
    let m = parse_ok("valid", "noreason");
    assert_eq!(m.as_response().unwrap().reason, "");

    let m = parse_ok("semantic", "novelsc");
    let u: &Uri = &m.as_request().unwrap().uri;
    assert_eq!(
        (u.scheme.as_str(), u.opaque.as_deref()),
        ("soap.beep", Some("//192.0.2.103:3002"))
    );
    // inv2543: no Content-Length (allowed on WebSocket): the body is the rest.
    let m = parse_ok("semantic", "inv2543");
    assert!(m.body().ends_with(b"m=audio 49217 RTP/AVP 0\r\n"));
}
