//! A disposition in GHL, by VICIdial's status flags (never by status codes):
//!
//! | flag | in GHL |
//! |---|---|
//! | `sale` | opportunity with status `won` in the configured pipeline/stage (+ value), note, tag |
//! | `scheduled_callback` | task due at the callback instant (UTC), assigned to the agent's mapped GHL user, whose body carries the note's text; tag |
//! | `dnc` | DND on every channel, removal from the configured workflows and all campaigns, note, tag |
//! | none of these | tags and a timeline note |
//!
//! The note (or the callback's task body) says what happened on the call: status, agent,
//! campaign, when the call started and its talk time (from VICIdial's call log), and the
//! agent's notes. So the agent's notes reach GHL whatever the status.
//!
//! Every disposition also gets the tag `<prefix>:<status>` (and `<prefix>:sale`,
//! `<prefix>:callback`, `<prefix>:dnc` for its flags), added with the additive add-tags call:
//! never `tags` in a create/update, which would replace the contact's tags.
//!
//! **Idempotency.** Each step is recorded in `ghl_objects(disposition_id, kind)`. A create is
//! recorded `pending` before it is sent and `done` with the GHL id after; a step found `done`
//! is skipped on a retry; a step found `pending` (the previous attempt's outcome is unknown)
//! first searches GHL for the object by the disposition's reference (`dialdeck ref: <id>` as
//! the last line of note and task bodies, `[<id>]` at the end of the opportunity name) and
//! creates it only if absent. A 422 on a create is searched for at once (GHL sometimes creates
//! and answers 422 anyway). The opportunity search pages (GHL answers 20 results unless told,
//! at most 100): every page is read, following the cursor in its `meta`. A contact's notes and
//! tasks come in one answer.
//!
//! **Request budget.** With the contact known (cached), the common disposition (no sale, no
//! callback, no DNC) costs two requests: the note and the tags; a callback too (its task and
//! the tags). A sale costs three (opportunity, note, tags). DNC costs one request for DND, one
//! per configured workflow, one for campaigns, the note and the tags: there is no single GHL
//! call for it. The first disposition of a lead dialdeck has not seen adds the duplicate search
//! (by phone, and by email when the lead has one) and, for a new contact, its creation.
//!
//! **Concurrency.** Two `apply` calls for the same disposition in one process run one after the
//! other (an outbox lease may expire while the first is still running).
//!
//! **Contact conflicts.** When the lead's phone and email match two different contacts, dialdeck
//! does not guess: `apply` fails with [`ApplyError::Permanent`] whose reason starts with
//! [`CONFLICT_PREFIX`], and the conflict is kept in `ghl_conflicts` for the agent's screen
//! ([`GhlTarget::open_conflicts`]). Once the contacts are merged in GHL, retrying the job
//! (after [`GhlTarget::resolve_conflict`]) applies it.

use std::{
    collections::HashMap,
    future::Future,
    sync::atomic::{AtomicBool, AtomicU32, Ordering},
    sync::Arc,
};

use crate::store::{dialect, Store};
use async_trait::async_trait;
use chrono::Utc;
use reqwest::Method;
use serde::Serialize;
use serde_json::{json, Value};

use super::{
    client::{seg, Call, GhlClient, GhlError},
    config::GhlArgs,
    contact::{self, ContactError, Resolution, E164},
};
use crate::disposition::{ApplyError, Disposition, DispositionTarget};

/// Start of the [`ApplyError::Permanent`] reason for a contact conflict.
pub const CONFLICT_PREFIX: &str = "GHL contact conflict";

/// DND channels of `DndSettingsSchema`.
pub const DND_CHANNELS: [&str; 6] = ["Call", "Email", "SMS", "WhatsApp", "GMB", "FB"];

/// A client that counts the requests of one `apply` and notices a contact GHL no longer has.
pub struct Counted<'a> {
    client: &'a GhlClient,
    sent: AtomicU32,
    contact_missing: AtomicBool,
}

impl<'a> Counted<'a> {
    /// Wraps `client`.
    pub fn new(client: &'a GhlClient) -> Counted<'a> {
        Counted {
            client,
            sent: AtomicU32::new(0),
            contact_missing: AtomicBool::new(false),
        }
    }

    /// The wrapped client.
    pub fn client(&self) -> &GhlClient {
        self.client
    }

    /// Sends and counts.
    pub async fn send(&self, call: Call) -> Result<Value, GhlError> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let on_contact = call.path.starts_with("/contacts/") && call.path.len() > 10;
        let result = self.client.send(call).await;
        if let Err(GhlError::Invalid {
            status: 400 | 404,
            message,
            ..
        }) = &result
        {
            if on_contact && message.to_lowercase().contains("not found") {
                self.contact_missing.store(true, Ordering::Relaxed);
            }
        }
        result
    }

