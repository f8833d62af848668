//! The disposition pipeline: a disposition is validated, accepted once and durably (the
//! disposition plus one job per target in one transaction), and applied to every target
//! (VICIdial, GHL) exactly once by workers that claim jobs under leases, retry with backoff and
//! park what cannot succeed.
//!
//! Exactly once = at-least-once delivery from the outbox (a job is retried until a target says
//! done) × idempotent targets (`DispositionTarget::apply` is keyed by the disposition id).
//!
//! The browser names a disposition by an idempotency key that is the agent's own: the store
//! keeps it per agent (`dispositions(agent_user, client_id)` is unique) and dialdeck's id of the
//! disposition derives from both ([`store::disposition_id`]), so no agent can take or replay
//! another's. A call takes one disposition: `dispositions(agent_user, lead_id, call_key)` is
//! unique too, and the call is the server's to know (wrap-up, live state, VICIdial's call log).

pub mod config;
pub mod routes;
pub mod store;
pub mod worker;

use std::{collections::BTreeMap, sync::Arc};

use crate::store::Store;
use chrono::{DateTime, Utc};
use dialdeck_shared::{DispositionAccepted, DispositionRequest};
use sha2::{Digest, Sha256};
use tokio::sync::{broadcast, Notify};

pub use self::config::OutboxArgs;
use crate::{
    disposition::{
        CallContext, CallFacts, CallRef, Callback, CallbackRecipient, CallbackRules, Disposition,
        DispositionTarget, LoggedCall,
    },
    http::ApiError,
};

/// A change of one job's state, for live updates to the agent (SSE) and tests.
#[derive(Clone, Debug)]
pub struct JobEvent {
    /// The disposition's owner.
    pub agent_user: String,
    /// The disposition's current state across targets.
    pub accepted: DispositionAccepted,
}

/// The outbox: where dispositions are accepted and from where workers apply them.
pub struct Outbox {
    store: Store,
    /// The workers' own connections to the same database, so a burst of API requests queued
    /// on the main pool never starves delivery (and the reverse).
    worker_store: Store,
    targets: BTreeMap<&'static str, Arc<dyn DispositionTarget>>,
    context: Option<Arc<dyn CallContext>>,
    args: OutboxArgs,
    events: broadcast::Sender<JobEvent>,
    wake: Notify,
    /// Acceptances go to one writer task that commits them in batches (group commit): one
    /// transaction for everything that arrived meanwhile, instead of one each.
    writer: tokio::sync::mpsc::Sender<WriteRequest>,
    writer_rx: std::sync::Mutex<Option<tokio::sync::mpsc::Receiver<WriteRequest>>>,
    /// SQLite has one writer at a time, and a connection that finds the write lock taken
    /// sleeps in growing steps before it tries again: the acceptance writer and the workers
    /// take turns here instead (first come, first served), so an acceptance waits for the few
    /// statements ahead of it, never for a sleep. `None` on MariaDB, which locks rows.
    write_gate: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// One acceptance waiting for the writer.
struct WriteRequest {
    id: String,
    client_id: String,
    agent_user: String,
    lead_id: i64,
    call_key: Option<String>,
    request_hash: String,
    payload: String,
    now_ms: i64,
    reply: tokio::sync::oneshot::Sender<Result<store::Accepted, String>>,
}

/// Waits for a turn at the write gate, when there is one.
async fn take_turn(
    gate: &Option<Arc<tokio::sync::Mutex<()>>>,
) -> Option<tokio::sync::MutexGuard<'_, ()>> {
    match gate {
        Some(g) => Some(g.lock().await),
        None => None,
    }
}

/// Most acceptances committed in one transaction.
const GROUP_COMMIT_MAX: usize = 128;

