//! A small W3C WebDriver client for Debian's chromedriver + headless Chromium: just what the
//! tests use (navigate, run scripts, wait for a condition, real key presses and clicks, Back and
//! Reload, read the browser console).

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};

use crate::process::{free_port, Guard};

/// Chromium flags proven in the SIP lab (shared/reference/sip-lab.md): headless, no network
/// chatter, fake microphone and permission prompts, loopback ICE allowed.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--ignore-certificate-errors",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--window-size=1280,900",
];

/// A running chromedriver on 127.0.0.1.
pub struct ChromeDriver {
    /// The chromedriver process (Chromium processes die with it).
    pub process: Guard,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl ChromeDriver {
    /// Starts `chromedriver` (Debian's, on PATH) and waits until it is ready.
    pub async fn start() -> anyhow::Result<ChromeDriver> {
        let port = free_port();
        let mut cmd = Command::new("chromedriver");
        cmd.arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut process = Guard::spawn("chromedriver", &mut cmd)?;
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            process.check_running()?;
            if let Ok(res) = reqwest::get(format!("{url}/status")).await {
                let body: Value = res.json().await.unwrap_or(Value::Null);
                if body["value"]["ready"] == json!(true) {
                    return Ok(ChromeDriver { process, url });
                }
            }
            if Instant::now() > deadline {
                bail!("chromedriver not ready within 15 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Opens a new headless Chromium session with [`CHROMIUM_FLAGS`] plus `extra_flags`.
    pub async fn browser(&self, extra_flags: &[&str]) -> anyhow::Result<Browser> {
        self.browser_without(&[], extra_flags).await
    }

    /// Like [`ChromeDriver::browser`], leaving out the `omit` flags of [`CHROMIUM_FLAGS`]
    /// (e.g. `--allow-loopback-in-peer-connection`, to test a browser with no ICE candidate).
    pub async fn browser_without(
        &self,
        omit: &[&str],
        extra_flags: &[&str],
    ) -> anyhow::Result<Browser> {
        let profile = tempfile::tempdir()?;
        let mut args: Vec<String> = CHROMIUM_FLAGS
            .iter()
            .filter(|f| !omit.contains(f))
            .map(|s| s.to_string())
            .collect();
        args.extend(extra_flags.iter().map(|s| s.to_string()));
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args },
                "goog:loggingPrefs": { "browser": "ALL" }
            }}
        });
        let http = reqwest::Client::new();
        let res: Value = http
            .post(format!("{}/session", self.url))
            .json(&caps)
            .send()
            .await?
            .json()
            .await?;
        let id = res["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("chromedriver refused a session: {res}"))?
            .to_string();
        Ok(Browser {
            http,
            base: format!("{}/session/{id}", self.url),
            _profile: profile,
        })
    }
}

/// WebDriver's codes for keys without a character (W3C WebDriver, "Keyboard actions").
pub mod key {
    /// Tab.
    pub const TAB: &str = "\u{E004}";
    /// Enter.
    pub const ENTER: &str = "\u{E007}";
    /// Shift (a modifier).
    pub const SHIFT: &str = "\u{E008}";
    /// Control (a modifier).
    pub const CONTROL: &str = "\u{E009}";
    /// Escape.
    pub const ESCAPE: &str = "\u{E00C}";
    /// F2.
    pub const F2: &str = "\u{E032}";
    /// F8.
    pub const F8: &str = "\u{E038}";
    /// F9.
    pub const F9: &str = "\u{E039}";
}

/// The key of an element reference in WebDriver answers (W3C).
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser session.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    _profile: tempfile::TempDir,
}

/// One line of the browser console.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// `SEVERE`, `WARNING`, `INFO`, ...
    pub level: String,
    /// The text, with its source.
    pub message: String,
}

