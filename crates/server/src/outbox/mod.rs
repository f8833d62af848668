//! The disposition pipeline: a disposition is validated, accepted once and durably (the
//! disposition plus one job per target in one transaction), and applied to every target
//! (VICIdial, GHL) exactly once by workers that claim jobs under leases, retry with backoff and
//! park what cannot succeed.
//!
//! Exactly once = at-least-once delivery from the outbox (a job is retried until a target says
//! done) × idempotent targets (`DispositionTarget::apply` is keyed by the disposition id).

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
        CallContext, CallFacts, Callback, CallbackRecipient, Disposition, DispositionTarget,
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
    agent_user: String,
    lead_id: i64,
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
                    agent_user: &r.agent_user,
                    lead_id: r.lead_id,
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
        if let Some((owner, _)) = store::disposition(&self.store, &req.id).await? {
            return self
                .replay(agent_user, &owner, &req.id, &request_hash)
                .await;
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
            (Some(cb), _) => Some(parse_callback(cb)?),
            (None, false) => None,
        };
        let wrapup = crate::wrapup::current(&self.store, agent_user).await?;
        let live = context.live_call(agent_user).await?;
        let lead_is_yours = wrapup.as_ref().is_some_and(|w| w.lead_id == req.lead_id)
            || live
                .as_ref()
                .is_some_and(|l| l.lead_id == req.lead_id && l.lead_id > 0);
        if !lead_is_yours {
            return Err(ApiError::Forbidden {
                code: "lead_not_yours",
                message: format!("Lead {} is not on your current or last call.", req.lead_id),
            });
        }
        let lead = context.lead(req.lead_id).await?.ok_or_else(|| {
            bad(
                "unknown_lead",
                format!("Lead {} does not exist in VICIdial.", req.lead_id),
            )
        })?;
        // Which call this is comes from the server's own state, never from the request.
        let (call_id, ended_at) = match (&wrapup, &live) {
            (Some(w), _) if w.lead_id == req.lead_id => {
                (w.call_id.clone(), DateTime::from_timestamp(w.ended_at, 0))
            }
            (_, Some(l)) => (l.call_id.clone().unwrap_or_default(), None),
            _ => (String::new(), None),
        };
        let started_at = ended_at.unwrap_or_else(Utc::now);
        let now = Utc::now();
        let disposition = Disposition {
            id: req.id.clone(),
            agent_user: agent_user.to_string(),
            campaign_id: campaign,
            lead,
            status,
            callback,
            notes: req.notes.clone(),
            call: CallFacts {
                call_id,
                vicidial_uniqueid: None,
                started_at,
                duration_secs: 0,
            },
            accepted_at: now,
        };
        let payload = serde_json::to_string(&disposition).map_err(anyhow::Error::from)?;
        let targets: Vec<&str> = self.targets.keys().copied().collect();
        let outcome = self
            .write(WriteRequest {
                id: req.id.clone(),
                agent_user: agent_user.to_string(),
                lead_id: req.lead_id,
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
            // Two identical submissions raced: the other one stored it.
            _ => {
                self.replay(agent_user, agent_user, &req.id, &request_hash)
                    .await
            }
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

    async fn replay(
        &self,
        agent_user: &str,
        owner: &str,
        id: &str,
        request_hash: &str,
    ) -> Result<DispositionAccepted, ApiError> {
        let stored: Option<(String,)> =
            sqlx::query_as("SELECT request_hash FROM dispositions WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.store)
                .await
                .map_err(anyhow::Error::from)?;
        if owner != agent_user || stored.map(|s| s.0).as_deref() != Some(request_hash) {
            return Err(ApiError::Conflict {
                code: "idempotency_key_reused",
                message: "This disposition id was already used for a different disposition.".into(),
            });
        }
        self.state_of(id).await
    }

    /// The current state of a disposition across its targets.
    pub async fn state_of(&self, id: &str) -> Result<DispositionAccepted, ApiError> {
        let jobs = store::jobs_of(&self.store, id).await?;
        Ok(DispositionAccepted {
            id: id.to_string(),
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

fn parse_callback(cb: &dialdeck_shared::CallbackRequest) -> Result<Callback, ApiError> {
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
    if at <= Utc::now() {
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
        agent_time_zone: cb.time_zone.clone(),
        recipient,
        comments: cb.comments.clone(),
    })
}
