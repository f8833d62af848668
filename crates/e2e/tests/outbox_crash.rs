//! Crash test of the disposition outbox against the real binary (issue #7): while dispositions
//! sync, the server is killed with SIGKILL [`KILLS`] times at random moments and started again
//! on the same data directory and port. GHL (the simulator, behind a fault-injecting proxy)
//! fails about [`GHL_FAILURE_PER_MILLE`]/1000 of the requests (429 with rate-limit headers,
//! 5xx, timeouts, answers lost after the change was made); VICIdial's APIs are down for the
//! first part of the run and slow afterwards; some agents' VICIdial screens are gone (the
//! Non-Agent API has to reconcile); dispositions are submitted twice, also across restarts.
//!
//! At the end every disposition is `done` for both targets, and the simulators' ledgers and
//! stores show each one applied exactly once: one screen disposition or one `update_lead` per
//! lead in VICIdial (with the right status, one callback row, one call-notes row), and in GHL
//! one contact per lead, and one note (a task for a callback) and one opportunity for a sale
//! per disposition, DND for DNC, and the status tag.
//!
//! Run: `cargo xtask build`, then
//! `DIALDECK_BIN=target/release/dialdeck cargo test -p dialdeck-e2e --test outbox_crash -- --nocapture`.
//! `CRASH_SEED=<n>` replays the random choices (kill moments, faults, statuses) of a run.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context};
use axum::{
    body::Bytes,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use dialdeck_e2e::CrashableServer;
use dialdeck_ghl_sim::{GhlSim, RunningSim, SimConfig};
use dialdeck_vicidial_sim::{mariadb::MariaDb, seed, LedgerEntry, SimOptions, VicidialSim};
use serde_json::{json, Value};
use sqlx::{ConnectOptions, Connection, Executor, MySqlPool};

/// Agents, each with a phone and a lead of its own: one disposition each.
const AGENTS: usize = 100;
/// Agents dialling at the same time while the calls are set up.
const SETUP_PARALLEL: usize = 20;
/// SIGKILLs of the server.
const KILLS: usize = 100;
/// The server runs this long (uniformly random, ms) between its `/healthz` and the next kill.
const KILL_AFTER_MS: (u64, u64) = (50, 400);
/// Every n-th agent's VICIdial screen is gone after the call: the Non-Agent API must apply
/// its disposition (`update_lead`) once the reconcile delay has passed.
const SCREEN_GONE_EVERY: usize = 4;
/// VICIdial's APIs answer 503 from before the first submission until this long after it.
const VICIDIAL_API_DOWN: Duration = Duration::from_secs(10);
/// Once back, VICIdial's APIs answer this slowly (a slow VICIdial widens the moments between
/// one API effect and the outbox recording it, where a kill finds out whether it repeats).
const VICIDIAL_API_DELAY: Duration = Duration::from_millis(150);
/// The server applies a disposition through VICIdial's Non-Agent API once it is this old and
/// the screen has not applied it (seconds): within the kill phase, so that path is killed too.
const RECONCILE_SECS: &str = "16";
/// Statuses (chosen at random): a note (NI, B), an opportunity and a note (SALE), DND and a
/// note (DNC), a task and a VICIdial callback (CB).
const STATUSES: [&str; 5] = ["NI", "SALE", "DNC", "CB", "B"];
/// Every n-th disposition is POSTed twice right away.
const DUPLICATE_EVERY: usize = 5;
/// Every n-th disposition (offset 2) is held back and POSTed during the kill phase, racing a
/// kill: the server may die before, while or after it stores it; after the restart the same
/// request again must be accepted, and the disposition applied once.
const LATE_EVERY: usize = 5;
/// After every n-th restart one disposition is POSTed again.
const RESUBMIT_AFTER_RESTART_EVERY: usize = 10;
/// GHL requests failing, per mille (split over the fault kinds in [`Proxy::pick`]).
const GHL_FAILURE_PER_MILLE: u64 = 300;
/// The server's GHL request timeout; the proxy's hangs last longer.
const GHL_TIMEOUT_MS: u64 = 800;
/// How long, after the last kill, every disposition has to be done in.
const SETTLE: Duration = Duration::from_secs(180);
/// VICIdial's lead ids of the agents' leads start above this.
const LEAD_BASE: i64 = 1000;
/// VICIdial users of the agents start above this.
const USER_BASE: usize = 2000;
const AGENT_PASS: &str = "crashpass";
const GHL_LOCATION: &str = "locCrash";
const GHL_TOKEN: &str = "crash-test-token";

/// SplitMix64: reproducible randomness without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

// ---------------------------------------------------------------------------------------------
// GHL behind a proxy that fails a random share of the requests.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    /// 429 with `Retry-After` and the `X-RateLimit-*` headers.
    RateLimitedRetryAfter,
    /// 429 with the `X-RateLimit-*` headers only.
    RateLimited,
    /// 500, 502 or 503 without reaching GHL.
    ServerError,
    /// GHL made the change, the answer was lost (502 from the gateway).
    AnswerLost,
    /// No answer within the client's timeout, nothing changed.
    Hang,
    /// No answer within the client's timeout, but GHL made the change.
    HangApplied,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    rng: Arc<Mutex<Rng>>,
    counts: Arc<Mutex<BTreeMap<Fault, u64>>>,
    forwarded: Arc<AtomicU64>,
}