impl Browser {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res: Value = req.send().await?.json().await.context("WebDriver answer")?;
        if let Some(err) = res["value"].get("error") {
            bail!("WebDriver {path}: {err}: {}", res["value"]["message"]);
        }
        Ok(res["value"].clone())
    }

    /// Navigates to `url` and waits for the load event.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await
            .map(|_| ())
    }

    /// Clicks the first element matching the CSS `selector` the way a user does (WebDriver
    /// Element Click: a trusted event, which counts as a user gesture, unlike a script's
    /// `element.click()`).
    pub async fn click(&self, selector: &str) -> anyhow::Result<()> {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": selector })),
            )
            .await?;
        let id = found[ELEMENT_KEY]
            .as_str()
            .ok_or_else(|| anyhow!("no element id for {selector}: {found}"))?;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await
        .map(|_| ())
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    pub async fn execute(&self, script: &str, args: Value) -> anyhow::Result<Value> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// The text of the first element matching `selector` ("" when there is none).
    pub async fn text(&self, selector: &str) -> anyhow::Result<String> {
        let v = self
            .execute(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
                json!([selector]),
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// The focused element's id (or tag name) and whether it is inside the element with id
    /// `container` (a modal's focus trap).
    pub async fn focus_within(&self, container: &str) -> anyhow::Result<(String, bool)> {
        let v = self
            .execute(
                "const a = document.activeElement; const m = document.getElementById(arguments[0]); \
                 return [a ? (a.id || a.tagName) : '', !!(m && a && m.contains(a))];",
                json!([container]),
            )
            .await?;
        Ok((
            v[0].as_str().unwrap_or_default().to_string(),
            v[1] == json!(true),
        ))
    }

    /// Runs an async `script`: it must call `arguments[arguments.length - 1](result)`.
    pub async fn execute_async(&self, script: &str, args: Value) -> anyhow::Result<Value> {
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// Polls `expression` (JavaScript) until it is truthy; fails with `what` after `timeout`.
    pub async fn wait_for(
        &self,
        expression: &str,
        timeout: Duration,
        what: &str,
    ) -> anyhow::Result<Value> {
        let deadline = Instant::now() + timeout;
        let script = format!("return ({expression});");
        loop {
            let v = self.execute(&script, json!([])).await?;
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!("") && v != json!(0);
            if truthy {
                return Ok(v);
            }
            if Instant::now() > deadline {
                bail!("timed out after {timeout:?} waiting for {what} ({expression})");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Presses `key` with `modifiers` held, as a person does: WebDriver actions send trusted
    /// key events to the focused element (unlike a script's synthetic `KeyboardEvent`, which
    /// the browser's own Tab and Escape handling ignores). Keys are [`key`] codes or
    /// characters.
    pub async fn press(&self, modifiers: &[&str], key: &str) -> anyhow::Result<()> {
        let mut steps = Vec::new();
        for m in modifiers {
            steps.push(json!({ "type": "keyDown", "value": m }));
        }
        steps.push(json!({ "type": "keyDown", "value": key }));
        steps.push(json!({ "type": "keyUp", "value": key }));
        for m in modifiers.iter().rev() {
            steps.push(json!({ "type": "keyUp", "value": m }));
        }
        let actions = json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": steps }] });
        self.call(reqwest::Method::POST, "/actions", Some(actions))
            .await?;
        self.call(reqwest::Method::DELETE, "/actions", None)
            .await
            .map(|_| ())
    }

    /// Types `text` into the first element matching `selector` with real key presses
    /// (WebDriver Element Send Keys).
    pub async fn type_into(&self, selector: &str, text: &str) -> anyhow::Result<()> {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": selector })),
            )
            .await?;
        let id = found[ELEMENT_KEY]
            .as_str()
            .ok_or_else(|| anyhow!("no element id for {selector}: {found}"))?;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await
        .map(|_| ())
    }

    /// Clicks with the mouse at viewport point (`x`, `y`), on whatever is there.
    pub async fn click_at(&self, x: i64, y: i64) -> anyhow::Result<()> {
        let steps = json!([
            { "type": "pointerMove", "x": x, "y": y, "origin": "viewport" },
            { "type": "pointerDown", "button": 0 },
            { "type": "pointerUp", "button": 0 }
        ]);
        let actions = json!({ "actions": [{
            "type": "pointer", "id": "mouse", "parameters": { "pointerType": "mouse" }, "actions": steps
        }] });
        self.call(reqwest::Method::POST, "/actions", Some(actions))
            .await
            .map(|_| ())
    }

    /// The browser's Back button.
    pub async fn back(&self) -> anyhow::Result<()> {
        self.call(reqwest::Method::POST, "/back", Some(json!({})))
            .await
            .map(|_| ())
    }

    /// The browser's Reload.
    pub async fn refresh(&self) -> anyhow::Result<()> {
        self.call(reqwest::Method::POST, "/refresh", Some(json!({})))
            .await
            .map(|_| ())
    }

    /// Runs a Chrome DevTools Protocol command on the page (chromedriver's
    /// `goog/cdp/execute`), e.g. `Emulation.setTimezoneOverride` for an agent in another zone
    /// than the server's; the override lasts for the session, across reloads.
    pub async fn cdp(&self, cmd: &str, params: Value) -> anyhow::Result<Value> {
        self.call(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({ "cmd": cmd, "params": params })),
        )
        .await
    }

    /// The browser console since the last call (chromedriver's log endpoint).
    pub async fn console(&self) -> anyhow::Result<Vec<LogEntry>> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/se/log",
                Some(json!({ "type": "browser" })),
            )
            .await?;
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .map(|e| LogEntry {
                level: e["level"].as_str().unwrap_or("").to_string(),
                message: e["message"].as_str().unwrap_or("").to_string(),
            })
            .collect())
    }

    /// Saves a PNG screenshot of the page (for a person looking at a failure).
    pub async fn screenshot(&self, path: &std::path::Path) -> anyhow::Result<()> {
        use base64_decode::decode;
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await?;
        let data = decode(v.as_str().unwrap_or(""))?;
        std::fs::write(path, data)?;
        Ok(())
    }

    /// Runs `source` in every document this session opens from now on, before the page's
    /// own scripts (Chromium's DevTools `Page.addScriptToEvaluateOnNewDocument`, through
    /// chromedriver): how a benchmark timestamps what happens while the page loads.
    pub async fn on_new_document(&self, source: &str) -> anyhow::Result<()> {
        self.call(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({
                "cmd": "Page.addScriptToEvaluateOnNewDocument",
                "params": { "source": source }
            })),
        )
        .await
        .map(|_| ())
    }

    /// Ends the session (Chromium exits).
    pub async fn close(self) -> anyhow::Result<()> {
        self.http.delete(&self.base).send().await?;
        Ok(())
    }
}

mod base64_decode {
    /// Standard base64 (WebDriver screenshots), without a dependency.
    pub fn decode(s: &str) -> anyhow::Result<Vec<u8>> {
        let val = |c: u8| -> anyhow::Result<u32> {
            Ok(match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => anyhow::bail!("bad base64 byte {c}"),
            } as u32)
        };
        let bytes: Vec<u8> = s
            .bytes()
            .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
            .collect();
        let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
        for chunk in bytes.chunks(4) {
            let mut n = 0u32;
            for (i, &c) in chunk.iter().enumerate() {
                n |= val(c)? << (18 - 6 * i);
            }
            let take = chunk.len() - 1;
            out.extend_from_slice(&n.to_be_bytes()[1..1 + take]);
        }
        Ok(out)
    }
}
