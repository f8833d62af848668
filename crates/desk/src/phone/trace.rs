//! The per-call trace: a ring buffer of SIP messages and ICE/DTLS state changes for the
//! current and the last call, downloadable as text.

use std::collections::VecDeque;
use std::fmt::Write;

/// What a trace line records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A SIP message we sent.
    Sent,
    /// A SIP message we received.
    Received,
    /// A state change (ICE, DTLS/connection, WebSocket, call).
    State,
}

#[derive(Clone, Debug)]
struct Entry {
    at_ms: f64,
    call: u32,
    kind: Kind,
    text: String,
}

/// The ring buffer. Entries before the last call, and beyond [`Trace::MAX_BYTES`], go first.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    entries: VecDeque<Entry>,
    bytes: usize,
    call: u32,
}

impl Trace {
    /// Upper bound of the text kept, so a shift-long session cannot grow without limit.
    pub const MAX_BYTES: usize = 256 * 1024;

    /// Starts a new call: everything older than the previous call is dropped.
    pub fn new_call(&mut self) -> u32 {
        self.call += 1;
        let keep_from = self.call - 1;
        while self.entries.front().is_some_and(|e| e.call < keep_from) {
            self.pop();
        }
        self.call
    }

    /// The number of the current (or last) call.
    pub fn call(&self) -> u32 {
        self.call
    }

    /// Records one line or message.
    pub fn push(&mut self, at_ms: f64, kind: Kind, text: impl Into<String>) {
        let text = text.into();
        self.bytes += text.len();
        self.entries.push_back(Entry {
            at_ms,
            call: self.call,
            kind,
            text,
        });
        while self.bytes > Self::MAX_BYTES && self.entries.len() > 1 {
            self.pop();
        }
    }

    fn pop(&mut self) {
        if let Some(e) = self.entries.pop_front() {
            self.bytes -= e.text.len();
        }
    }

    /// How many entries are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    /// The whole trace as text, oldest first.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(self.bytes + 64 * self.entries.len());
        for e in &self.entries {
            let tag = match e.kind {
                Kind::Sent => ">>> sent",
                Kind::Received => "<<< received",
                Kind::State => "--- state",
            };
            let _ = writeln!(out, "[{:>10.3} s] call {} {tag}", e.at_ms / 1000.0, e.call);
            out.push_str(e.text.trim_end());
            out.push_str("\n\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_current_and_the_last_call_only() {
        let mut t = Trace::default();
        t.new_call();
        t.push(1.0, Kind::Sent, "INVITE one");
        t.new_call();
        t.push(2.0, Kind::Received, "INVITE two");
        t.new_call();
        t.push(3.0, Kind::State, "ice: connected");
        let text = t.render();
        assert!(!text.contains("INVITE one"));
        assert!(text.contains("INVITE two"));
        assert!(text.contains("call 3 --- state"));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn is_bounded_in_bytes() {
        let mut t = Trace::default();
        t.new_call();
        let big = "x".repeat(10_000);
        for i in 0..100 {
            t.push(f64::from(i), Kind::Sent, big.clone());
        }
        assert!(t.len() <= Trace::MAX_BYTES / 10_000);
        assert!(t.render().len() > 200_000);
    }
}
