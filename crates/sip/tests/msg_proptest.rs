//! No input makes the parser panic, and whatever parses round-trips: parse -> print -> parse is
//! the identity (property tests over random bytes and mutated trace messages).

#[path = "vectors/traces.rs"]
mod traces;

use std::sync::LazyLock;

use dialdeck_sip::msg::{CSeq, Message, NameAddr, Uri, Via};
use proptest::prelude::*;

static TRACES: LazyLock<Vec<Vec<u8>>> =
    LazyLock::new(|| traces::load_all().into_iter().map(|m| m.wire).collect());

/// Bytes that matter to the grammar, so mutations hit interesting paths more often than chance.
const SPECIAL: &[u8] = b":;,\"<>\\\r\n \t%@[]=?/&0123456789\x00\x7f\xff";

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![any::<u8>(), prop::sample::select(SPECIAL)];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn apply(mut v: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let len = v.len().max(1);
        match *m {
            Mutation::Flip(i, b) if !v.is_empty() => v[i % len] = b,
            Mutation::Insert(i, b) => v.insert(i % (v.len() + 1), b),
            Mutation::Delete(i, n) if !v.is_empty() => {
                let s = i % len;
                let e = (s + n).min(v.len());
                v.drain(s..e);
            }
            Mutation::Truncate(i) => v.truncate(i % (v.len() + 1)),
            Mutation::Duplicate(i, n) if !v.is_empty() => {
                let s = i % len;
                let e = (s + n).min(v.len());
                let chunk = v[s..e].to_vec();
                v.splice(s..s, chunk);
            }
            _ => {}
        }
    }
    v
}

/// If `input` parses, printing and parsing again gives the same message, the print is stable,
/// and every typed header value that parses also round-trips through its Display.
fn check_round_trip(input: &[u8]) -> Result<(), TestCaseError> {
    let Ok(m) = Message::parse(input) else {
        return Ok(());
    };
    let printed = m.to_bytes();
    let again = Message::parse(&printed);
    prop_assert!(
        again.is_ok(),
        "reprint failed: {:?}\n{}",
        again,
        String::from_utf8_lossy(&printed)
    );
    let again = again.unwrap();
    prop_assert_eq!(&m, &again);
    prop_assert_eq!(printed, again.to_bytes());
    if let Some(r) = m.as_request() {
        prop_assert_eq!(Uri::parse(&r.uri.to_string()), Ok(r.uri.clone()));
    }
    for (name, value) in m.headers().iter() {
        let _ = name;
        if let Ok(v) = Via::parse(value) {
            prop_assert_eq!(Via::parse(&v.to_string()), Ok(v));
        }
        if let Ok(n) = NameAddr::parse(value) {
            prop_assert_eq!(NameAddr::parse(&n.to_string()), Ok(n));
        }
        if let Ok(c) = CSeq::parse(value) {
            prop_assert_eq!(CSeq::parse(&c.to_string()), Ok(c));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..600)) {
        check_round_trip(&input)?;
    }

    #[test]
    fn sip_shaped_random_text_never_panics(
        start in prop::sample::select(vec!["INVITE sip:a@b SIP/2.0\r\n", "SIP/2.0 200 OK\r\n", ""]),
        lines in prop::collection::vec("[ -~\t]{0,60}", 0..12),
        body in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        let mut s = start.as_bytes().to_vec();
        for l in &lines {
            s.extend_from_slice(l.as_bytes());
            s.extend_from_slice(b"\r\n");
        }
        s.extend_from_slice(b"\r\n");
        s.extend_from_slice(&body);
        check_round_trip(&s)?;
    }

    #[test]
    fn mutated_trace_messages_never_panic_and_round_trip(
        which in any::<prop::sample::Index>(),
        muts in prop::collection::vec(mutation(), 1..6),
    ) {
        let base = &TRACES[which.index(TRACES.len())];
        let input = apply(base.clone(), &muts);
        check_round_trip(&input)?;
    }

    #[test]
    fn value_parsers_never_panic(s in "[ -~\t]{0,80}") {
        if let Ok(u) = Uri::parse(&s) { prop_assert_eq!(Uri::parse(&u.to_string()), Ok(u)); }
        if let Ok(v) = Via::parse(&s) { prop_assert_eq!(Via::parse(&v.to_string()), Ok(v)); }
        if let Ok(n) = NameAddr::parse(&s) { prop_assert_eq!(NameAddr::parse(&n.to_string()), Ok(n)); }
        if let Ok(c) = CSeq::parse(&s) { prop_assert_eq!(CSeq::parse(&c.to_string()), Ok(c)); }
        let _ = dialdeck_sip::auth::Challenge::parse(&s);
    }
}

#[test]
fn unmutated_traces_round_trip() {
    for t in TRACES.iter() {
        check_round_trip(t).unwrap();
    }
}
