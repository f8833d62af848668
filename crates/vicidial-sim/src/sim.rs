//! The simulator handle, its HTTP server and its controls.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::Duration,
};

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{any, get, post},
    Json, Router,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::MySqlPool;
use tokio::task::JoinHandle;

use crate::{agent_api, channels, non_agent_api, params::Params, screen, tables};

/// How the simulated agent screens behave.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// How often a virtual agent screen polls (VICIdial's screen: about 1 s).
    pub poll_interval: Duration,
    /// How long after the dial the customer answers (numbers without a script).
    pub answer_after: Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            poll_interval: Duration::from_millis(200),
            answer_after: Duration::from_millis(300),
        }
    }
}

/// What the customer at a number does when dialled ([`VicidialSim::script_number`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Answers after [`SimOptions::answer_after`].
    Answer,
    /// The line is busy: the call ends unanswered and the screen opens the dispo step.
    Busy,
    /// Nobody answers: the call ends unanswered and the screen opens the dispo step.
    NoAnswer,
}

/// Which HTTP API a request went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// `agc/api.php`.
    Agent,
    /// `vicidial/non_agent_api.php`.
    NonAgent,
}

/// A scheduled callback as the agent screen recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callback {
    /// `vicidial_callbacks.callback_time`, `YYYY-MM-DD HH:MM:SS` (server local time).
    pub datetime: String,
    /// `USERONLY` or `ANYONE`.
    pub recipient: String,
    /// `vicidial_callbacks.comments`.
    pub comments: String,
}

/// One effect the simulator applied, in order. Exactly-once tests count these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum LedgerEntry {
    /// A request to one of the APIs (also refused ones) with the first line of its answer.
    ApiRequest {
        api: Api,
        function: String,
        agent_user: String,
        result: String,
        at: DateTime<Utc>,
    },
    /// An agent session was opened (vicidial.php login or [`VicidialSim::login_agent`]).
    Login {
        agent: String,
        campaign: String,
        conf_exten: String,
        at: DateTime<Utc>,
    },
    /// `agc/vicidial.php` died with a PHP fatal error after writing the session rows: the
    /// page has no script, so no screen polls for this login.
    PhpFatal {
        agent: String,
        script: String,
        message: String,
        at: DateTime<Utc>,
    },
    /// A channel of the agent's phone entered the session conference (`live_sip_channels`).
    PhoneJoined {
        agent: String,
        channel: String,
        at: DateTime<Utc>,
    },
    /// The agent's phone left the session conference.
    PhoneLeft {
        agent: String,
        channel: String,
        at: DateTime<Utc>,
    },
    /// The screen logged the agent out (`userLOGout`).
    Logout { agent: String, at: DateTime<Utc> },
    /// The screen placed a manual dial (`manDiaLnextCaLL`).
    DialPlaced {
        agent: String,
        lead_id: u64,
        phone_code: String,
        phone_number: String,
        callerid: String,
        at: DateTime<Utc>,
    },
    /// The screen consumed an `external_dial` it could not place (e.g. number in DNC).
    DialRefused {
        agent: String,
        phone_number: String,
        reason: String,
        at: DateTime<Utc>,
    },
    /// The customer answered (`manDiaLlogCaLL stage=start`).
    CallAnswered {
        agent: String,
        lead_id: u64,
        uniqueid: String,
        at: DateTime<Utc>,
    },
    /// The dial ended unanswered (busy, no answer).
    CallFailed {
        agent: String,
        lead_id: u64,
        outcome: Outcome,
        at: DateTime<Utc>,
    },
    /// The customer hung up; the agent stays `INCALL` (sub-status `DEAD`).
    CustomerHangup {
        agent: String,
        lead_id: u64,
        at: DateTime<Utc>,
    },
    /// The screen hung the call up (`external_hangup`) and opened the dispo step.
    CallHungUp {
        agent: String,
        lead_id: u64,
        uniqueid: String,
        at: DateTime<Utc>,
    },
    /// A disposition applied by the screen (`updateDISPO`): `status` is the real status (the
    /// lead itself gets `CBHOLD` when `callback` is set).
    ScreenDispo {
        agent: String,
        lead_id: u64,
        status: String,
        callback: Option<Callback>,
        at: DateTime<Utc>,
    },
    /// A scheduled-callback status arrived without a date: the screen waits for a human.
    DispoStalled {
        agent: String,
        lead_id: u64,
        status: String,
        at: DateTime<Utc>,
    },
    /// A pause code submitted by the screen.
    PauseCode {
        agent: String,
        code: String,
        at: DateTime<Utc>,
    },
    /// An `external_pause` the screen acted on.
    Pause {
        agent: String,
        value: String,
        at: DateTime<Utc>,
    },
    /// DTMF the screen played into the conference.
    Dtmf {
        agent: String,
        digits: String,
        at: DateTime<Utc>,
    },
    /// A phone number added to a DNC list (`list` = `SYSTEM_INTERNAL` or a campaign id), by
    /// the screen's dispo (`by` = agent) or by `add_dnc_phone` (`by` = API user).
    DncAdded {
        phone_number: String,
        list: String,
        by: String,
        at: DateTime<Utc>,
    },
    /// `update_lead` changed a lead: the `vicidial_list` columns set, and callback changes.
    LeadUpdated {
        lead_id: u64,
        fields: Vec<(String, String)>,
        callback: Option<String>,
        at: DateTime<Utc>,
    },
    /// `update_log_entry` changed a `vicidial_log` status.
    LogEntryUpdated {
        uniqueid: String,
        old_status: String,
        new_status: String,
        at: DateTime<Utc>,
    },
}

