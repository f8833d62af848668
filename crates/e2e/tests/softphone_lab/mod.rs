//! The softphone lab's harness shared by the softphone suites: the real dialdeck binary with
//! agents from VICIdial's tables, and one agent's browser with the phone panel open.

// Each suite uses a part of it.
#![allow(dead_code)]

use std::time::Duration;

use anyhow::bail;
use dialdeck_e2e::{lab, Browser, ChromeDriver, DialdeckServer};
use dialdeck_vicidial_sim::{mariadb::MariaDb, seed, SimOptions, VicidialSim};
use serde_json::json;
use sqlx::ConnectOptions;

pub const SECS: fn(u64) -> Duration = Duration::from_secs;

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The real binary, logged-in agents from VICIdial's tables, and VICIdial's simulator for the
/// desk's hidden agent screen.
pub struct Server {
    dialdeck: DialdeckServer,
    pub db: sqlx::MySqlPool,
    _sim: VicidialSim,
}

impl std::ops::Deref for Server {
    type Target = DialdeckServer;
    fn deref(&self) -> &DialdeckServer {
        &self.dialdeck
    }
}

/// The agent whose phone is `extension`, and the password the seed gives them here.
pub fn agent_of(extension: &str) -> (&'static str, &'static str) {
    match extension {
        "cc1001" => ("1001", seed::PLAIN_PASSWORD),
        "cc1002" => ("1002", "agentpass2"),
        other => panic!("no lab agent for {other}"),
    }
}

pub async fn server() -> anyhow::Result<Server> {
    let maria = MariaDb::shared();
    let name = maria.fresh_database().await?;
    let mut conn = maria.options(&name).connect().await?;
    seed::seed(&mut conn, false).await?;
    let db = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(4)
        .connect_with(maria.options(&name))
        .await?;
    // The telephony server is the lab's Kamailio; its phones are called into the session by
    // VICIdial (not webphones), so the phone does not dial the conference itself here.
    for sql in [
        format!(
            "UPDATE servers SET server_ip = '{}', web_socket_url = '{}'",
            lab::DOMAIN,
            lab::WS_URL
        ),
        format!(
            "UPDATE phones SET server_ip = '{}', is_webphone = 'N'",
            lab::DOMAIN
        ),
        "UPDATE vicidial_users SET pass = 'agentpass2' WHERE user = '1002'".to_string(),
    ] {
        sqlx::query(&sql).execute(&db).await?;
    }
    let sim = VicidialSim::start(db.clone(), SimOptions::default()).await?;
    let db_url = maria.url(&name);
    let web_url = sim.base_url();
    let dialdeck = DialdeckServer::start(&[
        ("DIALDECK_PHONE_WS_ORIGINS", lab::WS_URL),
        ("DIALDECK_VICIDIAL_DB_URL", db_url.as_str()),
        ("DIALDECK_VICIDIAL_WEB_URL", web_url.as_str()),
        ("DIALDECK_VICIDIAL_API_USER", seed::API_USER),
        ("DIALDECK_VICIDIAL_API_PASS", seed::API_PASS),
    ])
    .await?;
    Ok(Server {
        dialdeck,
        db,
        _sim: sim,
    })
}

/// Logs in through the login form: user and password, then either the one-step form
/// (`#login-form button`) or the two-step one (`#login-continue`, a campaign from
/// `#login-campaign`, `#login-submit`), whichever the page has.
pub async fn login(browser: &Browser, user: &str, password: &str) -> anyhow::Result<()> {
    if login_credentials(browser, user, password).await? {
        login_campaign(browser, None).await?;
    }
    Ok(())
}

/// The login form's first step: fills user and password and sends them; returns whether the
/// form is the two-step one (a campaign to choose next, see [`login_campaign`]).
pub async fn login_credentials(
    browser: &Browser,
    user: &str,
    password: &str,
) -> anyhow::Result<bool> {
    browser
        .wait_for(
            "document.getElementById('login-user') && \
             document.querySelector('#login-continue:not(:disabled), #login-form button:not(:disabled)')",
            SECS(15),
            "the login form",
        )
        .await?;
    // Which form it is is read before the click: a quick answer replaces Continue with the
    // campaign step before a second script could look.
    let two_step = browser
        .execute(
            "for (const [id, v] of [['login-user', arguments[0]], ['login-password', arguments[1]]]) { \
               const i = document.getElementById(id); i.value = v; \
               i.dispatchEvent(new Event('input', {bubbles: true})); } \
             const next = document.getElementById('login-continue'); \
             (next || document.querySelector('#login-form button')).click(); \
             return !!next;",
            json!([user, password]),
        )
        .await?;
    Ok(two_step == json!(true))
}

