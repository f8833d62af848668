// Baseline for dialdeck-sip's parser: SIP.js 0.21.2 `Parser.parseMessage` over every message of
// the reference traces, printed as `sipjs_msgs_per_sec=<n>`.
//
// Same messages and methodology as `crates/sip/examples/parse_throughput.rs`: the trace files are
// split exactly as `crates/sip/tests/vectors/traces.rs` does (blocks after `=====` lines, HTTP
// upgrade blocks skipped, lines joined with CRLF, body cut to Content-Length); warm up 0.5 s, then
// parse the whole set repeatedly for about 2 s. Usage: `npm ci && node bench.mjs`
// (DIALDECK_SIP_TRACES overrides the trace folder).

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Parser, LoggerFactory } from "sip.js/lib/core/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const traceDir =
  process.env.DIALDECK_SIP_TRACES ?? join(here, "../../../../../shared/reference/sip-traces");

function toWire(lines) {
  const blank = lines.indexOf("");
  let head = "";
  let contentLength;
  for (const l of lines.slice(0, blank)) {
    head += l + "\r\n";
    const colon = l.indexOf(":");
    if (colon > 0) {
      const name = l.slice(0, colon).trim().toLowerCase();
      if (name === "content-length" || name === "l") contentLength = parseInt(l.slice(colon + 1).trim(), 10);
    }
  }
  const body = lines.slice(blank + 1).join("\r\n");
  if (contentLength === undefined) throw new Error("no Content-Length");
  // The trace bodies are ASCII/UTF-8 SDP and DTMF text; cut by bytes like the Rust side.
  const bodyBytes = Buffer.from(body, "utf8").subarray(0, contentLength);
  return head + "\r\n" + bodyBytes.toString("utf8");
}

function loadAll() {
  const files = readdirSync(traceDir)
    .filter((f) => f.endsWith(".txt") && !f.includes(".summary."))
    .sort();
  const out = [];
  for (const f of files) {
    const blocks = [];
    for (const line of readFileSync(join(traceDir, f), "utf8").split("\n")) {
      if (line.startsWith("=====")) blocks.push([]);
      else if (blocks.length) blocks[blocks.length - 1].push(line);
    }
    for (const b of blocks) {
      if (b.length && b[0].includes(" HTTP/1.1")) continue;
      out.push(toWire(b));
    }
  }
  return out;
}

const msgs = loadAll();
const logger = new LoggerFactory().getLogger("sip.parser");
for (const m of msgs) {
  if (Parser.parseMessage(m, logger) === undefined) throw new Error("SIP.js failed to parse:\n" + m);
}

function rate(budgetMs) {
  const start = process.hrtime.bigint();
  const budget = BigInt(budgetMs) * 1_000_000n;
  let n = 0;
  let sink = 0;
  while (process.hrtime.bigint() - start < budget) {
    for (const m of msgs) {
      const parsed = Parser.parseMessage(m, logger);
      sink += parsed.headers ? 1 : 0;
    }
    n += msgs.length;
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  if (sink === 0) throw new Error("nothing parsed");
  return n / secs;
}

rate(500);
console.log(`messages=${msgs.length}`);
console.log(`sipjs_msgs_per_sec=${Math.round(rate(2000))}`);