/// What one agent's screen keeps in its JavaScript variables between polls.
#[derive(Debug, Default)]
pub(crate) struct Screen {
    /// The `session_name` of the vicidial.php login this screen belongs to; a screen of an
    /// older login of the same agent acts on nothing.
    pub session_name: String,
    /// Polls so far (`check_n`): the screen takes no `APIDiaL` before its third poll.
    pub polls: u64,
    /// The last `external_dial` request handled (the screen ignores a repeat).
    pub last_dial: Option<String>,
    /// The last `external_pause` value handled.
    pub last_pause: Option<String>,
    /// The live (or ringing) customer call.
    pub call: Option<Call>,
    /// The status value the screen is stalled on (callback without a date).
    pub stalled_on: Option<String>,
    /// The `uniqueid` of the last call, for the dispo step's agent log.
    pub last_uniqueid: String,
}

/// A customer call placed by the screen.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub lead_id: u64,
    pub list_id: u64,
    pub phone_code: String,
    pub phone_number: String,
    pub called_count: i64,
    pub dialed: tokio::time::Instant,
    pub outcome: Outcome,
    /// Set once answered.
    pub uniqueid: Option<String>,
    pub start_epoch: i64,
    pub customer_gone: bool,
}

pub(crate) type ScreenCell = Arc<tokio::sync::Mutex<Screen>>;

/// Shared state behind the handle and the HTTP handlers.
pub(crate) struct Shared {
    pub pool: MySqlPool,
    pub opts: SimOptions,
    ledger: Mutex<Vec<LedgerEntry>>,
    api_down: AtomicBool,
    api_delay: Mutex<Duration>,
    scripts: Mutex<HashMap<String, Outcome>>,
    screens: Mutex<HashMap<String, ScreenCell>>,
    virtual_screens: Mutex<HashMap<String, JoinHandle<()>>>,
    counter: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn record(&self, entry: LedgerEntry) {
        lock(&self.ledger).push(entry);
    }

