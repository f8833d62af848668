//! Parse throughput over every message of the reference traces, printed as
//! `dialdeck_msgs_per_sec=<n>` (and `dialdeck_parse_print_msgs_per_sec=<n>`).
//!
//! Same methodology as `benches/sipjs/bench.mjs` (the SIP.js 0.21.2 baseline): load the messages
//! once (see `tests/vectors/traces.rs`), warm up for 0.5 s, then parse the whole set repeatedly for
//! about 2 s and divide messages parsed by elapsed time. Run with
//! `cargo run --release -p dialdeck-sip --example parse_throughput`.

#[path = "../tests/vectors/traces.rs"]
mod traces;

use std::hint::black_box;
use std::time::{Duration, Instant};

use dialdeck_sip::msg::Message;

/// Runs `f` over the whole set until `budget` has passed; returns messages per second.
fn rate(msgs: &[Vec<u8>], budget: Duration, f: impl Fn(&[u8])) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for m in msgs {
            f(black_box(m));
        }
        n += msgs.len() as u64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let msgs: Vec<Vec<u8>> = traces::load_all().into_iter().map(|m| m.wire).collect();
    let parse = |m: &[u8]| {
        black_box(Message::parse(m).expect("trace message parses"));
    };
    let parse_print = |m: &[u8]| {
        let msg = Message::parse(m).expect("trace message parses");
        black_box(msg.to_bytes());
    };
    rate(&msgs, Duration::from_millis(500), parse);
    let p = rate(&msgs, Duration::from_secs(2), parse);
    let pp = rate(&msgs, Duration::from_secs(2), parse_print);
    println!("messages={}", msgs.len());
    println!("dialdeck_msgs_per_sec={p:.0}");
    println!("dialdeck_parse_print_msgs_per_sec={pp:.0}");
}
