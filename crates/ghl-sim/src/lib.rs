//! A GoHighLevel API v2 simulator for dialdeck's tests and local development.
//!
//! Every request is checked against GHL's official OpenAPI files ([`spec`]): unknown routes are
//! 404, a missing or malformed `Authorization: Bearer` is 401, anything else the spec does not
//! allow (missing `Version` header or a value outside its enum, missing required query
//! parameters, a body that does not match the operation's schema) is answered with GHL's 422
//! shape `{"statusCode":422,"message":[...],"error":"Unprocessable Entity"}`.
//!
//! Valid requests change a stateful [`state::Store`] (contacts, tags, DND, workflow and campaign
//! membership, opportunities, tasks, notes) that tests read back to assert the end state. Every
//! request lands in a [ledger](GhlSim::ledger). Rate limiting per location follows GHL's burst and
//! daily limits (with a configurable window so tests run in seconds) and sends the
//! `X-RateLimit-*` headers. Faults can be [scripted](GhlSim::script): 429, 5xx, hangs past the
//! client's timeout (with or without applying the change), 401 for an expired token and GHL's
//! "422 but created anyway".
//!
//! In-process use: [`GhlSim::start`]. As a binary: `dialdeck-ghl-sim`, controlled over `/_sim/*`.

pub mod spec;
pub mod state;

use std::{
    collections::{HashMap, HashSet, VecDeque},
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::{
    spec::{RequestView, Spec},
    state::{Contact, Note, Opportunity, Store, Task},
};

/// How the simulator behaves.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Where the OpenAPI files are (see [`spec::default_spec_dir`]).
    pub spec_dir: PathBuf,
    /// Requests allowed per window per location (GHL: 100).
    pub burst_max: u32,
    /// The burst window (GHL: 10 s). Tests shorten it.
    pub window: Duration,
    /// Requests allowed per day per location (GHL: 200,000).
    pub daily_max: u32,
    /// Only tokens issued by the simulated OAuth endpoint or registered with
    /// [`GhlSim::add_token`] are accepted; otherwise any non-empty bearer token is.
    pub require_known_tokens: bool,
    /// Pipelines `(pipelineId, [stageId])` returned by `GET /opportunities/pipelines`.
    pub pipelines: Vec<(String, Vec<String>)>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            spec_dir: spec::default_spec_dir(),
            burst_max: 100,
            window: Duration::from_secs(10),
            daily_max: 200_000,
            require_known_tokens: false,
            pipelines: vec![("pipeSales".into(), vec!["stageWon".into()])],
        }
    }
}

/// A scripted failure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// 429 with rate-limit headers and `Retry-After` (seconds, rounded up) when given.
    TooManyRequests {
        /// Hint sent in `Retry-After` / the interval header.
        retry_after_ms: Option<u64>,
    },
    /// An upstream error status (500, 502, 503, 504).
    ServerError {
        /// The status to answer.
        status: u16,
    },
    /// Sleep for `ms` before answering; when `apply` the change is made first (the client sees
    /// a timeout although the object exists), otherwise nothing changes and 504 follows.
    Hang {
        /// How long to hang.
        ms: u64,
        /// Whether the change is applied before hanging.
        apply: bool,
    },
    /// 401 as for an expired access token.
    ExpiredToken,
    /// GHL's known quirk: the change is applied, then 422 is answered.
    UnprocessableButCreated,
}

/// When a fault fires: the first `times` requests matching `method` and `template`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Upper-case method, any when `None`.
    pub method: Option<String>,
    /// The spec's path template (e.g. `/contacts/{contactId}/notes`), any when `None`.
    pub template: Option<String>,
    /// How many matching requests it applies to.
    pub times: u32,
    /// What happens.
    pub fault: Fault,
}

impl FaultRule {
    /// A rule for one request to `method template`.
    pub fn once(method: &str, template: &str, fault: Fault) -> FaultRule {
        FaultRule {
            method: Some(method.to_string()),
            template: Some(template.to_string()),
            times: 1,
            fault,
        }
    }
}