    pub fn next_n(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn outcome_for(&self, phone_number: &str) -> Outcome {
        lock(&self.scripts)
            .get(phone_number)
            .copied()
            .unwrap_or(Outcome::Answer)
    }

    /// The screen state of `agent`, created on first use.
    pub fn screen(&self, agent: &str) -> ScreenCell {
        lock(&self.screens)
            .entry(agent.to_string())
            .or_default()
            .clone()
    }

    /// Forgets the screen state: a new login of `agent` with `session_name`.
    pub fn reset_screen(&self, agent: &str, session_name: &str) {
        let screen = Screen {
            session_name: session_name.to_string(),
            ..Screen::default()
        };
        lock(&self.screens).insert(agent.to_string(), Arc::new(tokio::sync::Mutex::new(screen)));
    }

    pub fn existing_screen(&self, agent: &str) -> Option<ScreenCell> {
        lock(&self.screens).get(agent).cloned()
    }

    fn start_virtual_screen(self: &Arc<Self>, agent: &str) {
        let shared = Arc::clone(self);
        let user = agent.to_string();
        let task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(shared.opts.poll_interval);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval.tick().await;
            // The page of the login that is current now; a later login ends this screen.
            let session = match screen::current_session(&shared.pool, &user).await {
                Ok(Some(session)) => session,
                _ => return,
            };
            loop {
                interval.tick().await;
                match screen::virtual_poll(&shared, &user, &session).await {
                    Ok(screen::Tick::LoggedOut) => break,
                    Ok(screen::Tick::Running) => {}
                    // The database went away (test ended): stop quietly.
                    Err(e) => {
                        eprintln!("vicidial-sim: virtual screen of {user}: {e:#}");
                        break;
                    }
                }
            }
        });
        if let Some(old) = lock(&self.virtual_screens).insert(agent.to_string(), task) {
            old.abort();
        }
    }

    fn stop_virtual_screen(&self, agent: &str) {
        if let Some(task) = lock(&self.virtual_screens).remove(agent) {
            task.abort();
        }
    }
}

/// A running VICIdial simulator: `agc/api.php`, `vicidial/non_agent_api.php`,
/// `agc/vicidial.php` (login + agent screen page), `agc/conf_exten_check.php` (the screen's
/// poll) and the test controls under `/__sim/`.
pub struct VicidialSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl Drop for VicidialSim {
    fn drop(&mut self) {
        self.server.abort();
        for (_, task) in lock(&self.shared.virtual_screens).drain() {
            task.abort();
        }
    }
}

impl VicidialSim {
    /// Installs the extra tables ([`tables::install_extra_tables`]) into the database behind
    /// `pool` (which must hold the schema and a seed) and serves on `127.0.0.1:0`.
    pub async fn start(pool: MySqlPool, opts: SimOptions) -> anyhow::Result<VicidialSim> {
        Self::start_on(pool, opts, "127.0.0.1:0".parse()?).await
    }