/// The login form's second step: waits for the agent's campaigns, chooses `campaign` (the
/// first one offered when `None`), and logs in (a script's click: no user gesture, which the
/// suites about the browser's autoplay policy need).
pub async fn login_campaign(browser: &Browser, campaign: Option<&str>) -> anyhow::Result<()> {
    browser
        .wait_for(
            "document.querySelector('#login-campaign option[value]:not([value=\"\"])') \
             && document.querySelector('#login-submit:not(:disabled)')",
            SECS(15),
            "the campaign choice",
        )
        .await?;
    let chosen = browser
        .execute(
            "const s = document.getElementById('login-campaign'); \
             const want = arguments[0]; \
             if (want !== null) { \
               if (![...s.options].some((o) => o.value === want)) return false; \
               s.value = want; s.dispatchEvent(new Event('change', {bubbles: true})); \
             } else if (!s.value) { s.value = [...s.options].find((o) => o.value).value; \
               s.dispatchEvent(new Event('change', {bubbles: true})); } \
             document.getElementById('login-submit').click(); \
             return s.value;",
            json!([campaign]),
        )
        .await?;
    if chosen == json!(false) {
        bail!("campaign {campaign:?} is not offered");
    }
    Ok(())
}

/// Watches the browser objects the phone check opens (installed before "Run again"):
/// AudioContexts (with a meter), microphone streams, peer connections and media elements
/// played.
pub const CHECK_HOOKS: &str = r"
  if (window.__check) return true;
  const H = { contexts: [], streams: [], pcs: [], audios: [] };
  window.__check = H;
  // The app's glue holds the AudioContext constructor from before this script: contexts are
  // recorded when they get their analyser (the check's meter) instead.
  const analyser = BaseAudioContext.prototype.createAnalyser;
  BaseAudioContext.prototype.createAnalyser = function () {
    if (!H.contexts.includes(this)) H.contexts.push(this);
    return analyser.call(this);
  };
  const P = window.RTCPeerConnection;
  const W = function (...a) { const pc = new P(...a); H.pcs.push(pc); return pc; };
  W.prototype = P.prototype;
  Object.setPrototypeOf(W, P);
  window.RTCPeerConnection = W;
  const md = navigator.mediaDevices;
  const gum = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => gum(c).then((s) => { H.streams.push(s); return s; });
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    if (!H.audios.includes(this)) H.audios.push(this);
    return play.call(this);
  };
  return true;";

/// A directory: when set, [`Phone::screenshot`] saves PNGs there (1366×768).
const SCREENSHOTS: &str = "DIALDECK_SCREENSHOTS";
/// Set as well: the screenshots are taken with the dark colour scheme.
const SCREENSHOTS_DARK: &str = "DIALDECK_SCREENSHOTS_DARK";

/// One agent's browser with the phone panel open.
pub struct Phone {
    pub browser: Browser,
    pub name: &'static str,
}

impl Phone {
    pub async fn open(
        driver: &ChromeDriver,
        server: &Server,
        user: &'static str,
        auto_answer: bool,
        omit_flags: &[&str],
    ) -> anyhow::Result<Phone> {
        Self::open_with(driver, server, user, auto_answer, omit_flags, &[]).await
    }

    /// Like [`Phone::open`], with Chromium flags added (`extra_flags`) as well as left out.
    pub async fn open_with(
        driver: &ChromeDriver,
        server: &Server,
        user: &'static str,
        auto_answer: bool,
        omit_flags: &[&str],
        extra_flags: &[&str],
    ) -> anyhow::Result<Phone> {
        sqlx::query("UPDATE phones SET webphone_auto_answer = ? WHERE extension = ?")
            .bind(if auto_answer { "Y" } else { "N" })
            .bind(user)
            .execute(&server.db)
            .await?;
        let (agent, password) = agent_of(user);
        // Screenshots for a person: the size agents' laptops have, light or dark.
        let mut omit = omit_flags.to_vec();
        let mut extra = extra_flags.to_vec();
        if std::env::var_os(SCREENSHOTS).is_some() {
            omit.push("--window-size=1280,900");
            extra.push("--window-size=1366,768");
            if std::env::var_os(SCREENSHOTS_DARK).is_some() {
                extra.push("--force-dark-mode");
            }
        }
        let browser = driver.browser_without(&omit, &extra).await?;
        Phone::log_in(browser, &server.url, user, agent, password).await
    }