/// One request as the simulator saw it.
#[derive(Clone, Debug, Serialize)]
pub struct LedgerEntry {
    /// Order of arrival.
    pub seq: u64,
    /// Arrival time since the simulator started.
    pub at: Duration,
    /// Method.
    pub method: String,
    /// Path as requested.
    pub path: String,
    /// The matched spec template, if any.
    pub template: Option<String>,
    /// Decoded query.
    pub query: Vec<(String, String)>,
    /// JSON body, if any.
    pub body: Option<Value>,
    /// The location it counted against.
    pub location: String,
    /// Status answered.
    pub status: u16,
    /// Validation errors (empty when valid).
    pub errors: Vec<String>,
}

struct Shared {
    config: SimConfig,
    spec: Spec,
    started: Instant,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    store: Store,
    ledger: Vec<LedgerEntry>,
    faults: VecDeque<FaultRule>,
    limits: HashMap<String, Bucket>,
    tokens: HashMap<String, bool>,
    oauth_clients: HashMap<String, String>,
    refresh_tokens: HashSet<String>,
    refreshes: u32,
    burst_max: u32,
    window: Duration,
}

#[derive(Default)]
struct Bucket {
    recent: VecDeque<Instant>,
    today: u32,
}

/// The simulator: cheap to clone, shared between the HTTP server and the test.
#[derive(Clone)]
pub struct GhlSim {
    shared: Arc<Shared>,
}

/// A simulator serving on a random loopback port.
pub struct RunningSim {
    /// The base URL to give the client, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// The simulator, for scripting and assertions.
    pub sim: GhlSim,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GhlSim {
    /// Loads the specs and builds an empty simulator.
    pub fn new(config: SimConfig) -> Result<GhlSim, String> {
        let spec = Spec::load(&config.spec_dir)?;
        let inner = Inner {
            burst_max: config.burst_max,
            window: config.window,
            ..Inner::default()
        };
        Ok(GhlSim {
            shared: Arc::new(Shared {
                config,
                spec,
                started: Instant::now(),
                inner: Mutex::new(inner),
            }),
        })
    }

    /// Builds a simulator and serves it on `127.0.0.1` at a random port.
    pub async fn start(config: SimConfig) -> Result<RunningSim, String> {
        let sim = GhlSim::new(config)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
        let app = sim.router();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RunningSim {
            url: format!("http://{addr}"),
            sim,
            task,
        })
    }

