//! `cargo fuzz run parse` (from crates/sip): any bytes, no panic; what parses round-trips.
#![no_main]

use dialdeck_sip::auth::Challenge;
use dialdeck_sip::msg::{CSeq, Message, NameAddr, Uri, Via};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(data) {
        let printed = m.to_bytes();
        let again = Message::parse(&printed).expect("a printed message parses");
        assert_eq!(m, again, "parse -> print -> parse is the identity");
        for (_, v) in m.headers().iter() {
            if let Ok(x) = Via::parse(v) {
                assert_eq!(Via::parse(&x.to_string()), Ok(x));
            }
            if let Ok(x) = NameAddr::parse(v) {
                assert_eq!(NameAddr::parse(&x.to_string()), Ok(x));
            }
            let _ = CSeq::parse(v);
            let _ = Challenge::parse(v);
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(u) = Uri::parse(s) {
            assert_eq!(Uri::parse(&u.to_string()), Ok(u));
        }
    }
});