async fn writer_loop(
    store: Store,
    targets: Vec<&'static str>,
    gate: Option<Arc<tokio::sync::Mutex<()>>>,
    mut rx: tokio::sync::mpsc::Receiver<WriteRequest>,
) {
    let dialect = crate::store::dialect(&store);
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < GROUP_COMMIT_MAX {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let _turn = take_turn(&gate).await;
        let result = async {
            let mut tx = store.begin().await?;
            let mut outcomes = Vec::with_capacity(batch.len());
            for r in &batch {
                let new = store::NewDisposition {
                    id: &r.id,
                    client_id: &r.client_id,
                    agent_user: &r.agent_user,
                    lead_id: r.lead_id,
                    call_key: r.call_key.as_deref(),
                    request_hash: &r.request_hash,
                    payload: &r.payload,
                    now_ms: r.now_ms,
                };
                let outcome = store::insert(dialect, &mut tx, &new, &targets).await?;
                if outcome == store::Accepted::New {
                    crate::wrapup::disposition_accepted(&mut *tx, &r.agent_user, r.lead_id).await?;
                }
                outcomes.push(outcome);
            }
            tx.commit().await?;
            Ok::<_, anyhow::Error>(outcomes)
        }
        .await;
        match result {
            Ok(outcomes) => {
                for (r, o) in batch.into_iter().zip(outcomes) {
                    let _ = r.reply.send(Ok(o));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, n = batch.len(), "could not store dispositions");
                for r in batch {
                    let _ = r.reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

impl Outbox {
    /// An outbox over `store` applying to `targets`; `context` validates against VICIdial
    /// (without it dispositions are refused: there is nothing to check them against).
    pub fn new(
        store: Store,
        targets: Vec<Arc<dyn DispositionTarget>>,
        context: Option<Arc<dyn CallContext>>,
        args: OutboxArgs,
    ) -> Arc<Outbox> {
        let (events, _) = broadcast::channel(1024);
        let worker_store = crate::store::sibling(&store, args.workers.clamp(1, 16) as u32);
        let (writer, writer_rx) = tokio::sync::mpsc::channel(4096);
        let write_gate = (crate::store::dialect(&store) == crate::store::Dialect::Sqlite)
            .then(|| Arc::new(tokio::sync::Mutex::new(())));
        Arc::new(Outbox {
            writer,
            writer_rx: std::sync::Mutex::new(Some(writer_rx)),
            write_gate,
            worker_store,
            store,
            targets: targets.into_iter().map(|t| (t.name(), t)).collect(),
            context,
            args,
            events,
            wake: Notify::new(),
        })
    }

    /// The settings.
    pub fn args(&self) -> &OutboxArgs {
        &self.args
    }

    /// Live job-state changes.
    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.events.subscribe()
    }

    /// Validates and durably accepts `req` from `agent_user` (campaign `campaign_id`).
    /// The same request again returns the current state and changes nothing.
    ///
    /// Which call it is (VICIdial's call id, the lead, the campaign, the call's times) comes
    /// from the server's own wrap-up and live state and from VICIdial's call log; the request
    /// only names the lead the modal shows, which must be that call's.
    pub async fn accept(
        &self,
        agent_user: &str,
        campaign_id: Option<&str>,
        req: &DispositionRequest,
    ) -> Result<DispositionAccepted, ApiError> {
        let bad = |code: &'static str, message: String| ApiError::bad_request(code, message);
        if !(8..=64).contains(&req.id.len())
            || !req
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad(
                "invalid_id",
                "The disposition id must be 8 to 64 letters, digits, '-' or '_'.".into(),
            ));
        }
        let request_hash = hash_request(req);
        // A replay is answered before anything upstream is asked: the first answer stands.
        if let Some(stored) = store::find(&self.store, agent_user, &req.id).await? {
            return self.replay(&stored, &request_hash).await;
        }
        let context = self.context.as_ref().ok_or_else(|| ApiError::Unavailable {
            code: "vicidial_not_configured",
            message: "Dispositions need the VICIdial connection, which is not configured.".into(),
        })?;
        let campaign = campaign_id
            .map(str::to_string)
            .ok_or_else(|| bad("no_campaign", "You are not logged into a campaign.".into()))?;
        let notes_len = req.notes.chars().count();
        if notes_len > self.args.notes_max_chars {
            return Err(bad(
                "notes_too_long",
                format!(
                    "Notes are {notes_len} characters; at most {} are allowed.",
                    self.args.notes_max_chars
                ),
            ));
        }
        let statuses = context.selectable_statuses(&campaign).await?;
        let status = statuses
            .into_iter()
            .find(|s| s.status == req.status && s.selectable)
            .ok_or_else(|| {
                bad(
                    "unknown_status",
                    format!(
                        "{:?} is not a status you can choose in campaign {campaign}.",
                        req.status
                    ),
                )
            })?;
        let callback = match (&req.callback, status.flags.scheduled_callback) {
            (None, true) => {
                return Err(bad(
                    "callback_required",
                    format!("{} needs a callback date and time.", status.status_name),
                ))
            }
            (Some(_), false) => {
                return Err(bad(
                    "callback_not_allowed",
                    format!(
                        "{} ({}) does not schedule a callback; choose a callback status or remove the callback.",
                        status.status_name, status.status
                    ),
                ))
            }
            (Some(cb), true) => {
                let callback = parse_callback(cb, Utc::now())?;
                let rules = context
                    .callback_rules(agent_user, &campaign, callback.at)
                    .await?;
                check_callback_rules(&callback, &rules)?;
                Some(callback)
            }
            (None, false) => None,
        };
        let call = self
            .call_of(context.as_ref(), agent_user, &campaign, req.lead_id)
            .await?;
        let lead = context.lead(req.lead_id).await?.ok_or_else(|| {
            bad(
                "unknown_lead",
                format!("Lead {} does not exist in VICIdial.", req.lead_id),
            )
        })?;
        let logged = context.call_facts(&call).await?;
        let facts = call_facts(&call, logged.as_ref());
        let now = Utc::now();
        let id = store::disposition_id(agent_user, &req.id);
        let disposition = Disposition {
            id: id.clone(),
            client_id: req.id.clone(),
            agent_user: agent_user.to_string(),
            campaign_id: campaign,
            lead,
            status,
            callback,
            notes: req.notes.clone(),
            call: facts,
            accepted_at: now,
        };
        let payload = serde_json::to_string(&disposition).map_err(anyhow::Error::from)?;
        let targets: Vec<&str> = self.targets.keys().copied().collect();
        let outcome = self
            .write(WriteRequest {
                id: id.clone(),
                client_id: req.id.clone(),
                agent_user: agent_user.to_string(),
                lead_id: req.lead_id,
                call_key: call_key(&call),
                request_hash: request_hash.clone(),
                payload,
                now_ms: now.timestamp_millis(),
                reply: tokio::sync::oneshot::channel().0,
            })
            .await?;
        match outcome {
            store::Accepted::New => {
                self.wake.notify_waiters();
                // Just stored: every target is pending, no need to read it back.
                let accepted = DispositionAccepted {
                    id: req.id.clone(),
                    targets: targets
                        .iter()
                        .map(|t| dialdeck_shared::TargetStatus {
                            target: t.to_string(),
                            state: dialdeck_shared::TargetState::Pending,
                            attempts: 0,
                            last_error: None,
                            next_attempt_at: None,
                        })
                        .collect(),
                };
                self.publish(agent_user, accepted.clone());
                Ok(accepted)
            }
            store::Accepted::AlreadyDispositioned { client_id } => Err(ApiError::Conflict {
                code: "already_dispositioned",
                message: format!(
                    "This call of lead {} already has its disposition ({client_id}).",
                    req.lead_id
                ),
            }),
            // Two submissions under one key raced: the other one stored it.
            store::Accepted::Replay | store::Accepted::KeyReused => {
                let stored = store::find(&self.store, agent_user, &req.id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("disposition {} vanished", req.id))?;
                self.replay(&stored, &request_hash).await
            }
        }
    }

    /// The call `agent_user` dispositions on `lead_id`, from the server's own state: the
    /// wrap-up when there is one (the modal is for it), else the call VICIdial shows the agent
    /// on (a disposition given while still in the call, or on VICIdial's dispo step).
    async fn call_of(
        &self,
        context: &dyn CallContext,
        agent_user: &str,
        campaign: &str,
        lead_id: i64,
    ) -> Result<CallRef, ApiError> {
        let not_yours = || lead_not_yours(lead_id);
        if let Some(w) = crate::wrapup::current(&self.store, agent_user).await? {
            if w.lead_id != lead_id {
                return Err(not_yours());
            }
            // The live row may still show the call (VICIdial's dispo step) with its uniqueid.
            let live = context.live_call(agent_user).await?;
            let uniqueid = live
                .filter(|l| l.lead_id == lead_id && l.call_id.as_deref() == Some(&w.call_id))
                .and_then(|l| l.uniqueid);
            return Ok(CallRef {
                agent_user: agent_user.to_string(),
                campaign_id: w.campaign_id.unwrap_or_else(|| campaign.to_string()),
                lead_id,
                call_id: w.call_id,
                uniqueid,
                ended_at: Some(w.ended_at),
            });
        }
        match context.live_call(agent_user).await? {
            Some(l) if l.lead_id > 0 && l.lead_id == lead_id => Ok(CallRef {
                agent_user: agent_user.to_string(),
                campaign_id: if l.campaign_id.is_empty() {
                    campaign.to_string()
                } else {
                    l.campaign_id
                },
                lead_id,
                call_id: l.call_id.unwrap_or_default(),
                uniqueid: l.uniqueid,
                ended_at: None,
            }),
            _ => Err(not_yours()),
        }
    }

    /// This instance's turn to write (SQLite), held until the guard drops.
    async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        take_turn(&self.write_gate).await
    }

    /// Hands an acceptance to the writer task (started on first use) and waits for its commit.
    async fn write(&self, mut req: WriteRequest) -> Result<store::Accepted, ApiError> {
        if let Some(rx) = self.writer_rx.lock().expect("writer").take() {
            let targets: Vec<&'static str> = self.targets.keys().copied().collect();
            tokio::spawn(writer_loop(
                self.worker_store.clone(),
                targets,
                self.write_gate.clone(),
                rx,
            ));
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        req.reply = tx;
        self.writer
            .send(req)
            .await
            .map_err(|_| anyhow::anyhow!("the disposition writer stopped"))?;
        let outcome = rx
            .await
            .map_err(|_| anyhow::anyhow!("the disposition writer stopped"))?
            .map_err(|e| anyhow::anyhow!("storing the disposition failed: {e}"))?;
        Ok(outcome)
    }

    /// The answer to a submission under a key the agent used before: the current state when
    /// it is the same request, else a conflict.
    async fn replay(
        &self,
        stored: &store::Stored,
        request_hash: &str,
    ) -> Result<DispositionAccepted, ApiError> {
        if stored.request_hash != request_hash {
            return Err(ApiError::Conflict {
                code: "idempotency_key_reused",
                message: "This disposition id was already used for a different disposition.".into(),
            });
        }
        self.state_of(&stored.id, &stored.client_id).await
    }

    /// The current state across its targets of the disposition with dialdeck's id `id`, named
    /// by the client's key `client_id` (the id the agent's browser knows it by).
    pub async fn state_of(
        &self,
        id: &str,
        client_id: &str,
    ) -> Result<DispositionAccepted, ApiError> {
        let jobs = store::jobs_of(&self.store, id).await?;
        Ok(DispositionAccepted {
            id: client_id.to_string(),
            targets: jobs.iter().map(store::Job::status).collect(),
        })
    }

    fn publish(&self, agent_user: &str, accepted: DispositionAccepted) {
        // Nobody listening is fine: the state is in the store.
        let _ = self.events.send(JobEvent {
            agent_user: agent_user.to_string(),
            accepted,
        });
    }
}

/// SHA-256 of the request's canonical JSON: the same key with another body is refused.
fn hash_request(req: &DispositionRequest) -> String {
    let json = serde_json::to_vec(req).expect("serialisable");
    Sha256::digest(&json)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The refusal of a disposition naming a lead that is not the agent's call's.
fn lead_not_yours(lead_id: i64) -> ApiError {
    ApiError::Conflict {
        code: "lead_not_yours",
        message: format!(
            "Lead {lead_id} is not the lead of your current or last call; reopen the \
             disposition of the call you are on."
        ),
    }
}

/// What the unique key "one disposition per agent, lead and call" holds the disposition to:
/// VICIdial's call id (unique per call); a stand-in id the wrap-up made up (VICIdial named no
/// call) with the time the call ended; nothing when no call is known.
fn call_key(call: &CallRef) -> Option<String> {
    if call.call_id.is_empty() {
        return None;
    }
    if crate::vicidial::target::is_vicidial_call_id(&call.call_id) {
        return Some(call.call_id.clone());
    }
    call.ended_at.map(|at| format!("{}@{at}", call.call_id))
}

/// The call's facts: VICIdial's log row when it has one, else what the wrap-up knows.
fn call_facts(call: &CallRef, logged: Option<&LoggedCall>) -> CallFacts {
    let fallback_start = call
        .ended_at
        .and_then(|at| DateTime::from_timestamp(at, 0))
        .unwrap_or_else(Utc::now);
    match logged {
        Some(l) => CallFacts {
            call_id: call.call_id.clone(),
            vicidial_uniqueid: Some(l.uniqueid.clone()),
            started_at: DateTime::from_timestamp(l.start_epoch, 0).unwrap_or(fallback_start),
            duration_secs: l.length_in_sec,
        },
        None => CallFacts {
            call_id: call.call_id.clone(),
            vicidial_uniqueid: call.uniqueid.clone(),
            started_at: fallback_start,
            duration_secs: None,
        },
    }
}

/// The callback as the agent picked it: a local time in a real IANA zone, in the future.
fn parse_callback(
    cb: &dialdeck_shared::CallbackRequest,
    now: DateTime<Utc>,
) -> Result<Callback, ApiError> {
    let bad = |code: &'static str, message: &str| ApiError::bad_request(code, message);
    let zone: chrono_tz::Tz = cb.time_zone.parse().map_err(|_| {
        bad(
            "invalid_time_zone",
            "The callback needs the agent's IANA time zone, e.g. America/Chicago.",
        )
    })?;
    let local = chrono::NaiveDateTime::parse_from_str(&cb.at_local, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(&cb.at_local, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| {
            bad(
                "invalid_callback_time",
                "The callback time must be a local date and time, YYYY-MM-DDTHH:MM.",
            )
        })?;
    // A time skipped by a DST change does not exist; an ambiguous one takes the earlier.
    let at = local
        .and_local_timezone(zone)
        .earliest()
        .ok_or_else(|| {
            bad(
                "invalid_callback_time",
                "That time does not exist in your time zone (a daylight-saving change).",
            )
        })?
        .with_timezone(&Utc);
    if at <= now {
        return Err(bad(
            "callback_in_past",
            "The callback time must be in the future.",
        ));
    }
    let recipient = match cb.recipient {
        dialdeck_shared::Recipient::UserOnly => CallbackRecipient::UserOnly,
        dialdeck_shared::Recipient::Anyone => CallbackRecipient::Anyone,
    };
    if cb.comments.chars().count() > 255 {
        return Err(bad(
            "callback_comments_too_long",
            "Callback comments are limited to 255 characters (VICIdial's column).",
        ));
    }
    Ok(Callback {
        at,
        agent_time_zone: zone.name().to_string(),
        recipient,
        comments: cb.comments.clone(),
    })
}

/// VICIdial's rules for the agent's callbacks: `USERONLY` only with `agentonly_callbacks`, and
/// no further ahead than the campaign's `callback_days_limit` (calendar days in VICIdial's
/// local time, as its callback calendar offers them).
fn check_callback_rules(cb: &Callback, rules: &CallbackRules) -> Result<(), ApiError> {
    if cb.recipient == CallbackRecipient::UserOnly && !rules.user_only_allowed {
        return Err(ApiError::bad_request(
            "callback_recipient_not_allowed",
            "Your VICIdial user may not keep callbacks to yourself (agent-only callbacks are off); choose Anyone.",
        ));
    }
    if !crate::vicidial::records::within_days(
        rules.local_today,
        rules.local_at.date(),
        rules.days_limit,
    ) {
        return Err(ApiError::bad_request(
            "callback_too_far",
            format!(
                "The campaign allows callbacks at most {} days ahead.",
                rules.days_limit
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(at_local: &str, time_zone: &str) -> dialdeck_shared::CallbackRequest {
        dialdeck_shared::CallbackRequest {
            at_local: at_local.into(),
            time_zone: time_zone.into(),
            recipient: dialdeck_shared::Recipient::UserOnly,
            comments: "after lunch".into(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn callbacks_are_read_in_the_agents_iana_zone() {
        // 09:30 in Chicago on 1 December is CST (UTC-6); in July it is CDT (UTC-5).
        let cb = parse_callback(&request("2026-12-01T09:30", "America/Chicago"), now()).unwrap();
        assert_eq!(cb.at.to_rfc3339(), "2026-12-01T15:30:00+00:00");
        let cb = parse_callback(&request("2026-07-01T09:30", "America/Chicago"), now()).unwrap();
        assert_eq!(cb.at.to_rfc3339(), "2026-07-01T14:30:00+00:00");
        assert_eq!(cb.agent_time_zone, "America/Chicago");
        let err = |r| parse_callback(&r, now()).unwrap_err().to_string();
        // 02:30 on 8 March 2026 does not exist in Chicago (clocks jump from 02:00 to 03:00).
        assert!(err(request("2026-03-08T02:30", "America/Chicago")).contains("does not exist"));
        assert!(err(request("2026-02-28T09:30", "Europe/London")).contains("future"));
        assert!(err(request("2026-12-01T09:30", "CST")).contains("IANA"));
        assert!(err(request("2026-12-01T09:30", "Mars/Base")).contains("IANA"));
        assert!(err(request("01/12/2026 09:30", "UTC")).contains("YYYY-MM-DD"));
    }

    #[test]
    fn vicidials_callback_rules_hold() {
        let day = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        let rules = |user_only_allowed, days_limit, at: &str| CallbackRules {
            user_only_allowed,
            days_limit,
            local_today: day("2026-03-01"),
            local_at: chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M").unwrap(),
        };
        let mut cb = parse_callback(&request("2026-03-31T23:00", "UTC"), now()).unwrap();
        assert!(check_callback_rules(&cb, &rules(true, 30, "2026-03-31 23:00")).is_ok());
        let code = |r: Result<(), ApiError>| match r.unwrap_err() {
            ApiError::BadRequest { code, .. } => code,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            code(check_callback_rules(
                &cb,
                &rules(true, 30, "2026-04-01 00:30")
            )),
            "callback_too_far"
        );
        assert!(check_callback_rules(&cb, &rules(true, 0, "2030-01-01 00:00")).is_ok());
        assert_eq!(
            code(check_callback_rules(
                &cb,
                &rules(false, 0, "2026-03-31 23:00")
            )),
            "callback_recipient_not_allowed"
        );
        cb.recipient = CallbackRecipient::Anyone;
        assert!(check_callback_rules(&cb, &rules(false, 0, "2026-03-31 23:00")).is_ok());
    }

    #[test]
    fn the_call_key_names_one_call() {
        let call = |call_id: &str, ended_at| CallRef {
            agent_user: "1001".into(),
            campaign_id: "C".into(),
            lead_id: 8,
            call_id: call_id.into(),
            uniqueid: None,
            ended_at,
        };
        assert_eq!(
            call_key(&call("M1125024600000000008", Some(5))).as_deref(),
            Some("M1125024600000000008")
        );
        assert_eq!(
            call_key(&call("L8-1001", Some(1_700_000_000))).as_deref(),
            Some("L8-1001@1700000000")
        );
        assert_eq!(call_key(&call("L8-1001", None)), None);
        assert_eq!(call_key(&call("", Some(5))), None);
    }
}