    /// [`VicidialSim::start`] on a chosen loopback address (the development binary).
    pub async fn start_on(
        pool: MySqlPool,
        opts: SimOptions,
        addr: SocketAddr,
    ) -> anyhow::Result<VicidialSim> {
        anyhow::ensure!(
            addr.ip().is_loopback(),
            "the simulator listens on loopback only"
        );
        tables::install_extra_tables(&pool).await?;
        let shared = Arc::new(Shared {
            pool,
            opts,
            ledger: Mutex::new(Vec::new()),
            api_down: AtomicBool::new(false),
            api_delay: Mutex::new(Duration::ZERO),
            scripts: Mutex::new(HashMap::new()),
            screens: Mutex::new(HashMap::new()),
            virtual_screens: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
        });
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = router(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("vicidial-sim: server stopped: {e}");
            }
        });
        Ok(VicidialSim {
            shared,
            addr,
            server,
        })
    }

    /// `http://127.0.0.1:PORT`; the Agent API is at `{base}/agc/api.php`, the Non-Agent API
    /// at `{base}/vicidial/non_agent_api.php`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Opens an agent session as a successful `vicidial.php` login does (without checking
    /// passwords) and starts the agent's virtual screen. Returns the `conf_exten`.
    pub async fn login_agent(
        &self,
        user: &str,
        campaign: &str,
        phone_login: &str,
    ) -> anyhow::Result<String> {
        let conf_exten = screen::open_session(&self.shared, user, campaign, phone_login)
            .await?
            .map_err(|e| anyhow::anyhow!("login refused: {}", e.message()))?;
        self.start_screen(user);
        Ok(conf_exten.conf_exten)
    }

    /// Starts (or restarts) the virtual agent screen of `user`, polling every
    /// [`SimOptions::poll_interval`]. Needs a Tokio runtime.
    pub fn start_screen(&self, user: &str) {
        self.shared.start_virtual_screen(user);
    }

    /// The agent's screen is gone: its virtual screen stops polling, so queued requests are
    /// never consumed. (A browser screen is gone when its polls stop.)
    pub fn screen_gone(&self, user: &str) {
        self.shared.stop_virtual_screen(user);
    }

    /// The customer hangs up. VICIdial keeps the agent `INCALL`; `agent_status` shows
    /// sub-status `DEAD` until the agent (`external_hangup`) ends the call.
    pub async fn customer_hangup(&self, user: &str) -> anyhow::Result<()> {
        screen::customer_hangup(&self.shared, user).await
    }

    /// What the customer at `phone_number` does when dialled from now on.
    pub fn script_number(&self, phone_number: &str, outcome: Outcome) {
        lock(&self.shared.scripts).insert(phone_number.to_string(), outcome);
    }

    /// Both APIs answer HTTP 503 with an empty body while `down` (the connection is not
    /// closed). The agent screen pages and `/__sim/` stay up.
    pub fn set_api_down(&self, down: bool) {
        self.shared.api_down.store(down, Ordering::SeqCst);
    }

    /// Both APIs wait `delay` before handling each request (to provoke client timeouts; the
    /// request is still applied after the delay if the client is gone).
    pub fn set_api_delay(&self, delay: Duration) {
        *lock(&self.shared.api_delay) = delay;
    }

    /// Every effect applied so far, in order.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        lock(&self.shared.ledger).clone()
    }

    /// Runs one poll of `user`'s screen (of the current login) now, as one
    /// `conf_exten_check.php` request and the page's handling of its answer do.
    pub async fn tick(&self, user: &str) -> anyhow::Result<()> {
        let session = screen::current_session(&self.shared.pool, user)
            .await?
            .ok_or_else(|| anyhow::anyhow!("{user} has no agent session"))?;
        screen::virtual_poll(&self.shared, user, &session)
            .await
            .map(|_| ())
    }

    /// A channel of the agent's phone enters the session conference, as VICIdial's
    /// `AST_update.pl` records it from Asterisk: a `live_sip_channels` row with the phone's
    /// channel (`SIP/cc1001-0000000a`) and `extension` = the session's `conf_exten`. Returns
    /// the channel. The agent must be logged in.
    pub async fn phone_join(&self, user: &str) -> anyhow::Result<String> {
        channels::phone_join(&self.shared, user).await
    }

    /// The agent's phone leaves the session conference (its channel rows are removed).
    pub async fn phone_leave(&self, user: &str) -> anyhow::Result<()> {
        channels::phone_leave(&self.shared, user).await
    }

    /// The connection pool the simulator writes with.
    pub fn pool(&self) -> &MySqlPool {
        &self.shared.pool
    }
}

/// A text/html answer with HTTP 200, as VICIdial's PHP sends.
pub(crate) fn html(body: String) -> Response {
    let mut res = (StatusCode::OK, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, must-revalidate"),
    );
    res
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/agc/api.php", any(agent_api_route))
        .route("/vicidial/non_agent_api.php", any(non_agent_api_route))
        .route("/agc/vicidial.php", any(screen::vicidial_php))
        .route("/agc/conf_exten_check.php", any(screen::conf_exten_check))
        .route("/__sim/ledger", get(ledger_route))
        .route("/__sim/api_down/{down}", post(api_down_route))
        .route("/__sim/api_delay_ms/{ms}", post(api_delay_route))
        .route("/__sim/script/{phone}/{outcome}", post(script_route))
        .route("/__sim/login/{user}/{campaign}/{phone}", post(login_route))
        .route("/__sim/screen/{user}/start", post(start_screen_route))
        .route("/__sim/screen/{user}/gone", post(screen_gone_route))
        .route("/__sim/customer_hangup/{user}", post(customer_hangup_route))
        .route("/__sim/channel/{user}/{action}", post(channel_route))
        .with_state(shared)
}

