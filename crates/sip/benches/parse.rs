//! Criterion benchmark: parse, and parse + print, of every message in the reference traces,
//! reported as messages per second (`Throughput::Elements`).
//!
//! `cargo bench -p dialdeck-sip --bench parse`. For a one-line number comparable with the SIP.js
//! baseline, see `examples/parse_throughput.rs` and `benches/sipjs/`.

#[path = "../tests/vectors/traces.rs"]
mod traces;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dialdeck_sip::msg::Message;

fn bench(c: &mut Criterion) {
    let msgs: Vec<Vec<u8>> = traces::load_all().into_iter().map(|m| m.wire).collect();
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group("traces");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.bench_function(
        format!("parse ({} msgs, {} bytes)", msgs.len(), bytes),
        |b| {
            b.iter(|| {
                for m in &msgs {
                    black_box(Message::parse(black_box(m)).unwrap());
                }
            })
        },
    );
    g.bench_function("parse+print", |b| {
        b.iter(|| {
            for m in &msgs {
                let msg = Message::parse(black_box(m)).unwrap();
                black_box(msg.to_bytes());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
