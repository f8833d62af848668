//! The message printer: CRLF line ends, Content-Length from the body (RFC 3261 §7, §20.14).

use super::headers::same_name;
use super::Message;

/// Appends `v`, turning any CR or LF into SP so a value can never break the framing.
#[inline]
fn push_clean(out: &mut String, v: &str) {
    if v.bytes().any(|b| b == b'\r' || b == b'\n') {
        out.extend(
            v.chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c }),
        );
    } else {
        out.push_str(v);
    }
}

/// Writes the start line and headers, ending with the empty line.
pub(crate) fn write_head(msg: &Message, out: &mut String) {
    match msg {
        Message::Request(r) => {
            out.push_str(r.method.as_str());
            out.push(' ');
            r.uri.write_to(out);
            out.push_str(" SIP/2.0\r\n");
        }
        Message::Response(r) => {
            out.push_str("SIP/2.0 ");
            let s = r.status;
            if s < 1000 {
                out.push((b'0' + (s / 100) as u8) as char);
                out.push((b'0' + (s / 10 % 10) as u8) as char);
                out.push((b'0' + (s % 10) as u8) as char);
            } else {
                out.push_str(&s.to_string());
            }
            out.push(' ');
            push_clean(out, &r.reason);
            out.push_str("\r\n");
        }
    }
    for (name, value) in msg.headers().iter() {
        // Content-Length is framing: always written from the body below.
        if same_name(name, "Content-Length") {
            continue;
        }
        push_clean(out, name);
        out.push_str(": ");
        push_clean(out, value);
        out.push_str("\r\n");
    }
    out.push_str("Content-Length: ");
    out.push_str(&msg.body().len().to_string());
    out.push_str("\r\n\r\n");
}

pub(crate) fn to_bytes(msg: &Message) -> Vec<u8> {
    let body = msg.body();
    let mut head = String::with_capacity(estimate(msg) + body.len());
    write_head(msg, &mut head);
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A rough size of the head, to allocate once.
fn estimate(msg: &Message) -> usize {
    64 + msg
        .headers()
        .iter()
        .map(|(n, v)| n.len() + v.len() + 4)
        .sum::<usize>()
}