    /// The HTTP application: `/_sim/*` control routes and the simulated API.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/_sim/ledger", get(ctl_ledger))
            .route("/_sim/state", get(ctl_state))
            .route("/_sim/faults", post(ctl_fault))
            .route("/_sim/reset", post(ctl_reset))
            .route("/oauth/token", post(oauth_token))
            .fallback(api)
            .with_state(self.clone())
    }

    /// The loaded OpenAPI files.
    pub fn spec(&self) -> &Spec {
        &self.shared.spec
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every request so far, in arrival order.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.lock().ledger.clone()
    }

    /// Forgets the ledger (state stays).
    pub fn clear_ledger(&self) {
        self.lock().ledger.clear();
    }

    /// Adds a scripted fault; rules fire in the order added.
    pub fn script(&self, rule: FaultRule) {
        self.lock().faults.push_back(rule);
    }

    /// Changes the burst limit at run time.
    pub fn set_burst(&self, max: u32, window: Duration) {
        let mut g = self.lock();
        g.burst_max = max;
        g.window = window;
    }

    /// Adds a contact directly (test setup); returns its id.
    pub fn seed_contact(&self, mut contact: Contact) -> String {
        let mut g = self.lock();
        if contact.id.is_empty() {
            contact.id = g.store.new_id("ct");
        }
        let id = contact.id.clone();
        g.store.contacts.insert(id.clone(), contact);
        id
    }

    /// Deletes a contact with its notes and tasks, as someone might in GHL's UI.
    pub fn delete_contact(&self, id: &str) {
        let mut g = self.lock();
        g.store.contacts.remove(id);
        g.store.notes.retain(|_, n| n.contact_id != id);
        g.store.tasks.retain(|_, t| t.contact_id != id);
    }

    /// A contact by id.
    pub fn contact(&self, id: &str) -> Option<Contact> {
        self.lock().store.contacts.get(id).cloned()
    }

    /// All contacts.
    pub fn contacts(&self) -> Vec<Contact> {
        self.lock().store.contacts.values().cloned().collect()
    }

    /// Enrols a contact in a workflow (test setup).
    pub fn enrol_in_workflow(&self, contact_id: &str, workflow_id: &str) {
        if let Some(c) = self.lock().store.contacts.get_mut(contact_id) {
            c.workflows.insert(workflow_id.to_string());
        }
    }

    /// Enrols a contact in a campaign (test setup).
    pub fn enrol_in_campaign(&self, contact_id: &str, campaign_id: &str) {
        if let Some(c) = self.lock().store.contacts.get_mut(contact_id) {
            c.campaigns.insert(campaign_id.to_string());
        }
    }

    /// Adds an opportunity directly (test setup), created now unless it says when; returns
    /// its id.
    pub fn seed_opportunity(&self, mut opp: Opportunity) -> String {
        let mut g = self.lock();
        if opp.id.is_empty() {
            opp.id = g.store.new_id("op");
        }
        if opp.created_at.is_empty() {
            (opp.created_ms, opp.created_at) = g.store.created_now();
        }
        let id = opp.id.clone();
        g.store.opportunities.insert(id.clone(), opp);
        id
    }

    /// All opportunities.
    pub fn opportunities(&self) -> Vec<Opportunity> {
        self.lock().store.opportunities.values().cloned().collect()
    }

    /// All tasks.
    pub fn tasks(&self) -> Vec<Task> {
        self.lock().store.tasks.values().cloned().collect()
    }

    /// All notes.
    pub fn notes(&self) -> Vec<Note> {
        self.lock().store.notes.values().cloned().collect()
    }

    /// Accepts `token` (when [`SimConfig::require_known_tokens`]).
    pub fn add_token(&self, token: &str) {
        self.lock().tokens.insert(token.to_string(), true);
    }

    /// Registers an OAuth app with one valid (single-use) refresh token.
    pub fn add_oauth_client(&self, client_id: &str, client_secret: &str, refresh_token: &str) {
        let mut g = self.lock();
        g.oauth_clients
            .insert(client_id.to_string(), client_secret.to_string());
        g.refresh_tokens.insert(refresh_token.to_string());
    }

    /// Expires every access token issued so far (the next use answers 401).
    pub fn expire_tokens(&self) {
        for v in self.lock().tokens.values_mut() {
            *v = false;
        }
    }

    /// How many refresh-token grants succeeded.
    pub fn refresh_count(&self) -> u32 {
        self.lock().refreshes
    }

    fn elapsed(&self) -> Duration {
        self.shared.started.elapsed()
    }
}

fn ghl_error(status: StatusCode, message: Value) -> Response {
    let error = status.canonical_reason().unwrap_or("Error");
    (
        status,
        Json(json!({"statusCode": status.as_u16(), "message": message, "error": error})),
    )
        .into_response()
}