    /// Requests sent so far.
    pub fn sent(&self) -> u32 {
        self.sent.load(Ordering::Relaxed)
    }
}

/// A contact conflict waiting for a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct OpenConflict {
    /// The disposition that could not be applied.
    pub disposition_id: String,
    /// The agent who dispositioned the call.
    pub agent_user: String,
    /// The VICIdial lead.
    pub lead_id: i64,
    /// The lead's number (E.164).
    pub phone_e164: String,
    /// The lead's email.
    pub email: String,
    /// The contact the number matches.
    pub phone_contact_id: String,
    /// The contact the email matches.
    pub email_contact_id: String,
}

/// The GHL side of a disposition (target name `ghl`).
#[derive(Clone, Debug)]
pub struct GhlTarget {
    client: GhlClient,
    args: GhlArgs,
    store: Store,
    in_flight: Arc<InFlight>,
}

/// Dispositions being applied in this process: a second `apply` of the same disposition (an
/// outbox lease that expired while the first was still running) waits for the first instead of
/// racing it past the `ghl_objects` markers.
#[derive(Debug, Default)]
struct InFlight(std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl InFlight {
    async fn enter(&self, id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
            // Forget the locks nobody holds or waits for.
            map.retain(|_, l| Arc::strong_count(l) > 1);
            map.entry(id.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }
}

/// What `apply` did, returned as the receipt.
#[derive(Debug, Default, Serialize)]
pub struct Receipt {
    /// The GHL contact.
    pub contact_id: String,
    /// How it was found.
    pub contact: Option<Resolution>,
    /// Opportunity created for a sale.
    pub opportunity_id: Option<String>,
    /// Task created for a callback.
    pub task_id: Option<String>,
    /// Note created.
    pub note_id: Option<String>,
    /// Tags added.
    pub tags: Vec<String>,
    /// DND set on every channel.
    pub dnd: bool,
    /// Workflows the contact was removed from.
    pub workflows_left: Vec<String>,
    /// Removed from all campaigns.
    pub campaigns_left: bool,
    /// Things skipped, for the record (e.g. a sale without a configured pipeline).
    pub warnings: Vec<String>,
    /// GHL requests this attempt sent.
    pub ghl_requests: u32,
}

enum Mark {
    Done(Option<String>),
    Pending,
}

impl GhlTarget {
    /// The target for validated settings; `None` when GHL is not configured.
    pub fn from_config(args: &GhlArgs, store: Store) -> anyhow::Result<Option<GhlTarget>> {
        if !args.enabled() {
            return Ok(None);
        }
        Ok(Some(GhlTarget::new(args, store)?))
    }

    /// The target for validated, enabled settings.
    pub fn new(args: &GhlArgs, store: Store) -> anyhow::Result<GhlTarget> {
        Ok(GhlTarget {
            client: GhlClient::new(args, store.clone())?,
            args: args.clone(),
            store,
            in_flight: Arc::default(),
        })
    }

    /// The API client.
    pub fn client(&self) -> &GhlClient {
        &self.client
    }

    /// Start-up check: GHL answers with these credentials, and the configured sale pipeline and
    /// stage exist in the location (`GET /opportunities/pipelines`).
    pub async fn check_setup(&self) -> Result<(), SetupError> {
        let body = self
            .client
            .send(
                Call::new(Method::GET, "/opportunities/pipelines")
                    .query("locationId", self.client.location_id()),
            )
            .await
            .map_err(SetupError::Unavailable)?;
        let Some(pipeline) = &self.args.sale_pipeline_id else {
            return Ok(());
        };
        let pipelines = body
            .get("pipelines")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                SetupError::Unavailable(GhlError::Unexpected {
                    reason: "GET /opportunities/pipelines answered without `pipelines`".into(),
                })
            })?;
        let p = pipelines
            .iter()
            .find(|p| p.get("id").and_then(Value::as_str) == Some(pipeline))
            .ok_or_else(|| {
                let known: Vec<&str> = pipelines
                    .iter()
                    .filter_map(|p| p.get("id").and_then(Value::as_str))
                    .collect();
                SetupError::Misconfigured(format!(
                    "DIALDECK_GHL_SALE_PIPELINE_ID {pipeline:?} is not a pipeline of location {} (it has: {})",
                    self.client.location_id(),
                    known.join(", ")
                ))
            })?;
        if let Some(stage) = &self.args.sale_stage_id {
            let stages = stage_ids(p.get("stages").unwrap_or(&Value::Null));
            if !stages.iter().any(|s| s == stage) {
                return Err(SetupError::Misconfigured(format!(
                    "DIALDECK_GHL_SALE_STAGE_ID {stage:?} is not a stage of pipeline {pipeline:?} (it has: {})",
                    stages.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Conflicts waiting for `agent_user` (for the agent's screen).
    pub async fn open_conflicts(
        store: &Store,
        agent_user: &str,
    ) -> sqlx::Result<Vec<OpenConflict>> {
        sqlx::query_as(
            "SELECT disposition_id, agent_user, lead_id, phone_e164, email, phone_contact_id,
                    email_contact_id
             FROM ghl_conflicts WHERE agent_user = ? ORDER BY created_at",
        )
        .bind(agent_user)
        .fetch_all(store)
        .await
    }

    /// Marks a conflict handled (the contacts were merged in GHL) so a retry applies the
    /// disposition: drops the conflict and the cached lookups of its number and email.
    pub async fn resolve_conflict(store: &Store, disposition_id: &str) -> sqlx::Result<()> {
        let row: Option<(String, String)> = sqlx::query_as(
            "DELETE FROM ghl_conflicts WHERE disposition_id = ? RETURNING phone_e164, email",
        )
        .bind(disposition_id)
        .fetch_optional(store)
        .await?;
        if let Some((phone, email)) = row {
            sqlx::query("DELETE FROM ghl_contacts WHERE lookup_key IN (?, ?)")
                .bind(format!("phone:{phone}"))
                .bind(format!("email:{email}"))
                .execute(store)
                .await?;
        }
        Ok(())
    }

    fn tags(&self, d: &Disposition) -> Vec<String> {
        let p = self.args.tag_prefix.trim().to_lowercase();
        let mut tags = vec![format!("{p}:{}", d.status.status.trim().to_lowercase())];
        let f = d.status.flags;
        for (on, name) in [
            (f.sale, "sale"),
            (f.scheduled_callback && d.callback.is_some(), "callback"),
            (f.dnc, "dnc"),
        ] {
            if on && !tags.contains(&format!("{p}:{name}")) {
                tags.push(format!("{p}:{name}"));
            }
        }
        tags
    }

    async fn mark(&self, d: &Disposition, kind: &str) -> Result<Option<Mark>, ApplyError> {
        let row: Option<(Option<String>, String)> = sqlx::query_as(
            "SELECT ghl_id, state FROM ghl_objects WHERE disposition_id = ? AND kind = ?",
        )
        .bind(&d.id)
        .bind(kind)
        .fetch_optional(&self.store)
        .await
        .map_err(store_error)?;
        Ok(row.map(|(id, state)| {
            if state == "done" {
                Mark::Done(id)
            } else {
                Mark::Pending
            }
        }))
    }

    async fn set_mark(
        &self,
        d: &Disposition,
        kind: &str,
        state: &str,
        id: Option<&str>,
    ) -> Result<(), ApplyError> {
        let sql = format!(
            "INSERT INTO ghl_objects (disposition_id, kind, ghl_id, state, updated_at)
             VALUES (?, ?, ?, ?, ?) {}",
            dialect(&self.store).upsert("disposition_id, kind", &["ghl_id", "state", "updated_at"])
        );
        sqlx::query(&sql)
            .bind(&d.id)
            .bind(kind)
            .bind(id)
            .bind(state)
            .bind(Utc::now().timestamp())
            .execute(&self.store)
            .await
            .map_err(store_error)
            .map(|_| ())
    }

    /// Creates an object once per disposition (see the module documentation).
    async fn ensure_created<C, CF, F, FF>(
        &self,
        d: &Disposition,
        kind: &str,
        create: C,
        id_at: &str,
        find: F,
    ) -> Result<String, ApplyError>
    where
        C: Fn() -> CF,
        CF: Future<Output = Result<Value, GhlError>>,
        F: Fn() -> FF,
        FF: Future<Output = Result<Option<String>, GhlError>>,
    {
        match self.mark(d, kind).await? {
            Some(Mark::Done(Some(id))) => return Ok(id),
            Some(Mark::Pending) | Some(Mark::Done(None)) => {
                if let Some(id) = find().await? {
                    self.set_mark(d, kind, "done", Some(&id)).await?;
                    return Ok(id);
                }
            }
            None => self.set_mark(d, kind, "pending", None).await?,
        }
        match create().await {
            Ok(body) => {
                let id = body
                    .pointer(id_at)
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApplyError::Permanent {
                        reason: format!("GHL created the {kind} but answered without its id"),
                    })?
                    .to_string();
                self.set_mark(d, kind, "done", Some(&id)).await?;
                Ok(id)
            }
            Err(e @ GhlError::Invalid { .. }) => {
                // GHL's "422 but created anyway": look before reporting the refusal.
                if let Some(id) = find().await? {
                    self.set_mark(d, kind, "done", Some(&id)).await?;
                    return Ok(id);
                }
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Runs an idempotent step once per disposition.
    async fn ensure_done<S, SF>(
        &self,
        d: &Disposition,
        kind: &str,
        step: S,
    ) -> Result<(), ApplyError>
    where
        S: FnOnce() -> SF,
        SF: Future<Output = Result<Value, GhlError>>,
    {
        if let Some(Mark::Done(_)) = self.mark(d, kind).await? {
            return Ok(());
        }
        step().await?;
        self.set_mark(d, kind, "done", None).await
    }

    async fn record_conflict(
        &self,
        d: &Disposition,
        c: &contact::Conflict,
    ) -> Result<(), ApplyError> {
        let sql = format!(
            "INSERT INTO ghl_conflicts (disposition_id, agent_user, lead_id, phone_e164, email,
                 phone_contact_id, email_contact_id, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) {}",
            dialect(&self.store)
                .upsert("disposition_id", &["phone_contact_id", "email_contact_id"])
        );
        sqlx::query(&sql)
            .bind(&d.id)
            .bind(&d.agent_user)
            .bind(d.lead.lead_id)
            .bind(&c.phone)
            .bind(&c.email)
            .bind(&c.phone_contact_id)
            .bind(&c.email_contact_id)
            .bind(Utc::now().timestamp())
            .execute(&self.store)
            .await
            .map_err(store_error)
            .map(|_| ())
    }

    async fn run(&self, d: &Disposition, ghl: &Counted<'_>) -> Result<Receipt, ApplyError> {
        let mut r = Receipt::default();
        let resolved = match contact::resolve(ghl, &self.store, &d.lead).await {
            Ok(c) => c,
            Err(ContactError::Conflict(c)) => {
                self.record_conflict(d, &c).await?;
                tracing::warn!(disposition = %d.id, agent = %d.agent_user, "GHL contact conflict");
                return Err(ApplyError::Permanent {
                    reason: format!(
                        "{CONFLICT_PREFIX}: the lead's phone {} is GHL contact {} but its email {} is contact {}; merge or correct them in GHL, then retry",
                        c.phone, c.phone_contact_id, c.email, c.email_contact_id
                    ),
                });
            }
            Err(ContactError::NoIdentity) => {
                return Err(ApplyError::Permanent {
                    reason: format!(
                        "lead {} has no valid phone number or email to find its GHL contact by",
                        d.lead.lead_id
                    ),
                })
            }
            Err(ContactError::Ghl(e)) => return Err(e.into()),
            Err(ContactError::Store(e)) => return Err(store_error(e)),
        };
        let cached = resolved.how == Resolution::Cached;
        let outcome = self.act(d, ghl, &resolved, &mut r).await;
        if outcome.is_err() && cached && ghl.contact_missing.load(Ordering::Relaxed) {
            // Deleted or merged away in GHL since we cached it: look it up again next time,
            // and redo this disposition's steps on whichever contact that finds.
            contact::forget(&self.store, self.client.location_id(), &resolved.id)
                .await
                .map_err(store_error)?;
            sqlx::query("DELETE FROM ghl_objects WHERE disposition_id = ?")
                .bind(&d.id)
                .execute(&self.store)
                .await
                .map_err(store_error)?;
            return Err(ApplyError::Retryable {
                reason: format!(
                    "GHL contact {} no longer exists; it will be looked up again",
                    resolved.id
                ),
                retry_after: None,
            });
        }
        outcome?;
        Ok(r)
    }

    /// The actions of a disposition on its contact.
    async fn act(
        &self,
        d: &Disposition,
        ghl: &Counted<'_>,
        resolved: &contact::ResolvedContact,
        r: &mut Receipt,
    ) -> Result<(), ApplyError> {
        let cid = resolved.id.clone();
        r.contact_id = cid.clone();
        r.contact = Some(resolved.how);
        let contact_path = format!("/contacts/{}", seg(&cid));
        let flags = d.status.flags;
        let user = self.args.ghl_user_for(&d.agent_user).map(str::to_string);
        let reference = format!("dialdeck ref: {}", d.id);

        if flags.dnc {
            let message = format!("DNC ({}) by agent {}", d.status.status, d.agent_user);
            let settings: serde_json::Map<String, Value> = DND_CHANNELS
                .iter()
                .map(|ch| {
                    (
                        ch.to_string(),
                        json!({"status": "active", "message": message}),
                    )
                })
                .collect();
            let body = json!({"dnd": true, "dndSettings": settings});
            self.ensure_done(d, "dnd", || {
                ghl.send(Call::new(Method::PUT, contact_path.clone()).json(body))
            })
            .await?;
            r.dnd = true;
            for wf in &self.args.dnc_workflow_ids {
                let path = format!("{contact_path}/workflow/{}", seg(wf));
                // The spec requires a body (`CreateWorkflowDto`, all optional).
                self.ensure_done(d, &format!("workflow:{wf}"), || {
                    ghl.send(Call::new(Method::DELETE, path).json(json!({})))
                })
                .await?;
                r.workflows_left.push(wf.clone());
            }
            if self.args.dnc_leave_campaigns {
                let path = format!("{contact_path}/campaigns/removeAll");
                self.ensure_done(d, "campaigns", || ghl.send(Call::new(Method::DELETE, path)))
                    .await?;
                r.campaigns_left = true;
            }
        }

        if flags.sale {
            match &self.args.sale_pipeline_id {
                Some(pipeline) => {
                    let marker = format!("[{}]", d.id);
                    let mut name = format!("{} {}", d.lead.first_name, d.lead.last_name)
                        .trim()
                        .to_string();
                    if name.is_empty() {
                        name = resolved
                            .phone
                            .as_ref()
                            .map(E164::to_string)
                            .unwrap_or_else(|| d.lead.lead_id.to_string());
                    }
                    let mut body = json!({
                        "pipelineId": pipeline,
                        "locationId": self.client.location_id(),
                        "name": format!("{name} · {} · {} {marker}", d.campaign_id, d.status.status),
                        "status": "won",
                        "contactId": cid,
                    });
                    if let Some(stage) = &self.args.sale_stage_id {
                        body["pipelineStageId"] = json!(stage);
                    }
                    if let Some(v) = self.args.sale_value {
                        body["monetaryValue"] = json!(v);
                    }
                    if let Some(u) = &user {
                        body["assignedTo"] = json!(u);
                    }
                    let id = self
                        .ensure_created(
                            d,
                            "opportunity",
                            || {
                                ghl.send(
                                    Call::new(Method::POST, "/opportunities/").json(body.clone()),
                                )
                            },
                            "/opportunity/id",
                            || find_opportunity(ghl, &cid, pipeline, &marker),
                        )
                        .await?;
                    r.opportunity_id = Some(id);
                }
                None => r.warnings.push(
                    "sale not recorded as an opportunity: DIALDECK_GHL_SALE_PIPELINE_ID is not set"
                        .into(),
                ),
            }
        }

        // The agent's notes and the call reach GHL for every status: in the callback's task
        // when there is one (it is on the contact's timeline anyway), else in a note.
        let call_text = call_summary(d);
        let callback = d.callback.as_ref().filter(|_| flags.scheduled_callback);
        if let Some(cb) = callback {
            let mut body = json!({
                "title": format!("Call back {} {}", d.lead.first_name, d.lead.last_name).trim().to_string(),
                "body": format!(
                    "{}\nScheduled by agent {} ({}) in time zone {} for {}.\n{call_text}\n{reference}",
                    cb.comments.trim(),
                    d.agent_user,
                    d.status.status,
                    cb.agent_time_zone,
                    cb.at.format("%Y-%m-%d %H:%M UTC"),
                ).trim().to_string(),
                "dueDate": cb.at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "completed": false,
            });
            if let Some(u) = &user {
                body["assignedTo"] = json!(u);
            }
            let path = format!("{contact_path}/tasks");
            let id = self
                .ensure_created(
                    d,
                    "task",
                    || ghl.send(Call::new(Method::POST, path.clone()).json(body.clone())),
                    "/task/id",
                    || async {
                        // The contact's task list does not page (GHL returns them all).
                        let found = ghl.send(Call::new(Method::GET, path.clone())).await?;
                        Ok(find_in(&found, "tasks", "body", &reference))
                    },
                )
                .await?;
            r.task_id = Some(id);
        } else {
            let mut body = json!({"body": format!("{call_text}\n{reference}")});
            if let Some(u) = &user {
                body["userId"] = json!(u);
            }
            let path = format!("{contact_path}/notes");
            let id = self
                .ensure_created(
                    d,
                    "note",
                    || ghl.send(Call::new(Method::POST, path.clone()).json(body.clone())),
                    "/note/id",
                    || async {
                        // The contact's note list does not page (GHL returns them all).
                        let found = ghl.send(Call::new(Method::GET, path.clone())).await?;
                        Ok(find_in(&found, "notes", "body", &reference))
                    },
                )
                .await?;
            r.note_id = Some(id);
        }

        let tags = self.tags(d);
        let path = format!("{contact_path}/tags");
        self.ensure_done(d, "tags", || {
            ghl.send(Call::new(Method::POST, path).json(json!({"tags": tags})))
        })
        .await?;
        r.tags = tags;
        Ok(())
    }
}

/// What every disposition tells GHL about the call: status, agent, campaign, the call's start
/// and talk time, and the agent's notes.
fn call_summary(d: &Disposition) -> String {
    let talk = match d.call.duration_secs {
        Some(t) => format!("{}m {:02}s", t / 60, t % 60),
        None => "talk time not logged".into(),
    };
    let mut text = format!(
        "Disposition: {} ({})\nAgent: {}\nCampaign: {}\nCall: {} UTC, {talk}",
        d.status.status,
        d.status.status_name,
        d.agent_user,
        d.campaign_id,
        d.call.started_at.format("%Y-%m-%d %H:%M:%S"),
    );
    if !d.notes.trim().is_empty() {
        text.push_str(&format!("\nNotes: {}", d.notes.trim()));
    }
    text
}

/// The id of the first `list[]` item whose `field` carries `marker`: as a line of its own
/// (note and task bodies end with the reference line) or at the end (opportunity names), so
/// `ref: a-1` never matches an object of `ref: a-10`.
fn find_in(body: &Value, list: &str, field: &str, marker: &str) -> Option<String> {
    body.get(list)?
        .as_array()?
        .iter()
        .find(|o| {
            o.get(field)
                .and_then(Value::as_str)
                .is_some_and(|s| s.ends_with(marker) || s.lines().any(|l| l.trim() == marker))
        })
        .and_then(|o| o.get("id"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Results per page of the opportunity search (GHL's maximum; its default is 20).
pub const SEARCH_PAGE_SIZE: u32 = 100;

/// Most pages read when looking for one opportunity (a contact with more than 5,000
/// opportunities in one pipeline is not a contact dialdeck made).
const SEARCH_MAX_PAGES: u32 = 50;

/// The contact's opportunity in `pipeline` whose name ends with `marker`, reading every page of
/// the search: GHL answers 20 results unless told otherwise, and the next page is asked for with
/// the cursor its `meta` gives (`startAfter`, `startAfterId`, `nextPage`).
async fn find_opportunity(
    ghl: &Counted<'_>,
    contact_id: &str,
    pipeline: &str,
    marker: &str,
) -> Result<Option<String>, GhlError> {
    let mut cursor: Option<(String, String, String)> = None;
    for _ in 0..SEARCH_MAX_PAGES {
        let mut call = Call::new(Method::GET, "/opportunities/search")
            .query("location_id", ghl.client().location_id())
            .query("contact_id", contact_id)
            .query("pipeline_id", pipeline)
            .query("limit", SEARCH_PAGE_SIZE.to_string());
        if let Some((after, after_id, page)) = &cursor {
            call = call
                .query("startAfter", after.clone())
                .query("startAfterId", after_id.clone())
                .query("page", page.clone());
        }
        let body = ghl.send(call).await?;
        if let Some(id) = find_in(&body, "opportunities", "name", marker) {
            return Ok(Some(id));
        }
        let seen = body
            .get("opportunities")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let meta = body.get("meta").unwrap_or(&Value::Null);
        let text = |v: Option<&Value>| match v {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let next = (
            text(meta.get("startAfter")),
            text(meta.get("startAfterId")),
            text(meta.get("nextPage")),
        );
        let (Some(after), Some(after_id), Some(page)) = next else {
            return Ok(None);
        };
        if seen == 0 || cursor.as_ref().is_some_and(|(_, id, _)| *id == after_id) {
            return Ok(None);
        }
        cursor = Some((after, after_id, page));
    }
    tracing::warn!(contact = %contact_id, "opportunity search stopped after {SEARCH_MAX_PAGES} pages");
    Ok(None)
}

/// Stage ids of a pipeline as `GET /opportunities/pipelines` gives them. GHL answers a list of
/// stage objects (`{id, name, position, ...}`); its OpenAPI file types `stages` as a list of
/// lists, so nested lists and bare id strings are read too.
fn stage_ids(stages: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![stages];
    while let Some(v) = todo.pop() {
        match v {
            Value::Array(items) => todo.extend(items.iter().rev()),
            Value::Object(o) => {
                if let Some(id) = o.get("id").and_then(Value::as_str) {
                    out.push(id.to_string());
                }
            }
            Value::String(id) => out.push(id.clone()),
            _ => {}
        }
    }
    out
}

/// Why the start-up check of the GHL set-up did not pass.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SetupError {
    /// A configured id does not exist in GHL: a configuration error (named by its variable).
    #[error("{0}")]
    Misconfigured(String),
    /// GHL could not be asked (down, unreachable, refusing the credentials): try again later.
    #[error("GHL cannot be checked now: {0}")]
    Unavailable(GhlError),
}

fn store_error(e: sqlx::Error) -> ApplyError {
    ApplyError::Retryable {
        reason: format!("dialdeck store: {e}"),
        retry_after: None,
    }
}

#[async_trait]
impl DispositionTarget for GhlTarget {
    fn name(&self) -> &'static str {
        "ghl"
    }

    async fn apply(&self, d: &Disposition) -> Result<Value, ApplyError> {
        let _only_one = self.in_flight.enter(&d.id).await;
        let ghl = Counted::new(&self.client);
        let outcome = self.run(d, &ghl).await;
        match outcome {
            Ok(mut receipt) => {
                receipt.ghl_requests = ghl.sent();
                tracing::info!(disposition = %d.id, requests = ghl.sent(), "disposition applied in GHL");
                Ok(serde_json::to_value(receipt).unwrap_or(Value::Null))
            }
            Err(e) => {
                tracing::warn!(disposition = %d.id, requests = ghl.sent(), error = %e, "GHL apply failed");
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_read_as_ghl_answers_them_and_as_its_spec_types_them() {
        // What GHL answers: stage objects.
        let real = json!([{"id": "s1", "name": "New", "position": 0}, {"id": "s2", "name": "Won"}]);
        assert_eq!(stage_ids(&real), ["s1", "s2"]);
        // What the OpenAPI file says (`array` of `array`), and bare ids.
        assert_eq!(
            stage_ids(&json!([[{"id": "s1"}], [{"id": "s2"}]])),
            ["s1", "s2"]
        );
        assert_eq!(stage_ids(&json!(["s1", ["s2"]])), ["s1", "s2"]);
        assert!(stage_ids(&Value::Null).is_empty());
    }

    #[test]
    fn references_match_whole_lines_only() {
        let body = json!({"notes": [
            {"id": "n10", "body": "Disposition: NI\ndialdeck ref: a-10"},
            {"id": "n1", "body": "Disposition: NI\ndialdeck ref: a-1"},
        ]});
        assert_eq!(
            find_in(&body, "notes", "body", "dialdeck ref: a-1").as_deref(),
            Some("n1")
        );
        assert_eq!(find_in(&body, "notes", "body", "dialdeck ref: a-2"), None);
        let opps = json!({"opportunities": [{"id": "o1", "name": "Jane · C · SALE [a-10]"}]});
        assert_eq!(find_in(&opps, "opportunities", "name", "[a-1]"), None);
        assert_eq!(
            find_in(&opps, "opportunities", "name", "[a-10]").as_deref(),
            Some("o1")
        );
    }
}