impl Proxy {
    fn pick(&self) -> Option<Fault> {
        let roll = self.rng.lock().unwrap().below(1000);
        if roll >= GHL_FAILURE_PER_MILLE {
            return None;
        }
        // Shares of the failures, in per mille of all requests (sum: 300).
        let fault = match roll * 300 / GHL_FAILURE_PER_MILLE {
            0..=29 => Fault::RateLimitedRetryAfter,
            30..=59 => Fault::RateLimited,
            60..=149 => Fault::ServerError,
            150..=194 => Fault::AnswerLost,
            195..=244 => Fault::Hang,
            _ => Fault::HangApplied,
        };
        *self.counts.lock().unwrap().entry(fault).or_default() += 1;
        Some(fault)
    }

    async fn forward(&self, parts: &axum::http::request::Parts, body: Bytes) -> Response {
        self.forwarded.fetch_add(1, Ordering::Relaxed);
        let path = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let mut req = self
            .http
            .request(parts.method.clone(), format!("{}{path}", self.upstream))
            .body(body);
        for (k, v) in &parts.headers {
            if !matches!(k.as_str(), "host" | "content-length" | "connection") {
                req = req.header(k, v);
            }
        }
        match req.send().await {
            Ok(res) => {
                let status = res.status();
                let mut headers = HeaderMap::new();
                for (k, v) in res.headers() {
                    if !matches!(
                        k.as_str(),
                        "content-length" | "transfer-encoding" | "connection"
                    ) {
                        headers.insert(k.clone(), v.clone());
                    }
                }
                let bytes = res.bytes().await.unwrap_or_default();
                (status, headers, bytes).into_response()
            }
            Err(e) => (StatusCode::BAD_GATEWAY, format!("proxy: {e}")).into_response(),
        }
    }
}

fn ghl_error(status: StatusCode) -> Response {
    let body = json!({"statusCode": status.as_u16(), "message": "injected by the crash test"});
    (status, axum::Json(body)).into_response()
}

async fn proxy_handler(State(p): State<Proxy>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 4 << 20).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let hang = Duration::from_millis(GHL_TIMEOUT_MS + 400);
    match p.pick() {
        None => p.forward(&parts, body).await,
        Some(fault @ (Fault::RateLimitedRetryAfter | Fault::RateLimited)) => {
            let mut res = ghl_error(StatusCode::TOO_MANY_REQUESTS);
            let h = res.headers_mut();
            h.insert("x-ratelimit-max", HeaderValue::from_static("300"));
            h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
            h.insert(
                "x-ratelimit-interval-milliseconds",
                HeaderValue::from_static("1000"),
            );
            if fault == Fault::RateLimitedRetryAfter {
                h.insert("retry-after", HeaderValue::from_static("1"));
            }
            res
        }
        Some(Fault::ServerError) => {
            let code = [500, 502, 503][p.rng.lock().unwrap().below(3) as usize];
            ghl_error(StatusCode::from_u16(code).expect("status"))
        }
        Some(Fault::AnswerLost) => {
            let _ = p.forward(&parts, body).await;
            ghl_error(StatusCode::BAD_GATEWAY)
        }
        Some(Fault::Hang) => {
            tokio::time::sleep(hang).await;
            ghl_error(StatusCode::GATEWAY_TIMEOUT)
        }
        Some(Fault::HangApplied) => {
            let res = p.forward(&parts, body).await;
            tokio::time::sleep(hang).await;
            res
        }
    }
}

async fn start_proxy(upstream: &str, seed: u64) -> anyhow::Result<(String, Proxy)> {
    let proxy = Proxy {
        upstream: upstream.to_string(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?,
        rng: Arc::new(Mutex::new(Rng(seed ^ 0x5EED))),
        counts: Arc::default(),
        forwarded: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = axum::Router::new()
        .fallback(proxy_handler)
        .with_state(proxy.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, proxy))
}

// ---------------------------------------------------------------------------------------------
// The agent's side of the server's API.

#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    url: String,
}

