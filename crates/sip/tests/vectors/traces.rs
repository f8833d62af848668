//! Reads the reference traces (`shared/reference/sip-traces/*.txt`) into wire-format messages.
//!
//! Shared by the trace tests, the parse benchmark and the throughput example (included with
//! `#[path]`), so every one of them measures and checks the same bytes. The SIP.js baseline
//! (`benches/sipjs/bench.mjs`) reimplements exactly these rules.
//!
//! A trace file is text with LF line ends: `#` comment lines, then blocks that each start with a
//! `===== ... | first line` separator. A block's lines, joined with CRLF, are the message as on the
//! wire; the trace adds one empty line after each block, so the body is cut to Content-Length.
//! HTTP blocks (the WebSocket upgrade, `GET / HTTP/1.1`) are skipped.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// One SIP message from a trace.
pub struct TraceMessage {
    /// File name, e.g. `01-ws-register-401-200.txt`.
    pub file: String,
    /// 0-based index of the SIP message in its file.
    pub index: usize,
    /// The separator line (direction, addresses, first line).
    pub label: String,
    /// The message as on the wire (CRLF line ends, body exactly Content-Length bytes).
    pub wire: Vec<u8>,
}

/// The trace folder: `$DIALDECK_SIP_TRACES`, else `shared/reference/sip-traces` beside the repo.
pub fn trace_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DIALDECK_SIP_TRACES") {
        return PathBuf::from(d);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/sip-traces")
}

/// Every SIP message of every `*.txt` trace, files in name order.
pub fn load_all() -> Vec<TraceMessage> {
    let dir = trace_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading trace folder {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "txt") && !p.to_string_lossy().contains(".summary.")
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no traces in {}", dir.display());
    files.iter().flat_map(|p| load_file(p)).collect()
}

/// The SIP messages of one trace file.
pub fn load_file(path: &Path) -> Vec<TraceMessage> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    split_trace(&file, &text)
}

/// Splits one trace file's text into messages (see the module doc for the rules).
pub fn split_trace(file: &str, text: &str) -> Vec<TraceMessage> {
    let mut out = Vec::new();
    let mut blocks: Vec<(String, Vec<&str>)> = Vec::new();
    for line in text.split('\n') {
        if line.starts_with("=====") {
            blocks.push((line.to_owned(), Vec::new()));
        } else if let Some((_, lines)) = blocks.last_mut() {
            lines.push(line);
        }
    }
    for (label, lines) in blocks {
        if lines.first().is_some_and(|l| l.contains(" HTTP/1.1")) {
            continue;
        }
        let wire = to_wire(&lines);
        let index = out.len();
        out.push(TraceMessage {
            file: file.to_owned(),
            index,
            label,
            wire,
        });
    }
    out
}

/// Joins a block's lines with CRLF and cuts the body to the Content-Length header's value.
fn to_wire(lines: &[&str]) -> Vec<u8> {
    let blank = lines
        .iter()
        .position(|l| l.is_empty())
        .expect("a trace message has an empty line after its headers");
    let mut wire = String::new();
    let mut content_length = None;
    for l in &lines[..blank] {
        wire.push_str(l);
        wire.push_str("\r\n");
        if let Some((name, value)) = l.split_once(':') {
            let name = name.trim();
            if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l") {
                content_length = Some(
                    value
                        .trim()
                        .parse::<usize>()
                        .expect("numeric Content-Length"),
                );
            }
        }
    }
    wire.push_str("\r\n");
    let body = lines[blank + 1..].join("\r\n");
    let n = content_length.expect("every trace message has Content-Length");
    assert!(body.len() >= n, "trace body shorter than Content-Length");
    wire.push_str(&body[..n]);
    wire.into_bytes()
}