async fn api_gate(shared: &Shared) -> Option<Response> {
    let delay = *lock(&shared.api_delay);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    shared
        .api_down
        .load(Ordering::SeqCst)
        .then(|| StatusCode::SERVICE_UNAVAILABLE.into_response())
}

async fn agent_api_route(
    State(shared): State<Arc<Shared>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    if let Some(down) = api_gate(&shared).await {
        return down;
    }
    let params = Params::parse(q.as_deref(), &body);
    match agent_api::handle(&shared, &params).await {
        Ok(out) => html(out),
        Err(e) => internal(e),
    }
}

async fn non_agent_api_route(
    State(shared): State<Arc<Shared>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    if let Some(down) = api_gate(&shared).await {
        return down;
    }
    let params = Params::parse(q.as_deref(), &body);
    match non_agent_api::handle(&shared, &params).await {
        Ok(out) => html(out),
        Err(e) => internal(e),
    }
}

pub(crate) fn internal(e: anyhow::Error) -> Response {
    eprintln!("vicidial-sim: {e:#}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("simulator error: {e:#}\n"),
    )
        .into_response()
}

async fn ledger_route(State(shared): State<Arc<Shared>>) -> Json<Vec<LedgerEntry>> {
    Json(lock(&shared.ledger).clone())
}

async fn api_down_route(State(shared): State<Arc<Shared>>, Path(down): Path<bool>) -> StatusCode {
    shared.api_down.store(down, Ordering::SeqCst);
    StatusCode::NO_CONTENT
}

async fn api_delay_route(State(shared): State<Arc<Shared>>, Path(ms): Path<u64>) -> StatusCode {
    *lock(&shared.api_delay) = Duration::from_millis(ms);
    StatusCode::NO_CONTENT
}

async fn script_route(
    State(shared): State<Arc<Shared>>,
    Path((phone, outcome)): Path<(String, String)>,
) -> StatusCode {
    let outcome = match outcome.as_str() {
        "answer" | "Answer" => Outcome::Answer,
        "busy" | "Busy" => Outcome::Busy,
        "no_answer" | "NoAnswer" => Outcome::NoAnswer,
        _ => return StatusCode::BAD_REQUEST,
    };
    lock(&shared.scripts).insert(phone, outcome);
    StatusCode::NO_CONTENT
}

async fn login_route(
    State(shared): State<Arc<Shared>>,
    Path((user, campaign, phone)): Path<(String, String, String)>,
) -> Response {
    match screen::open_session(&shared, &user, &campaign, &phone).await {
        Ok(Ok(session)) => {
            shared.start_virtual_screen(&user);
            session.conf_exten.into_response()
        }
        Ok(Err(refused)) => (StatusCode::CONFLICT, refused.message()).into_response(),
        Err(e) => internal(e),
    }
}

async fn start_screen_route(
    State(shared): State<Arc<Shared>>,
    Path(user): Path<String>,
) -> StatusCode {
    shared.start_virtual_screen(&user);
    StatusCode::NO_CONTENT
}

async fn screen_gone_route(
    State(shared): State<Arc<Shared>>,
    Path(user): Path<String>,
) -> StatusCode {
    shared.stop_virtual_screen(&user);
    StatusCode::NO_CONTENT
}

async fn customer_hangup_route(
    State(shared): State<Arc<Shared>>,
    Path(user): Path<String>,
) -> Response {
    match screen::customer_hangup(&shared, &user).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (StatusCode::CONFLICT, format!("{e:#}")).into_response(),
    }
}

async fn channel_route(
    State(shared): State<Arc<Shared>>,
    Path((user, action)): Path<(String, String)>,
) -> Response {
    let done = match action.as_str() {
        "join" => channels::phone_join(&shared, &user).await.map(|_| ()),
        "leave" => channels::phone_leave(&shared, &user).await,
        _ => return (StatusCode::BAD_REQUEST, "join or leave\n").into_response(),
    };
    match done {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (StatusCode::CONFLICT, format!("{e:#}")).into_response(),
    }
}