fn parse_query(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn query_get<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The simulated API: route, authenticate, rate-limit, validate, fault, handle, record.
async fn api(
    State(sim): State<GhlSim>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = parse_query(&uri);
    let hdrs: HashMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let json_body: Option<Result<Value, String>> = if body.is_empty() {
        None
    } else {
        Some(serde_json::from_slice(&body).map_err(|e| e.to_string()))
    };
    let body_value = json_body.as_ref().and_then(|b| b.as_ref().ok()).cloned();
    let spec = &sim.shared.spec;
    let route = spec.route(method.as_str(), &path);
    let template = route.as_ref().map(|r| r.op.template.clone());
    let params = route.as_ref().map(|r| r.params.clone()).unwrap_or_default();
    let location = {
        let g = sim.lock();
        query_get(&query, "locationId")
            .or_else(|| query_get(&query, "location_id"))
            .map(str::to_string)
            .or_else(|| {
                body_value
                    .as_ref()
                    .and_then(|b| b.get("locationId"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .or_else(|| {
                params
                    .get("contactId")
                    .and_then(|id| g.store.contacts.get(id))
                    .map(|c| c.location_id.clone())
            })
            .unwrap_or_else(|| "_".to_string())
    };
    let mut entry = LedgerEntry {
        seq: 0,
        at: sim.elapsed(),
        method: method.to_string(),
        path: path.clone(),
        template: template.clone(),
        query: query.clone(),
        body: body_value.clone(),
        location: location.clone(),
        status: 0,
        errors: Vec::new(),
    };

    let (response, rl_headers) = 'answer: {
        let Some(route) = route else {
            let status = if spec.path_exists(&path) {
                StatusCode::METHOD_NOT_ALLOWED
            } else {
                StatusCode::NOT_FOUND
            };
            break 'answer (
                ghl_error(status, json!(format!("Cannot {method} {path}"))),
                None,
            );
        };
        // Authorization (the spec's `bearer` security scheme).
        let token = hdrs
            .get("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            break 'answer (
                ghl_error(StatusCode::UNAUTHORIZED, json!("Invalid JWT")),
                None,
            );
        };
        {
            let g = sim.lock();
            let known = g.tokens.get(token).copied();
            let ok = match known {
                Some(valid) => valid,
                None => !sim.shared.config.require_known_tokens,
            };
            if !ok {
                break 'answer (
                    ghl_error(StatusCode::UNAUTHORIZED, json!("Invalid JWT")),
                    None,
                );
            }
        }
        // Rate limit.
        let rl = match sim.take_rate(&location) {
            Ok(h) => h,
            Err(h) => {
                break 'answer (
                    ghl_error(StatusCode::TOO_MANY_REQUESTS, json!("Too many requests")),
                    Some(h),
                )
            }
        };
        // Validation against the spec.
        let mut errors = Vec::new();
        if let Some(Err(e)) = &json_body {
            break 'answer (
                ghl_error(StatusCode::BAD_REQUEST, json!(format!("invalid JSON: {e}"))),
                Some(rl),
            );
        }
        errors.extend(spec.validate(
            &route,
            &RequestView {
                method: method.as_str(),
                headers: &hdrs,
                query: &query,
                body: body_value.as_ref(),
                content_type: hdrs.get("content-type").map(String::as_str),
            },
        ));
        if !errors.is_empty() {
            entry.errors = errors.clone();
            break 'answer (
                ghl_error(StatusCode::UNPROCESSABLE_ENTITY, json!(errors)),
                Some(rl),
            );
        }
        // Scripted faults.
        let fault = sim.take_fault(method.as_str(), &route.op.template);
        let handle = |sim: &GhlSim| {
            sim.handle(
                method.as_str(),
                &route.op.template,
                &route.params,
                &query,
                body_value.as_ref(),
            )
        };
        let resp = match fault {
            None => handle(&sim),
            Some(Fault::TooManyRequests { retry_after_ms }) => {
                let mut h = rl.clone();
                h.push(("x-ratelimit-remaining", "0".into()));
                if let Some(ms) = retry_after_ms {
                    h.push(("retry-after", ms.div_ceil(1000).to_string()));
                }
                break 'answer (
                    ghl_error(StatusCode::TOO_MANY_REQUESTS, json!("Too many requests")),
                    Some(h),
                );
            }
            Some(Fault::ServerError { status }) => ghl_error(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                json!("Internal server error"),
            ),
            Some(Fault::Hang { ms, apply }) => {
                let resp = if apply {
                    handle(&sim)
                } else {
                    ghl_error(StatusCode::GATEWAY_TIMEOUT, json!("Gateway timeout"))
                };
                tokio::time::sleep(Duration::from_millis(ms)).await;
                resp
            }
            Some(Fault::ExpiredToken) => ghl_error(StatusCode::UNAUTHORIZED, json!("Invalid JWT")),
            Some(Fault::UnprocessableButCreated) => {
                let _ = handle(&sim);
                ghl_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!(["Unprocessable Entity"]),
                )
            }
        };
        (resp, Some(rl))
    };

    let mut response = response;
    if let Some(h) = rl_headers {
        for (k, v) in h {
            if let Ok(v) = HeaderValue::from_str(&v) {
                response.headers_mut().insert(k, v);
            }
        }
    }
    entry.status = response.status().as_u16();
    {
        let mut g = sim.lock();
        entry.seq = g.ledger.len() as u64 + 1;
        g.ledger.push(entry);
    }
    response
}