impl Api {
    async fn post(
        &self,
        cookie: Option<&str>,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<(u16, Value, Option<String>)> {
        let mut req = self
            .http
            .post(format!("{}{path}", self.url))
            .header("origin", &self.url)
            .json(body);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let res = req.send().await.with_context(|| format!("POST {path}"))?;
        let code = res.status().as_u16();
        let cookie = res
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.split(';').next())
            .map(str::to_string);
        let text = res.text().await?;
        Ok((
            code,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            cookie,
        ))
    }

    async fn get(&self, cookie: &str, path: &str) -> anyhow::Result<(u16, Value)> {
        let res = self
            .http
            .get(format!("{}{path}", self.url))
            .header("cookie", cookie)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let code = res.status().as_u16();
        let text = res.text().await?;
        Ok((code, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    async fn wait_state(
        &self,
        cookie: &str,
        what: &str,
        f: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (code, state) = self.get(cookie, "/api/agent/state").await?;
            if code == 200 && f(&state) {
                return Ok(state);
            }
            if Instant::now() > deadline {
                bail!("agent state never reached {what}: {code} {state}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// One agent's ended call, waiting for its disposition.
#[derive(Clone, Debug)]
struct Call {
    user: String,
    cookie: String,
    lead_id: i64,
    status: &'static str,
    screen_gone: bool,
    /// The disposition request (sent byte for byte the same every time).
    request: Value,
}

impl Call {
    fn id(&self) -> &str {
        self.request["id"].as_str().expect("id")
    }
}

async fn open_call(
    api: Api,
    sim: Arc<VicidialSim>,
    n: usize,
    status: &'static str,
) -> anyhow::Result<Call> {
    let user = (USER_BASE + n).to_string();
    let lead_id = LEAD_BASE + n as i64;
    let (code, body, cookie) = api
        .post(
            None,
            "/api/login",
            &json!({"user": user, "password": AGENT_PASS, "campaign": "TESTCAMP"}),
        )
        .await?;
    ensure!(code == 200, "login of {user}: {code} {body}");
    let cookie = cookie.context("no session cookie")?;
    sim.login_agent(&user, "TESTCAMP", &format!("cx{user}"))
        .await?;
    // Dialling waits for the agent's phone in the session conference.
    sim.phone_join(&user).await?;
    api.wait_state(
        &cookie,
        "logged in and paused, the phone in the session",
        |s| s["screen"] == "connected" && s["status"] == "PAUSED" && s["phone_in_session"] == true,
    )
    .await?;
    let (code, body, _) = api
        .post(
            Some(&cookie),
            "/api/call/dial",
            &json!({"lead_id": lead_id}),
        )
        .await?;
    ensure!(code == 200, "dial of {user}: {code} {body}");
    api.wait_state(&cookie, "answered", |s| {
        s["status"] == "INCALL" && s["sub_status"] == "" && s["lead_id"] == json!(lead_id)
    })
    .await?;
    let (code, body, _) = api
        .post(Some(&cookie), "/api/call/hangup", &json!({}))
        .await?;
    ensure!(code == 200, "hangup of {user}: {code} {body}");
    ensure!(
        body["wrapup"]["lead_id"] == json!(lead_id),
        "wrap-up of {user}: {body}"
    );
    let id = body["wrapup"]["call_id"]
        .as_str()
        .context("wrap-up call id")?
        .to_string();
    // The modal's callback: a local date and time in the agent's IANA zone (UTC here).
    let callback = (status == "CB").then(|| {
        json!({
            "at_local": (chrono::Utc::now() + chrono::Duration::days(2))
                .format("%Y-%m-%dT%H:%M")
                .to_string(),
            "time_zone": "UTC",
            "recipient": "USERONLY",
            "comments": format!("call back {user}"),
        })
    });
    // Which call it is, the server knows: the request names only the lead.
    let request = json!({
        "id": id,
        "lead_id": lead_id,
        "status": status,
        "callback": callback,
        "notes": format!("crash test, agent {user}"),
    });
    Ok(Call {
        user,
        cookie,
        lead_id,
        status,
        screen_gone: n % SCREEN_GONE_EVERY == 0,
        request,
    })
}

/// Submits `call`'s disposition; a replay must name the same disposition and targets.
async fn submit(api: &Api, call: &Call) -> anyhow::Result<Value> {
    let (code, body, _) = api
        .post(Some(&call.cookie), "/api/dispositions", &call.request)
        .await?;
    ensure!(
        code == 202,
        "disposition {} of {}: {code} {body}",
        call.id(),
        call.user
    );
    ensure!(
        body["id"] == json!(call.id()),
        "answer names another id: {body}"
    );
    Ok(body)
}

fn target_names(answer: &Value) -> Vec<String> {
    let mut names: Vec<String> = answer["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["target"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

fn done_targets(answer: &Value) -> Vec<String> {
    answer["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["state"] == "done")
        .filter_map(|t| t["target"].as_str().map(str::to_string))
        .collect()
}

/// Submits again: the answer names the same disposition and targets as `before` (an earlier
/// answer), and no target that was done is anything else now. Returns the new answer.
async fn resubmit(api: &Api, call: &Call, before: &Value) -> anyhow::Result<Value> {
    let again = submit(api, call).await?;
    ensure!(
        target_names(&again) == target_names(before) && target_names(before).len() == 2,
        "replay of {} answered {again}, before {before}",
        call.id()
    );
    let now_done = done_targets(&again);
    ensure!(
        done_targets(before).iter().all(|t| now_done.contains(t)),
        "replay of {} went back: {again}, before {before}",
        call.id()
    );
    Ok(again)
}

// ---------------------------------------------------------------------------------------------

async fn setup_vicidial() -> anyhow::Result<(String, MySqlPool)> {
    let maria = MariaDb::shared();
    let name = maria.fresh_database().await?;
    let mut conn = maria.options(&name).connect().await?;
    seed::seed(&mut conn, false).await?;
    let mut phones = Vec::new();
    let mut users = Vec::new();
    let mut leads = Vec::new();
    for n in 1..=AGENTS {
        let user = USER_BASE + n;
        let lead = LEAD_BASE + n as i64;
        phones.push(format!(
            "('cx{user}', '{user}', '{user}', '10.10.0.5', 'cx{user}', 'phonepass', 'ACTIVE', 'Y', 'SIP', \
             'sip-secret-{user}', 'Y', 'Y', 'Crash Agent {user}')"
        ));
        users.push(format!(
            "('{user}', '{AGENT_PASS}', 'Crash Agent {user}', 1, 'AGENTS', 'cx{user}', 'phonepass', '1', 'Y', 0, \
             '2026-01-01 00:00:00', '', '0', '1', '1')"
        ));
        leads.push(format!(
            "({lead}, NOW(), 'NEW', 101, '1', '{}', 'Crash', 'Lead{n}', '', 'Chicago', 'IL', '60601', '', '', 0)",
            3_125_552_000 + n as u64
        ));
    }
    conn.execute(
        format!(
            "INSERT INTO phones (extension, dialplan_number, voicemail_id, server_ip, login, pass, status, \
             active, protocol, conf_secret, is_webphone, webphone_auto_answer, fullname) VALUES {}",
            phones.join(", ")
        )
        .as_str(),
    )
    .await?;
    conn.execute(
        format!(
            "INSERT INTO vicidial_users (user, pass, full_name, user_level, user_group, phone_login, phone_pass, \
             agentcall_manual, active, failed_login_count, last_login_date, pass_hash, api_only_user, \
             scheduled_callbacks, agentonly_callbacks) VALUES {}",
            users.join(", ")
        )
        .as_str(),
    )
    .await?;
    conn.execute(
        format!(
            "INSERT INTO vicidial_list (lead_id, entry_date, status, list_id, phone_code, phone_number, \
             first_name, last_name, address1, city, state, postal_code, email, comments, called_count) VALUES {}",
            leads.join(", ")
        )
        .as_str(),
    )
    .await?;
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(20)
        .connect_with(maria.options(&name))
        .await?;
    Ok((maria.url(&name), pool))
}

/// dialdeck's id of every disposition by (agent, the id the agent's browser gave it), read
/// from the server's store (SQLite allows a reader beside the running server).
async fn dialdeck_ids(
    server: &CrashableServer,
) -> anyhow::Result<HashMap<(String, String), String>> {
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(server.store_path())
        .create_if_missing(false);
    let mut conn = opts.connect().await?;
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT agent_user, client_id, id FROM dispositions")
            .fetch_all(&mut conn)
            .await?;
    conn.close().await?;
    Ok(rows
        .into_iter()
        .map(|(agent, client_id, id)| ((agent, client_id), id))
        .collect())
}

/// Jobs the killed server (`pid`) left `running`, read from its store while it is down.
async fn running_jobs(server: &CrashableServer, pid: u32) -> anyhow::Result<i64> {
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(server.store_path())
        .create_if_missing(false);
    let mut conn = opts.connect().await?;
    // Worker names start with the process id (outbox/worker.rs).
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox_jobs WHERE state = 'running' AND lease_owner LIKE ?",
    )
    .bind(format!("{pid}-%"))
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    Ok(n)
}

fn ledger_status(fields: &[(String, String)]) -> Option<&str> {
    fields
        .iter()
        .find(|(k, _)| k == "status")
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_disposition_lands_exactly_once_through_a_hundred_sigkills() -> anyhow::Result<()> {
    let t0 = Instant::now();
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        });
    println!("outbox_crash: CRASH_SEED={seed}");
    let mut rng = Rng(seed);

    // VICIdial: MariaDB with the seed plus our agents, phones and leads; the simulator.
    let (db_url, pool) = setup_vicidial().await?;
    let sim = Arc::new(
        VicidialSim::start(
            pool.clone(),
            SimOptions {
                poll_interval: Duration::from_millis(400),
                answer_after: Duration::from_millis(100),
            },
        )
        .await?,
    );
    // VICIdial gives each server 49 MeetMe rooms; more agents than that need more rooms.
    for room in 8_600_100..8_600_100 + AGENTS as u32 {
        sqlx::query(
            "INSERT IGNORE INTO vicidial_conferences (conf_exten, server_ip, extension) \
             VALUES (?, '10.10.0.5', '')",
        )
        .bind(room)
        .execute(&pool)
        .await?;
    }
    let web_url = sim.base_url();

    // GHL: the simulator behind the fault proxy.
    let ghl: RunningSim = GhlSim::start(SimConfig {
        burst_max: 300,
        window: Duration::from_secs(1),
        require_known_tokens: true,
        ..SimConfig::default()
    })
    .await
    .map_err(anyhow::Error::msg)?;
    ghl.sim.add_token(GHL_TOKEN);
    let (proxy_url, proxy) = start_proxy(&ghl.url, seed).await?;

    let ghl_timeout = GHL_TIMEOUT_MS.to_string();
    let mut server = CrashableServer::start(&[
        ("DIALDECK_VICIDIAL_DB_URL", db_url.as_str()),
        ("DIALDECK_VICIDIAL_WEB_URL", web_url.as_str()),
        ("DIALDECK_VICIDIAL_API_USER", seed::API_USER),
        ("DIALDECK_VICIDIAL_API_PASS", seed::API_PASS),
        ("DIALDECK_VICIDIAL_POLL_MS", "200"),
        ("DIALDECK_VICIDIAL_API_TIMEOUT_MS", "2000"),
        ("DIALDECK_VICIDIAL_CONFIRM_SECS", "3"),
        ("DIALDECK_VICIDIAL_RECONCILE_SECS", RECONCILE_SECS),
        ("DIALDECK_OUTBOX_LEASE_SECS", "3"),
        ("DIALDECK_OUTBOX_BACKOFF_BASE_MS", "200"),
        ("DIALDECK_OUTBOX_BACKOFF_MAX_SECS", "2"),
        ("DIALDECK_OUTBOX_MAX_ATTEMPTS", "100000"),
        ("DIALDECK_GHL_BASE_URL", proxy_url.as_str()),
        ("DIALDECK_GHL_LOCATION_ID", GHL_LOCATION),
        ("DIALDECK_GHL_PRIVATE_TOKEN", GHL_TOKEN),
        ("DIALDECK_GHL_SALE_PIPELINE_ID", "pipeSales"),
        ("DIALDECK_GHL_SALE_STAGE_ID", "stageWon"),
        ("DIALDECK_GHL_TIMEOUT_MS", ghl_timeout.as_str()),
    ])
    .await?;
    let api = Api {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()?,
        url: server.url.clone(),
    };
    let result = run(&mut rng, &mut server, &api, &sim, &ghl, &proxy, &pool, t0).await;
    if result.is_err() {
        eprintln!(
            "outbox_crash: failed with CRASH_SEED={seed}; server log {} ends:\n{}",
            server.log_path().display(),
            server.log_tail(40)
        );
        let kept = server.stop_and_keep_data();
        eprintln!(
            "outbox_crash: the server's data directory is kept at {}",
            kept.display()
        );
    }
    result
}

#[allow(clippy::too_many_arguments)]
async fn run(
    rng: &mut Rng,
    server: &mut CrashableServer,
    api: &Api,
    sim: &Arc<VicidialSim>,
    ghl: &RunningSim,
    proxy: &Proxy,
    pool: &MySqlPool,
    t0: Instant,
) -> anyhow::Result<()> {
    // Phase 1: every agent logs in, dials its lead and hangs up (server up, no faults yet).
    let statuses: Vec<&'static str> = (1..=AGENTS)
        .map(|_| STATUSES[rng.below(STATUSES.len() as u64) as usize])
        .collect();
    let mut calls: Vec<Call> = Vec::with_capacity(AGENTS);
    for chunk in (1..=AGENTS).collect::<Vec<_>>().chunks(SETUP_PARALLEL) {
        let mut set = tokio::task::JoinSet::new();
        for &n in chunk {
            set.spawn(open_call(api.clone(), sim.clone(), n, statuses[n - 1]));
        }
        while let Some(r) = set.join_next().await {
            calls.push(r??);
        }
    }
    calls.sort_by_key(|c| c.lead_id);
    for c in calls.iter().filter(|c| c.screen_gone) {
        sim.screen_gone(&c.user);
    }
    let setup = t0.elapsed();
    println!(
        "outbox_crash: {} calls ended in wrap-up after {:.1} s",
        calls.len(),
        setup.as_secs_f64()
    );

    // VICIdial's APIs go down; every disposition is submitted, some twice.
    sim.set_api_down(true);
    let api_down_at = Instant::now();
    let mut answers: HashMap<String, Value> = HashMap::new();
    let mut duplicates = 0;
    let is_late = |i: usize| i % LATE_EVERY == 2;
    let mut late: Vec<&Call> = Vec::new();
    for (i, call) in calls.iter().enumerate() {
        if is_late(i) {
            late.push(call);
            continue;
        }
        let first = submit(api, call).await?;
        ensure!(
            target_names(&first) == ["ghl", "vicidial"],
            "targets of {}: {first}",
            call.id()
        );
        let last = if i % DUPLICATE_EVERY == 0 {
            duplicates += 1;
            resubmit(api, call, &first).await?
        } else {
            first
        };
        answers.insert(call.id().to_string(), last);
    }
    // The same key with another body is refused, and changes nothing.
    let mut reused = calls[0].request.clone();
    reused["notes"] = json!("another disposition under the same id");
    let (code, body, _) = api
        .post(Some(&calls[0].cookie), "/api/dispositions", &reused)
        .await?;
    ensure!(
        code == 409 && body["code"] == "idempotency_key_reused",
        "a reused key answered {code} {body}"
    );

    // Phase 2: SIGKILL the server at random moments while the outbox works, restart it on the
    // same data directory and port each time.
    let kill_phase = Instant::now();
    let mut kills_with_running = 0;
    let mut running_total = 0;
    let mut restart_max = Duration::ZERO;
    let mut restart_sum = Duration::ZERO;
    let mut api_back = None;
    let late_every_kill = (KILLS / late.len().max(1)).max(1);
    let (mut raced, mut raced_answered) = (0, 0);
    late.reverse();
    for k in 1..=KILLS {
        tokio::time::sleep(Duration::from_millis(
            rng.between(KILL_AFTER_MS.0, KILL_AFTER_MS.1),
        ))
        .await;
        // A held-back disposition races this kill.
        let racing = if k % late_every_kill == 0 {
            late.pop()
        } else {
            None
        };
        let racing_submit = racing.map(|call| {
            let (api, call) = (api.clone(), call.clone());
            tokio::spawn(async move {
                api.post(Some(&call.cookie), "/api/dispositions", &call.request)
                    .await
            })
        });
        if racing.is_some() {
            tokio::time::sleep(Duration::from_millis(rng.below(25))).await;
        }
        let pid = server.pid().context("server not running")?;
        server.kill9()?;
        let running = running_jobs(server, pid).await?;
        if running > 0 {
            kills_with_running += 1;
            running_total += running;
        }
        if api_back.is_none() && api_down_at.elapsed() >= VICIDIAL_API_DOWN {
            sim.set_api_delay(VICIDIAL_API_DELAY);
            sim.set_api_down(false);
            api_back = Some(k);
        }
        let took = server.restart().await?;
        restart_max = restart_max.max(took);
        restart_sum += took;
        if let (Some(call), Some(task)) = (racing, racing_submit) {
            // Answered before the kill (stored), or cut off (stored or not): the same request
            // now is accepted either way, as the same disposition.
            let before = task.await?;
            let now = submit(api, call).await?;
            ensure!(
                target_names(&now) == ["ghl", "vicidial"],
                "targets of {}: {now}",
                call.id()
            );
            // A transport error is the kill; an answer must be the acceptance.
            if let Ok((code, before, _)) = &before {
                raced_answered += 1;
                ensure!(
                    *code == 202 && target_names(before) == target_names(&now),
                    "{}: answered {code} {before} before the kill, {now} after",
                    call.id()
                );
            }
            raced += 1;
            duplicates += 1;
            answers.insert(call.id().to_string(), now);
        }
        if k % RESUBMIT_AFTER_RESTART_EVERY == 0 {
            let submitted: Vec<&Call> = calls
                .iter()
                .filter(|c| answers.contains_key(c.id()))
                .collect();
            let call = submitted[rng.below(submitted.len() as u64) as usize];
            let again = resubmit(api, call, &answers[call.id()]).await?;
            answers.insert(call.id().to_string(), again);
            duplicates += 1;
        }
    }
    if api_back.is_none() {
        sim.set_api_down(false);
    }
    for call in late.drain(..) {
        let answer = submit(api, call).await?;
        answers.insert(call.id().to_string(), answer);
    }
    ensure!(
        answers.len() == calls.len(),
        "not every disposition was submitted"
    );
    println!(
        "outbox_crash: {KILLS} SIGKILLs in {:.1} s ({kills_with_running} with jobs running, \
         {running_total} running jobs killed in all); restarts {:.0} ms on average, {:.0} ms at most; \
         VICIdial's API back at kill {}; {raced} submissions raced a kill ({raced_answered} \
         answered before it)",
        kill_phase.elapsed().as_secs_f64(),
        restart_sum.as_secs_f64() * 1000.0 / KILLS as f64,
        restart_max.as_secs_f64() * 1000.0,
        api_back.map_or("after the last".to_string(), |k| k.to_string()),
    );

    // Phase 3: the last server runs until every disposition is done for both targets.
    let settle = Instant::now();
    let mut attempts: BTreeMap<String, u64> = BTreeMap::new();
    loop {
        let mut pending = 0;
        let mut last_pending = Value::Null;
        attempts.clear();
        for call in &calls {
            let (code, body) = api
                .get(&call.cookie, &format!("/api/dispositions/{}", call.id()))
                .await?;
            ensure!(code == 200, "GET disposition {}: {code} {body}", call.id());
            for t in body["targets"].as_array().into_iter().flatten() {
                let target = t["target"].as_str().unwrap_or("?").to_string();
                *attempts.entry(target).or_default() += t["attempts"].as_u64().unwrap_or(0);
                match t["state"].as_str() {
                    Some("done") => {}
                    Some("failed") => bail!("disposition {} was parked: {body}", call.id()),
                    _ => {
                        pending += 1;
                        last_pending = body.clone();
                    }
                }
            }
        }
        if pending == 0 {
            break;
        }
        if settle.elapsed() > SETTLE {
            bail!("{pending} target jobs still not done after {SETTLE:?}, e.g. {last_pending}");
        }
        println!(
            "outbox_crash: {pending} target jobs not done yet ({:.0} s after the last kill)",
            settle.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    println!(
        "outbox_crash: all {} dispositions done on both targets {:.1} s after the last kill; \
         attempts {attempts:?}",
        calls.len(),
        settle.elapsed().as_secs_f64()
    );
    // Anything a killed worker still had in flight has landed by now.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Exactly once in VICIdial.
    let ledger = sim.ledger();
    let mut by_screen = 0;
    let mut by_api = 0;
    for call in &calls {
        let lead = call.lead_id as u64;
        let want_lead = if call.status == "CB" {
            "CBHOLD"
        } else {
            call.status
        };
        let screen: Vec<&str> = ledger
            .iter()
            .filter_map(|e| match e {
                LedgerEntry::ScreenDispo {
                    lead_id, status, ..
                } if *lead_id == lead => Some(status.as_str()),
                _ => None,
            })
            .collect();
        let updates: Vec<&str> = ledger
            .iter()
            .filter_map(|e| match e {
                LedgerEntry::LeadUpdated {
                    lead_id, fields, ..
                } if *lead_id == lead => ledger_status(fields),
                _ => None,
            })
            .collect();
        ensure!(
            screen.len() + updates.len() == 1,
            "lead {lead} ({} {}, screen gone: {}) got {} screen dispositions {screen:?} and {} \
             update_lead {updates:?}: not exactly once",
            call.user,
            call.status,
            call.screen_gone,
            screen.len(),
            updates.len()
        );
        if let Some(s) = screen.first() {
            ensure!(*s == call.status, "lead {lead}: screen applied {s}");
            by_screen += 1;
        }
        if let Some(s) = updates.first() {
            ensure!(*s == want_lead, "lead {lead}: update_lead set {s}");
            by_api += 1;
        }
        if call.screen_gone {
            ensure!(
                updates.len() == 1,
                "lead {lead}: the screen is gone, yet no update_lead"
            );
        }
        let (status,): (String,) =
            sqlx::query_as("SELECT status FROM vicidial_list WHERE lead_id = ?")
                .bind(call.lead_id)
                .fetch_one(pool)
                .await?;
        ensure!(
            status == want_lead,
            "lead {lead}: vicidial_list.status {status}, want {want_lead}"
        );
        let callbacks: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM vicidial_callbacks WHERE lead_id = ?")
                .bind(call.lead_id)
                .fetch_one(pool)
                .await?;
        let want_callbacks = i64::from(call.status == "CB");
        ensure!(
            callbacks == want_callbacks,
            "lead {lead}: {callbacks} callback rows, want {want_callbacks}"
        );
        let notes: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM vicidial_call_notes WHERE lead_id = ?")
                .bind(call.lead_id)
                .fetch_one(pool)
                .await?;
        ensure!(notes == 1, "lead {lead}: {notes} call-notes rows, want 1");
    }

    // A call-log row changes status once (a repeat with the same status changes nothing).
    let mut log_changes: HashMap<&str, usize> = HashMap::new();
    for e in &ledger {
        if let LedgerEntry::LogEntryUpdated {
            uniqueid,
            old_status,
            new_status,
            ..
        } = e
        {
            if old_status != new_status {
                *log_changes.entry(uniqueid.as_str()).or_default() += 1;
            }
        }
    }
    if let Some((uniqueid, n)) = log_changes.iter().find(|(_, n)| **n > 1) {
        bail!("vicidial_log {uniqueid} changed status {n} times");
    }

    // Exactly once in GHL, where each disposition is referred to by dialdeck's own id of it.
    let contacts = ghl.sim.contacts();
    let notes = ghl.sim.notes();
    let opportunities = ghl.sim.opportunities();
    let tasks = ghl.sim.tasks();
    let ids = dialdeck_ids(server).await?;
    for call in &calls {
        let id = ids
            .get(&(call.user.clone(), call.id().to_string()))
            .with_context(|| format!("{} of {} is not in the store", call.id(), call.user))?;
        let reference = format!("dialdeck ref: {id}");
        let digits = (3_125_552_000 + (call.lead_id - LEAD_BASE) as u64).to_string();
        let mine: Vec<_> = contacts
            .iter()
            .filter(|c| c.phone.as_deref().is_some_and(|p| p.ends_with(&digits)))
            .collect();
        ensure!(
            mine.len() == 1,
            "lead {}: {} GHL contacts with its phone",
            call.lead_id,
            mine.len()
        );
        let contact = mine[0];
        let count_notes = notes.iter().filter(|n| n.body.contains(&reference)).count();
        let count_opps = opportunities
            .iter()
            .filter(|o| o.name.contains(&format!("[{id}]")))
            .count();
        let count_tasks = tasks
            .iter()
            .filter(|t| t.body.as_deref().is_some_and(|b| b.contains(&reference)))
            .count();
        // Every disposition leaves a note, except a callback, whose task carries it.
        let want = match call.status {
            "SALE" => (1, 1, 0),
            "CB" => (0, 0, 1),
            _ => (1, 0, 0),
        };
        ensure!(
            (count_notes, count_opps, count_tasks) == want,
            "disposition {id} ({}): GHL has {count_notes} notes, {count_opps} opportunities, \
             {count_tasks} tasks; want {want:?}",
            call.status
        );
        ensure!(
            contact.dnd == (call.status == "DNC"),
            "disposition {id} ({}): contact DND is {}",
            call.status,
            contact.dnd
        );
        let tag = format!("dialdeck:{}", call.status.to_lowercase());
        ensure!(
            contact.tags.contains(&tag),
            "disposition {id}: contact tags {:?} lack {tag}",
            contact.tags
        );
    }
    ensure!(
        contacts.len() == calls.len(),
        "GHL has {} contacts for {} leads",
        contacts.len(),
        calls.len()
    );

    // How often the Non-Agent API path was entered again for the same disposition (a kill or
    // a timeout interrupted it): the repeats that must not apply it twice.
    let log = std::fs::read_to_string(server.log_path()).unwrap_or_default();
    let mut reconciles: HashMap<&str, usize> = HashMap::new();
    for line in log.lines() {
        if line.contains("through the Non-Agent API") {
            if let Some(call) = calls.iter().find(|c| line.contains(c.id())) {
                *reconciles.entry(call.id()).or_default() += 1;
            }
        }
    }
    let reconciled_again = reconciles.values().filter(|n| **n > 1).count();

    let faults = proxy.counts.lock().unwrap().clone();
    let injected: u64 = faults.values().sum();
    let ghl_requests = injected + proxy.forwarded.load(Ordering::Relaxed)
        - faults.get(&Fault::AnswerLost).copied().unwrap_or(0)
        - faults.get(&Fault::HangApplied).copied().unwrap_or(0);
    let vicidial_requests = ledger
        .iter()
        .filter(|e| matches!(e, LedgerEntry::ApiRequest { .. }))
        .count();
    println!(
        "outbox_crash: PASS in {:.1} s: {} dispositions ({} duplicate submissions), {KILLS} \
         SIGKILLs, {} server starts; VICIdial: {by_screen} by the agent screen, {by_api} by \
         update_lead ({reconciled_again} of them entered that path more than once), \
         {vicidial_requests} API requests; GHL: {ghl_requests} requests, {injected} \
         failed on purpose ({:.0} %): {faults:?}",
        t0.elapsed().as_secs_f64(),
        calls.len(),
        duplicates,
        server.starts(),
        injected as f64 * 100.0 / ghl_requests.max(1) as f64,
    );
    Ok(())
}
