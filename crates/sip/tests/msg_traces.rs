//! Every message in the reference traces round-trips parse -> print -> parse, and a few parsed
//! facts are checked against the trace text.

#[path = "vectors/traces.rs"]
mod traces;

use dialdeck_sip::msg::{CSeq, Message, Method, NameAddr, Via};

fn parse(m: &traces::TraceMessage) -> Message {
    Message::parse(&m.wire).unwrap_or_else(|e| panic!("{} #{} {}: {e}", m.file, m.index, m.label))
}

fn msg(file_prefix: &str, index: usize) -> Message {
    let all = traces::load_all();
    let m = all
        .iter()
        .filter(|m| m.file.starts_with(file_prefix))
        .nth(index)
        .unwrap_or_else(|| panic!("no message {index} in {file_prefix}"));
    parse(m)
}

#[test]
fn every_trace_message_round_trips() {
    let all = traces::load_all();
    // 140 blocks in the seven traces, five of them the HTTP WebSocket upgrade.
    assert!(all.len() >= 135, "only {} trace messages", all.len());
    for m in &all {
        let parsed = parse(m);
        let printed = parsed.to_bytes();
        let reparsed = Message::parse(&printed)
            .unwrap_or_else(|e| panic!("{} #{}: reprint does not parse: {e}", m.file, m.index));
        assert_eq!(parsed, reparsed, "{} #{} {}", m.file, m.index, m.label);
        assert_eq!(
            printed,
            reparsed.to_bytes(),
            "{} #{}: print is stable",
            m.file,
            m.index
        );
        assert_eq!(
            parsed.to_string().as_bytes(),
            &printed[..],
            "Display == to_bytes"
        );

        // Printing uses CRLF only and writes Content-Length from the body.
        let head_end = printed.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = std::str::from_utf8(&printed[..head_end]).unwrap();
        assert!(
            !head.replace("\r\n", "").contains(['\r', '\n']),
            "bare CR/LF"
        );
        assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", parsed.body().len())));
        // The body is exactly the bytes after the empty line.
        let wire_head_end = m.wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(
            parsed.body(),
            &m.wire[wire_head_end..],
            "{} #{}",
            m.file,
            m.index
        );

        // Asterisk's trace labels give the size on the wire: our reconstruction must match it.
        if let Some(n) = m.label.split('(').nth(1).and_then(|s| s.split(' ').next()) {
            if let Ok(n) = n.parse::<usize>() {
                assert_eq!(m.wire.len(), n, "{} #{} wire size", m.file, m.index);
            }
        }

        // Every typed header the stack uses parses.
        let h = parsed.headers();
        for v in h.get_all("Via") {
            Via::parse(v).unwrap();
        }
        CSeq::parse(h.get("CSeq").unwrap()).unwrap();
        NameAddr::parse(h.get("From").unwrap()).unwrap();
        NameAddr::parse(h.get("To").unwrap()).unwrap();
        assert!(
            h.get("Content-Length").is_none(),
            "Content-Length is framing"
        );
    }
}

#[test]
fn kamailio_messages_print_byte_for_byte() {
    // Kamailio and JsSIP write canonical headers ("Name: value", Content-Length last), so our
    // printer reproduces their bytes exactly.
    let all = traces::load_all();
    let mut same = 0;
    for m in all
        .iter()
        .filter(|m| m.file.starts_with("01") || m.file.starts_with("02"))
    {
        let printed = parse(m).to_bytes();
        assert_eq!(
            String::from_utf8_lossy(&printed),
            String::from_utf8_lossy(&m.wire),
            "{} #{}",
            m.file,
            m.index
        );
        same += 1;
    }
    assert_eq!(same, 4 + 17);
}