type RateHeaders = Vec<(&'static str, String)>;

impl GhlSim {
    /// Counts a request against `location`; `Err` means 429. Sliding window: at most
    /// `burst_max` accepted requests in any `window`.
    fn take_rate(&self, location: &str) -> Result<RateHeaders, RateHeaders> {
        let now = Instant::now();
        let daily_max = self.shared.config.daily_max;
        let mut g = self.lock();
        let (max, window) = (g.burst_max, g.window);
        let bucket = g.limits.entry(location.to_string()).or_default();
        while bucket
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            bucket.recent.pop_front();
        }
        let full = bucket.recent.len() as u32 >= max || bucket.today >= daily_max;
        if !full {
            bucket.recent.push_back(now);
            bucket.today += 1;
        }
        let remaining = max.saturating_sub(bucket.recent.len() as u32);
        let mut h: RateHeaders = vec![
            ("x-ratelimit-max", max.to_string()),
            ("x-ratelimit-remaining", remaining.to_string()),
            (
                "x-ratelimit-interval-milliseconds",
                window.as_millis().to_string(),
            ),
            ("x-ratelimit-limit-daily", daily_max.to_string()),
            (
                "x-ratelimit-daily-remaining",
                daily_max.saturating_sub(bucket.today).to_string(),
            ),
        ];
        if full {
            let wait = bucket
                .recent
                .front()
                .map(|t| window.saturating_sub(now.duration_since(*t)))
                .unwrap_or(window);
            h.push((
                "retry-after",
                wait.as_secs_f64().ceil().max(1.0).to_string(),
            ));
            Err(h)
        } else {
            Ok(h)
        }
    }

    fn take_fault(&self, method: &str, template: &str) -> Option<Fault> {
        let mut g = self.lock();
        let idx = g.faults.iter().position(|r| {
            r.times > 0
                && r.method.as_deref().is_none_or(|m| m == method)
                && r.template.as_deref().is_none_or(|t| t == template)
        })?;
        let rule = &mut g.faults[idx];
        rule.times -= 1;
        let fault = rule.fault.clone();
        if rule.times == 0 {
            g.faults.remove(idx);
        }
        Some(fault)
    }

    /// The state change and answer of a valid request.
    fn handle(
        &self,
        method: &str,
        template: &str,
        params: &HashMap<String, String>,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Response {
        let mut g = self.lock();
        let store = &mut g.store;
        let empty = Map::new();
        let b = body.and_then(Value::as_object).unwrap_or(&empty);
        let s = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
        let contact_id = params.get("contactId").cloned().unwrap_or_default();
        let not_found = || ghl_error(StatusCode::BAD_REQUEST, json!("Contact not found"));
        match (method, template) {
            ("GET", "/contacts/search/duplicate") => {
                let loc = query_get(query, "locationId").unwrap_or_default();
                let found = store.find_duplicate(
                    loc,
                    query_get(query, "number"),
                    query_get(query, "email"),
                );
                Json(json!({"contact": found.map(Contact::to_json)})).into_response()
            }
            ("POST", "/contacts/") => {
                let loc = s("locationId").unwrap_or_default();
                if let Some(dup) =
                    store.find_duplicate(&loc, s("phone").as_deref(), s("email").as_deref())
                {
                    return (
                        StatusCode::BAD_REQUEST,
                        Json(json!({
                            "statusCode": 400,
                            "message": "This location does not allow duplicated contacts.",
                            "meta": {"contactName": dup.first_name, "contactId": dup.id,
                                     "matchingField": if dup.email.is_some() && dup.email == s("email") {"email"} else {"phone"}}
                        })),
                    )
                        .into_response();
                }
                let id = store.new_id("ct");
                let mut c = Contact {
                    id: id.clone(),
                    location_id: loc,
                    ..Contact::default()
                };
                apply_contact_fields(&mut c, b);
                let json = c.to_json();
                store.contacts.insert(id, c);
                (StatusCode::CREATED, Json(json!({"contact": json}))).into_response()
            }
            ("GET", "/contacts/{contactId}") => match store.contacts.get(&contact_id) {
                Some(c) => Json(json!({"contact": c.to_json()})).into_response(),
                None => not_found(),
            },
            ("PUT", "/contacts/{contactId}") => match store.contacts.get_mut(&contact_id) {
                Some(c) => {
                    apply_contact_fields(c, b);
                    Json(json!({"succeded": true, "contact": c.to_json()})).into_response()
                }
                None => not_found(),
            },
            ("POST", "/contacts/{contactId}/tags") | ("DELETE", "/contacts/{contactId}/tags") => {
                let Some(c) = store.contacts.get_mut(&contact_id) else {
                    return not_found();
                };
                let tags = b
                    .get("tags")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for t in tags.iter().filter_map(Value::as_str) {
                    let t = t.trim().to_lowercase();
                    if method == "POST" {
                        c.tags.insert(t);
                    } else {
                        c.tags.remove(&t);
                    }
                }
                let status = if method == "POST" {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                (
                    status,
                    Json(json!({"tags": c.tags.iter().collect::<Vec<_>>()})),
                )
                    .into_response()
            }
            ("GET", "/contacts/{contactId}/notes") => {
                if !store.contacts.contains_key(&contact_id) {
                    return not_found();
                }
                let notes: Vec<Value> = store
                    .notes
                    .values()
                    .filter(|n| n.contact_id == contact_id)
                    .map(|n| serde_json::to_value(n).unwrap_or_default())
                    .collect();
                Json(json!({"notes": notes})).into_response()
            }
            ("POST", "/contacts/{contactId}/notes") => {
                if !store.contacts.contains_key(&contact_id) {
                    return not_found();
                }
                let note = Note {
                    id: store.new_id("nt"),
                    contact_id,
                    body: s("body").unwrap_or_default(),
                    user_id: s("userId"),
                };
                store.notes.insert(note.id.clone(), note.clone());
                (StatusCode::CREATED, Json(json!({"note": note}))).into_response()
            }
            ("GET", "/contacts/{contactId}/tasks") => {
                if !store.contacts.contains_key(&contact_id) {
                    return not_found();
                }
                let tasks: Vec<Value> = store
                    .tasks
                    .values()
                    .filter(|t| t.contact_id == contact_id)
                    .map(|t| serde_json::to_value(t).unwrap_or_default())
                    .collect();
                Json(json!({"tasks": tasks})).into_response()
            }
            ("POST", "/contacts/{contactId}/tasks") => {
                if !store.contacts.contains_key(&contact_id) {
                    return not_found();
                }
                let task = Task {
                    id: store.new_id("tk"),
                    contact_id,
                    title: s("title").unwrap_or_default(),
                    body: s("body"),
                    due_date: s("dueDate").unwrap_or_default(),
                    completed: b.get("completed").and_then(Value::as_bool).unwrap_or(false),
                    assigned_to: s("assignedTo"),
                };
                store.tasks.insert(task.id.clone(), task.clone());
                (StatusCode::CREATED, Json(json!({"task": task}))).into_response()
            }
            (m, "/contacts/{contactId}/workflow/{workflowId}") => {
                let Some(c) = store.contacts.get_mut(&contact_id) else {
                    return not_found();
                };
                let wf = params.get("workflowId").cloned().unwrap_or_default();
                if m == "POST" {
                    c.workflows.insert(wf);
                } else {
                    c.workflows.remove(&wf);
                }
                Json(json!({"succeded": true})).into_response()
            }
            ("DELETE", "/contacts/{contactId}/campaigns/removeAll") => {
                let Some(c) = store.contacts.get_mut(&contact_id) else {
                    return not_found();
                };
                c.campaigns.clear();
                Json(json!({"succeded": true})).into_response()
            }
            (m, "/contacts/{contactId}/campaigns/{campaignId}") => {
                let Some(c) = store.contacts.get_mut(&contact_id) else {
                    return not_found();
                };
                let id = params.get("campaignId").cloned().unwrap_or_default();
                if m == "POST" {
                    c.campaigns.insert(id);
                } else {
                    c.campaigns.remove(&id);
                }
                Json(json!({"succeded": true})).into_response()
            }
            ("POST", "/opportunities/") => {
                let contact = s("contactId").unwrap_or_default();
                if !store.contacts.contains_key(&contact) {
                    return not_found();
                }
                let (created_ms, created_at) = store.created_now();
                let opp = Opportunity {
                    created_ms,
                    created_at,
                    id: store.new_id("op"),
                    location_id: s("locationId").unwrap_or_default(),
                    name: s("name").unwrap_or_default(),
                    pipeline_id: s("pipelineId").unwrap_or_default(),
                    pipeline_stage_id: s("pipelineStageId"),
                    status: s("status").unwrap_or_default(),
                    contact_id: contact,
                    monetary_value: b.get("monetaryValue").and_then(Value::as_f64),
                    assigned_to: s("assignedTo"),
                };
                store.opportunities.insert(opp.id.clone(), opp.clone());
                (StatusCode::CREATED, Json(json!({"opportunity": opp}))).into_response()
            }
            ("GET", "/opportunities/search") => {
                let f = |k: &str| query_get(query, k);
                let mut found: Vec<&Opportunity> = store
                    .opportunities
                    .values()
                    .filter(|o| Some(o.location_id.as_str()) == f("location_id"))
                    .filter(|o| f("contact_id").is_none_or(|v| v == o.contact_id))
                    .filter(|o| f("pipeline_id").is_none_or(|v| v == o.pipeline_id))
                    .filter(|o| f("status").is_none_or(|v| v == "all" || v == o.status))
                    .collect();
                found.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
                Json(search_page(&found, query)).into_response()
            }
            ("GET", "/opportunities/pipelines") => {
                let pipelines: Vec<Value> = self
                    .shared
                    .config
                    .pipelines
                    .iter()
                    // What GHL answers: stage objects (its OpenAPI file says lists of lists).
                    .map(|(id, stages)| {
                        json!({"id": id, "name": id, "locationId": query_get(query, "locationId"),
                               "showInFunnel": true, "showInPieChart": true,
                               "stages": stages.iter().enumerate().map(|(n, s)| json!({
                                   "id": s, "name": s, "position": n,
                                   "showInFunnel": true, "showInPieChart": true})).collect::<Vec<_>>()})
                    })
                    .collect();
                Json(json!({"pipelines": pipelines})).into_response()
            }
            _ => ghl_error(
                StatusCode::NOT_IMPLEMENTED,
                json!(format!("{method} {template} is valid but not simulated")),
            ),
        }
    }
}

/// One page of an opportunity search, as GHL pages it: `limit` results (default 20, at most
/// 100), from the start, from `page` (1-based), or after the cursor `startAfter` (the last
/// result's `createdAt` in Unix ms) + `startAfterId`; `meta` names the cursor and the next
/// page (`nextPage`/`nextPageUrl` are `null` on the last one).
fn search_page(sorted: &[&Opportunity], query: &[(String, String)]) -> Value {
    let f = |k: &str| query_get(query, k);
    let number = |k: &str| f(k).and_then(|v| v.parse::<f64>().ok());
    let limit = number("limit").map_or(20, |l| (l as usize).clamp(1, 100));
    let page = number("page").map_or(1, |p| (p as usize).max(1));
    let start = match (number("startAfter"), f("startAfterId")) {
        (Some(after), Some(after_id)) => sorted
            .iter()
            .position(|o| (o.created_ms, o.id.as_str()) > (after as i64, after_id))
            .unwrap_or(sorted.len()),
        _ => (page - 1).saturating_mul(limit).min(sorted.len()),
    };
    let items = &sorted[start..(start + limit).min(sorted.len())];
    let more = start + items.len() < sorted.len();
    let last = items.last();
    let mut next_url = Value::Null;
    if let (true, Some(l)) = (more, last) {
        let mut url = form_urlencoded::Serializer::new(String::new());
        for (k, v) in query {
            if !matches!(k.as_str(), "startAfter" | "startAfterId" | "page") {
                url.append_pair(k, v);
            }
        }
        url.append_pair("startAfter", &l.created_ms.to_string());
        url.append_pair("startAfterId", &l.id);
        url.append_pair("page", &(page + 1).to_string());
        next_url = json!(format!("/opportunities/search?{}", url.finish()));
    }
    json!({
        "opportunities": items,
        "meta": {
            "total": sorted.len(),
            "currentPage": page,
            "nextPage": if more { json!(page + 1) } else { Value::Null },
            "prevPage": if page > 1 { json!(page - 1) } else { Value::Null },
            "startAfter": last.map(|o| json!(o.created_ms)).unwrap_or(Value::Null),
            "startAfterId": last.map(|o| json!(o.id)).unwrap_or(Value::Null),
            "nextPageUrl": next_url,
        },
        "aggregations": {},
    })
}

fn apply_contact_fields(c: &mut Contact, b: &Map<String, Value>) {
    for (k, v) in b {
        let text = v.as_str().map(str::to_string);
        match k.as_str() {
            "locationId" => {}
            "firstName" => c.first_name = text,
            "lastName" => c.last_name = text,
            "email" => c.email = text,
            "phone" => c.phone = text,
            "dnd" => c.dnd = v.as_bool().unwrap_or(false),
            "dndSettings" => {
                if let Some(m) = v.as_object() {
                    for (ch, setting) in m {
                        c.dnd_settings.insert(ch.clone(), setting.clone());
                    }
                }
            }
            // `tags` on create/update replaces every tag: the reason dialdeck never sends it.
            "tags" => {
                c.tags = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|t| t.trim().to_lowercase())
                    .collect()
            }
            _ => {
                c.other.insert(k.clone(), v.clone());
            }
        }
    }
}

/// `POST /oauth/token` (form-encoded, `grant_type=refresh_token`): single-use refresh tokens,
/// as GHL's OAuth server has them. Not in the app specs, so validated here by hand.
async fn oauth_token(State(sim): State<GhlSim>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let ct_ok = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let mut g = sim.lock();
    let seq = g.ledger.len() as u64 + 1;
    let mut entry = LedgerEntry {
        seq,
        at: sim.elapsed(),
        method: "POST".into(),
        path: "/oauth/token".into(),
        template: None,
        query: Vec::new(),
        body: None,
        location: "_".into(),
        status: 200,
        errors: Vec::new(),
    };
    let f = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let client_ok = g
        .oauth_clients
        .get(f("client_id"))
        .is_some_and(|secret| secret == f("client_secret"));
    let grant_ok =
        f("grant_type") == "refresh_token" && g.refresh_tokens.remove(f("refresh_token"));
    let resp = if !ct_ok || !client_ok || !grant_ok {
        entry.status = 400;
        entry.errors.push("invalid_grant".into());
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": "Invalid grant: refresh token is invalid"})),
        )
            .into_response()
    } else {
        g.refreshes += 1;
        let n = g.refreshes;
        let access = format!("sim-access-{n}");
        let refresh = format!("sim-refresh-{n}");
        g.tokens.insert(access.clone(), true);
        g.refresh_tokens.insert(refresh.clone());
        Json(json!({
            "access_token": access, "token_type": "Bearer", "expires_in": 86399,
            "refresh_token": refresh, "scope": "contacts.write", "userType": "Location",
        }))
        .into_response()
    };
    g.ledger.push(entry);
    resp
}

async fn ctl_ledger(State(sim): State<GhlSim>) -> Json<Vec<LedgerEntry>> {
    Json(sim.ledger())
}

async fn ctl_state(State(sim): State<GhlSim>) -> Json<Value> {
    Json(json!({
        "contacts": sim.contacts(),
        "opportunities": sim.opportunities(),
        "tasks": sim.tasks(),
        "notes": sim.notes(),
    }))
}

async fn ctl_fault(State(sim): State<GhlSim>, Json(rule): Json<FaultRule>) -> StatusCode {
    sim.script(rule);
    StatusCode::NO_CONTENT
}

async fn ctl_reset(State(sim): State<GhlSim>) -> StatusCode {
    let mut g = sim.lock();
    g.store = Store::default();
    g.ledger.clear();
    g.faults.clear();
    g.limits.clear();
    StatusCode::NO_CONTENT
}