    /// Logs `agent` (whose phone is `extension`) in through the login form at `url`.
    pub async fn log_in(
        browser: Browser,
        url: &str,
        extension: &'static str,
        agent: &str,
        password: &str,
    ) -> anyhow::Result<Phone> {
        browser.goto(url).await?;
        login(&browser, agent, password).await?;
        if let Err(e) = browser
            .wait_for(
                "document.getElementById('phone-registration')",
                SECS(15),
                &format!("{extension} logged in"),
            )
            .await
        {
            // What the agent sees instead (a refusal, a spinner) says why.
            let page = browser
                .execute("return document.body.innerText;", json!([]))
                .await
                .unwrap_or_default();
            bail!(
                "{e:#}; the page shows: {}",
                page.as_str().unwrap_or_default()
            );
        }
        Ok(Phone {
            browser,
            name: extension,
        })
    }

    pub async fn text(&self, id: &str) -> anyhow::Result<String> {
        let v = self
            .browser
            .execute(
                "const e = document.getElementById(arguments[0]); return e ? e.textContent : '';",
                json!([id]),
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    pub async fn wait_registered(&self) -> anyhow::Result<()> {
        self.browser
            .wait_for(
                "document.getElementById('phone-registration')?.textContent === 'Registered'",
                SECS(15),
                &format!("{} registered", self.name),
            )
            .await
            .map(|_| ())
    }

    pub async fn wait_call(&self, state: &str, timeout: Duration) -> anyhow::Result<String> {
        let expr = format!(
            "document.getElementById('phone-call')?.dataset.state === '{state}' \
             && document.getElementById('phone-call').textContent"
        );
        let res = self
            .browser
            .wait_for(&expr, timeout, &format!("{} call state {state}", self.name))
            .await;
        match res {
            Ok(v) => Ok(v.as_str().unwrap_or_default().to_string()),
            Err(e) => {
                let now = self.text("phone-call").await.unwrap_or_default();
                let notice = self.text("phone-notice").await.unwrap_or_default();
                bail!("{e:#}; the phone shows {now:?} (notice: {notice:?})")
            }
        }
    }

    pub async fn dial(&self, target: &str) -> anyhow::Result<()> {
        self.browser
            .execute(
                "const i = document.getElementById('phone-dial'); i.value = arguments[0]; \
                 i.dispatchEvent(new Event('input', {bubbles: true})); \
                 document.getElementById('phone-dial-button').click();",
                json!([target]),
            )
            .await
            .map(|_| ())
    }

    pub async fn click(&self, id: &str) -> anyhow::Result<()> {
        self.browser
            .execute(
                "document.getElementById(arguments[0]).click();",
                json!([id]),
            )
            .await
            .map(|_| ())
    }

    /// Waits until getStats shows audio arriving (packets and a non-zero level: the fake
    /// microphone beeps) over a connected DTLS transport; returns (packets, level).
    pub async fn wait_audio_in(&self, timeout: Duration) -> anyhow::Result<(u64, f64)> {
        let expr = "(() => { const q = document.getElementById('phone-quality'); \
             if (!q) return false; const d = q.dataset; \
             return Number(d.packetsReceived) > 0 && Number(d.levelIn) > 0 \
               && d.dtls === 'connected' && [d.packetsReceived, d.levelIn]; })()";
        let v = self
            .browser
            .wait_for(expr, timeout, &format!("{} hears audio", self.name))
            .await?;
        let packets = v[0].as_str().unwrap_or("0").parse()?;
        let level = v[1].as_str().unwrap_or("0").parse()?;
        Ok((packets, level))
    }
}

impl Phone {
    /// Passes the phone check that gates the desk, green with Chromium's fake devices: the
    /// microphone heard, the phone registered, ICE candidates found, the test tone played (a
    /// real click) and confirmed; waits for the desk.
    pub async fn pass_check(&self) -> anyhow::Result<()> {
        for key in ["mic", "socket", "ice"] {
            self.wait_check(key, "ok", SECS(15)).await?;
        }
        self.browser.click("#check-tone").await?;
        self.wait_check_status("speaker", "Did you hear the tone?", SECS(5))
            .await?;
        self.browser.click("#check-heard").await?;
        // Every item green: the check gives way to the desk.
        self.wait_desk().await
    }

    /// Waits until the desk is shown (the phone check done in this tab).
    pub async fn wait_desk(&self) -> anyhow::Result<()> {
        self.browser
            .wait_for(
                "document.getElementById('dial-number') && document.getElementById('phone-call')",
                SECS(10),
                &format!("{}'s desk", self.name),
            )
            .await
            .map(|_| ())
    }

    /// Opens the phone check again from the desk's header ("Phone check"), beside the desk:
    /// its diagnostics have the raw SIP dial, the DTMF keypad and the trace download. Returns
    /// once the run has its microphone and its ICE probe (settled, green or red), so page
    /// hooks installed afterwards see only the call's objects.
    pub async fn open_check(&self) -> anyhow::Result<()> {
        self.browser.click("#phone-check-open").await?;
        self.browser
            .wait_for(
                "document.getElementById('recheck') && document.getElementById('phone-dial') \
                 && document.getElementById('phone-call') \
                 && ['mic', 'ice'].every((k) => ['ok', 'failed'].includes( \
                      document.getElementById('check-' + k)?.dataset.state))",
                SECS(15),
                &format!("{}'s phone check beside the desk", self.name),
            )
            .await
            .map(|_| ())
    }

    /// The desk with the phone check open beside it, for the suites that call SIP addresses
    /// directly: [`Phone::pass_check`], then [`Phone::open_check`].
    pub async fn desk_with_check(&self) -> anyhow::Result<()> {
        self.pass_check().await?;
        self.open_check().await
    }
}

impl Phone {
    /// The quality panel's data attribute `name` (camelCase), or "" before the first sample.
    pub async fn quality(&self, name: &str) -> anyhow::Result<String> {
        let v = self
            .browser
            .execute(
                "const q = document.getElementById('phone-quality'); \
                 return q ? (q.dataset[arguments[0]] || '') : '';",
                json!([name]),
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }
}

impl Phone {
    /// Saves a screenshot `<name>.png` (`-dark` when dark) into `$DIALDECK_SCREENSHOTS`, if
    /// set: for a person looking at the UI, never asserted on.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<()> {
        let Some(dir) = std::env::var_os(SCREENSHOTS) else {
            return Ok(());
        };
        let dark = std::env::var_os(SCREENSHOTS_DARK).is_some();
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir)?;
        let file = format!(
            "{}-{name}{}.png",
            self.name,
            if dark { "-dark" } else { "" }
        );
        self.browser.screenshot(&dir.join(file)).await
    }

    /// The readiness check's item `key` (`mic`, `speaker`, `socket`, `ice`): its state
    /// (`pending`, `checking`, `ok`, `failed`, or "" when the list is not shown), status and fix.
    pub async fn check_item(&self, key: &str) -> anyhow::Result<(String, String, String)> {
        let v = self
            .browser
            .execute(
                "const e = document.getElementById('check-' + arguments[0]); \
                 const t = (s) => (document.getElementById('check-' + arguments[0] + s) || {}).textContent || ''; \
                 return e ? [e.dataset.state, t('-status'), t('-fix')] : ['', '', ''];",
                json!([key]),
            )
            .await?;
        let s = |i: usize| v[i].as_str().unwrap_or_default().to_string();
        Ok((s(0), s(1), s(2)))
    }

    /// Waits until the check's item `key` is in `state`; returns its status and fix.
    pub async fn wait_check(
        &self,
        key: &str,
        state: &str,
        timeout: Duration,
    ) -> anyhow::Result<(String, String)> {
        let expr = format!("document.getElementById('check-{key}')?.dataset.state === '{state}'");
        if let Err(e) = self
            .browser
            .wait_for(
                &expr,
                timeout,
                &format!("{} check {key} {state}", self.name),
            )
            .await
        {
            let now = self.check_item(key).await.unwrap_or_default();
            bail!("{e:#}; the check shows {now:?}");
        }
        let (_, status, fix) = self.check_item(key).await?;
        Ok((status, fix))
    }

    /// Waits until the check's item `key` shows `status`.
    pub async fn wait_check_status(
        &self,
        key: &str,
        status: &str,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let expr =
            format!("document.getElementById('check-{key}-status')?.textContent === {status:?}");
        self.browser
            .wait_for(
                &expr,
                timeout,
                &format!("{} check {key}: {status}", self.name),
            )
            .await
            .map(|_| ())
    }

    /// Waits until the check's run ended with `outcome` (`passed` or `continued`).
    pub async fn wait_check_outcome(&self, outcome: &str, timeout: Duration) -> anyhow::Result<()> {
        let expr =
            format!("document.getElementById('phone-check')?.dataset.outcome === {outcome:?}");
        self.browser
            .wait_for(&expr, timeout, &format!("{} check {outcome}", self.name))
            .await
            .map(|_| ())
    }

    /// The check's outcome: `running`, `passed` or `continued`.
    pub async fn check_outcome(&self) -> anyhow::Result<String> {
        let v = self
            .browser
            .execute(
                "return document.getElementById('phone-check')?.dataset.outcome || '';",
                json!([]),
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }
}