#[test]
fn register_401_facts() {
    let Message::Request(reg) = msg("01", 0) else {
        panic!("not a request")
    };
    assert_eq!(reg.method, Method::Register);
    assert_eq!(reg.uri.to_string(), "sip:siplab.test");
    assert_eq!(reg.uri.host, "siplab.test");
    let via = Via::parse(reg.headers.get("v").unwrap()).unwrap();
    assert_eq!(via.transport, "WS");
    assert_eq!(via.host, "v0q4jn467q8b.invalid");
    assert_eq!(via.branch(), Some("z9hG4bK5586440"));
    let cseq = CSeq::parse(reg.headers.get("cseq").unwrap()).unwrap();
    assert_eq!((cseq.seq, cseq.method), (1, Method::Register));
    let from = NameAddr::parse(reg.headers.get("f").unwrap()).unwrap();
    assert_eq!(from.tag(), Some("vl6m3h4k6o"));
    assert_eq!(from.uri.user.as_deref(), Some("alice"));
    let contact = NameAddr::parse(reg.headers.get("m").unwrap()).unwrap();
    assert_eq!(contact.uri.param("transport"), Some(Some("ws")));
    assert_eq!(contact.param("+sip.ice"), Some(None));
    assert_eq!(
        contact.param("+sip.instance"),
        Some(Some("\"<urn:uuid:bb72e807-2352-45eb-b077-26823164b245>\""))
    );
    assert_eq!(contact.param("expires"), Some(Some("600")));
    assert_eq!(reg.headers.get_all("Allow").count(), 11);
    assert_eq!(
        reg.headers.get_all("Supported").collect::<Vec<_>>(),
        ["path", "gruu", "outbound"]
    );
    assert_eq!(reg.headers.get("Call-ID"), Some("mhtk4ev00r57g8ig6e1l35"));
    assert!(reg.body.is_empty());

    let Message::Response(r) = msg("01", 1) else {
        panic!("not a response")
    };
    assert_eq!((r.status, r.reason.as_str()), (401, "Unauthorized"));
    let via = Via::parse(r.headers.get("Via").unwrap()).unwrap();
    assert_eq!(via.received(), Some("127.0.0.1"));
    assert_eq!(via.param("rport"), Some(Some("56004")));
    let to = NameAddr::parse(r.headers.get("To").unwrap()).unwrap();
    assert_eq!(to.tag(), Some("9dd61ff61e802d8e2bef5f14621ef3c2.542b0000"));
    assert!(r
        .headers
        .get("WWW-Authenticate")
        .unwrap()
        .starts_with("Digest realm="));
}

#[test]
fn invite_with_sdp_facts() {
    let m = msg("02", 0);
    let Message::Request(inv) = &m else {
        panic!("not a request")
    };
    assert_eq!(inv.method, Method::Invite);
    assert_eq!(inv.uri.user.as_deref(), Some("bob"));
    assert_eq!(m.headers().get("c"), Some("application/sdp"));
    assert_eq!(m.body().len(), 1549);
    assert!(m
        .body()
        .starts_with(b"v=0\r\no=- 1810668066268542107 2 IN IP4 127.0.0.1\r\n"));
    assert!(m
        .body()
        .ends_with(b"4c53ddaf-0b31-4829-9461-1888fffc76b4\r\n"));
    let Message::Response(r) = msg("02", 1) else {
        panic!()
    };
    assert_eq!(r.status, 407);
    assert_eq!(r.reason, "Proxy Authentication Required");
}

#[test]
fn record_route_lists_and_asterisk_quirks() {
    // 04: a 200 OK with two Record-Route values in one header, and an ACK with two Route headers.
    let all = traces::load_all();
    let rr_two = all
        .iter()
        .filter(|m| m.file.starts_with("04"))
        .map(parse)
        .find(|m| {
            m.headers()
                .get("Record-Route")
                .is_some_and(|v| v.contains(", "))
        })
        .expect("a combined Record-Route");
    let rr: Vec<_> = rr_two.headers().get_all("record-route").collect();
    assert_eq!(rr.len(), 2);
    let first = NameAddr::parse(rr[0]).unwrap();
    assert_eq!(first.uri.param("lr"), Some(None));
    assert_eq!(first.uri.param("ftag"), Some(Some("45fp288f2l")));
    let second = NameAddr::parse(rr[1]).unwrap();
    assert_eq!(second.uri.port, Some(8080));

    // 05: Asterisk writes "Content-Length:  0" with two spaces, and a Date header with a comma.
    let m = msg("05", 3);
    assert_eq!(m.as_response().unwrap().status, 200);
    assert_eq!(
        m.headers().get("Date"),
        Some("Wed, 25 Nov 2026 03:00:16 GMT")
    );
    assert_eq!(m.headers().get_all("Date").count(), 1, "Date is not a list");

    // 06: INFO with a 22-byte body that does not end in CRLF.
    let info = all
        .iter()
        .filter(|m| m.file.starts_with("06"))
        .map(parse)
        .find(|m| m.as_request().is_some_and(|r| r.method == Method::Info))
        .unwrap();
    assert_eq!(info.body(), b"Signal=1\r\nDuration=100");
}
