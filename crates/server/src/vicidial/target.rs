//! The `vicidial` disposition target and the VICIdial [`CallContext`].
//!
//! A disposition is applied the way VICIdial's own screen applies it: `external_status` (after
//! `external_hangup` if the call is still up) for the agent's hidden screen, which writes the
//! lead, call log, agent log, callbacks and DNC lists (reference §6). Success is judged from
//! the database, never from the API's `SUCCESS` (which only means "queued"). If the screen has
//! not applied it within `DIALDECK_VICIDIAL_RECONCILE_SECS` and stopped polling (the tab is
//! gone), or can no longer apply it (the agent logged out, or the lead moved on), the Non-Agent
//! API applies it (`update_lead`, `update_log_entry`, `add_dnc_phone`) and the receipt says
//! `reconciled`; `update_log_entry` changes the lead's newest log row, so it is sent only when
//! that row is this disposition's call. Callback times reach VICIdial in its local time. A screen that still polls is left to apply it, however late.
//! Call notes go into `vicidial_call_notes`.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::{
    api::{filter_callback_comments, CallbackSpec, VicidialError},
    db, records, Vicidial,
};
use crate::disposition::{
    ApplyError, CallContext, CallRef, CallbackRecipient, CallbackRules, Disposition,
    DispositionTarget, Lead, LiveCall, LoggedCall, StatusDef,
};

/// Applies dispositions to VICIdial.
pub struct VicidialTarget {
    v: Arc<Vicidial>,
}

impl VicidialTarget {
    /// The target over a VICIdial connection.
    pub fn new(v: Arc<Vicidial>) -> VicidialTarget {
        VicidialTarget { v }
    }
}

fn db_down(e: anyhow::Error) -> ApplyError {
    tracing::warn!(error = %e, "VICIdial database unavailable while applying a disposition");
    ApplyError::Retryable {
        reason: "VICIdial's database is unavailable".into(),
        retry_after: None,
    }
}

fn api_failed(e: VicidialError) -> ApplyError {
    if e.is_transient() {
        ApplyError::Retryable {
            reason: e.to_string(),
            retry_after: None,
        }
    } else {
        ApplyError::Permanent {
            reason: e.to_string(),
        }
    }
}

/// How long a disposition must still look unapplied after the agent's screen left the call
/// before the Non-Agent API applies it (the screen's own writes follow the agent's release).
const SCREEN_SETTLE: Duration = Duration::from_secs(2);

/// VICIdial's call ids for manual, auto and inbound calls: a letter and 19 digits.
pub fn is_vicidial_call_id(id: &str) -> bool {
    id.len() == 20 && id.starts_with(['M', 'V', 'Y']) && id[1..].bytes().all(|b| b.is_ascii_digit())
}

impl VicidialTarget {
    async fn callback_spec(&self, d: &Disposition) -> Result<Option<CallbackSpec>, ApplyError> {
        let Some(cb) = &d.callback else {
            return Ok(None);
        };
        // VICIdial reads `callback_datetime` in its server's local time.
        let local_datetime = records::to_local_text(&self.v.db, cb.at)
            .await
            .map_err(db_down)?;
        Ok(Some(CallbackSpec {
            local_datetime,
            recipient: match cb.recipient {
                CallbackRecipient::UserOnly => "USERONLY",
                CallbackRecipient::Anyone => "ANYONE",
            },
            comments: filter_callback_comments(&cb.comments),
        }))
    }

    /// Whether VICIdial's tables show this disposition applied.
    async fn applied(&self, d: &Disposition) -> Result<bool, ApplyError> {
        let lead = d.lead.lead_id;
        let want_lead = if d.callback.is_some() {
            "CBHOLD"
        } else {
            d.status.status.as_str()
        };
        let Some((status, user)) = db::lead_status(&self.v.db, lead).await.map_err(db_down)? else {
            return Err(ApplyError::Permanent {
                reason: format!("lead {lead} no longer exists in VICIdial"),
            });
        };
        if status != want_lead || user != d.agent_user {
            return Ok(false);
        }
        if let Some((_, log_status)) =
            db::call_log(&self.v.db, lead, &d.agent_user, d.call.started_at)
                .await
                .map_err(db_down)?
        {
            if log_status != d.status.status {
                return Ok(false);
            }
        }
        if d.callback.is_some() {
            return db::has_callback(&self.v.db, lead, &d.status.status)
                .await
                .map_err(db_down);
        }
        Ok(true)
    }

    /// Whether the lead already has this disposition's status (and its callback).
    async fn lead_shows(&self, d: &Disposition) -> Result<bool, ApplyError> {
        let want = if d.callback.is_some() {
            "CBHOLD"
        } else {
            d.status.status.as_str()
        };
        let status = db::lead_status(&self.v.db, d.lead.lead_id)
            .await
            .map_err(db_down)?
            .map(|(status, _)| status);
        if status.as_deref() != Some(want) {
            return Ok(false);
        }
        if d.callback.is_some() {
            return db::has_callback(&self.v.db, d.lead.lead_id, &d.status.status)
                .await
                .map_err(db_down);
        }
        Ok(true)
    }

    /// Whether the agent's screen, which has left the call, applied the disposition.
    ///
    /// VICIdial's screen frees the agent (`vicidial_live_agents`: no lead, paused) *before* it
    /// writes the lead, the call log and the callback, in separate statements. Seen in that gap
    /// the disposition looks unapplied, and reconciling then applied it a second time
    /// (`update_lead` after the screen's own dispo: found by the crash test, issue #7). So "not
    /// applied" is believed only once it has held for [`SCREEN_SETTLE`].
    async fn applied_by_screen(&self, d: &Disposition) -> Result<bool, ApplyError> {
        let deadline = tokio::time::Instant::now() + SCREEN_SETTLE;
        loop {
            if self.applied(d).await? {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The Non-Agent API path, for when the screen cannot apply the disposition.
    async fn reconcile(&self, d: &Disposition, why: &str) -> Result<serde_json::Value, ApplyError> {
        tracing::info!(disposition = %d.id, lead = d.lead.lead_id, why, "applying the disposition through the Non-Agent API");
        let cb = self.callback_spec(d).await?;
        let api = &self.v.api;
        let cb_args = cb
            .as_ref()
            .map(|c| (c, d.agent_user.as_str(), d.campaign_id.as_str()));
        // A previous attempt may have sent `update_lead` and died (or lost its answer) before
        // the outbox recorded it: sending it again would apply the disposition twice (found by
        // the crash test, issue #7). The call set the lead `INCALL`, so a lead already showing
        // this disposition's status (and callback) got it from that attempt.
        if !self.lead_shows(d).await? {
            match api
                .update_lead(d.lead.lead_id, &d.status.status, cb_args)
                .await
            {
                Ok(_) => {}
                Err(VicidialError::NotFound(_)) => {
                    return Err(ApplyError::Permanent {
                        reason: format!("lead {} was not found by update_lead", d.lead.lead_id),
                    })
                }
                Err(e) => return Err(api_failed(e)),
            }
        }
        let mut log_entry = "no VICIdial call id";
        if is_vicidial_call_id(&d.call.call_id) {
            log_entry = if self.log_row_is_ours(d).await? {
                match api
                    .update_log_entry(&d.campaign_id, &d.call.call_id, &d.status.status)
                    .await
                {
                    Ok(_) => "updated",
                    Err(VicidialError::NotFound(_)) => "no call log row",
                    Err(e) => return Err(api_failed(e)),
                }
            } else {
                "newest call log row is another call"
            };
        }
        let dnc = self.dnc_lists(d).await?;
        for list in &dnc {
            api.add_dnc_phone(&d.lead.phone_number, list)
                .await
                .map_err(api_failed)?;
        }
        let notes = self.save_notes(d).await?;
        Ok(json!({
            "applied_by": "non_agent_api",
            "reconciled": true,
            "reason": why,
            "log_entry": log_entry,
            "dnc_lists": dnc,
            "notes_saved": notes,
        }))
    }

    /// Whether the row `update_log_entry` would change (the newest `vicidial_log` row of the
    /// lead in the campaign: it finds the row by the lead, not by the call) is this
    /// disposition's call. Another agent may have called the lead since; their row is theirs,
    /// and so is a row tied with ours at the same second (VICIdial could pick either).
    async fn log_row_is_ours(&self, d: &Disposition) -> Result<bool, ApplyError> {
        let newest = records::newest_log_rows(&self.v.db, d.lead.lead_id, &d.campaign_id)
            .await
            .map_err(db_down)?;
        Ok(match (newest.as_slice(), &d.call.vicidial_uniqueid) {
            ([], _) => true, // update_log_entry says so itself
            ([(uniqueid, _)], Some(ours)) => uniqueid == ours,
            ([(_, user)], None) => *user == d.agent_user,
            _ => false,
        })
    }

    /// The DNC lists the campaign says a DNC status goes to.
    async fn dnc_lists(&self, d: &Disposition) -> Result<Vec<String>, ApplyError> {
        if !d.status.flags.dnc {
            return Ok(vec![]);
        }
        let (internal, campaign) = db::campaign_dnc(&self.v.db, &d.campaign_id)
            .await
            .map_err(db_down)?;
        let on = |v: &str| v == "Y" || v == "AREACODE";
        let mut lists = vec![];
        if on(&internal) {
            lists.push("SYSTEM_INTERNAL".to_string());
        }
        if on(&campaign) {
            lists.push(d.campaign_id.clone());
        }
        Ok(lists)
    }

    async fn save_notes(&self, d: &Disposition) -> Result<bool, ApplyError> {
        if d.notes.trim().is_empty() {
            return Ok(false);
        }
        let vicidial_id = match &d.call.vicidial_uniqueid {
            Some(uniqueid) => uniqueid.clone(),
            None => {
                match db::call_log(&self.v.db, d.lead.lead_id, &d.agent_user, d.call.started_at)
                    .await
                    .map_err(db_down)?
                {
                    Some((uniqueid, _)) => uniqueid,
                    None => d.call.call_id.chars().take(20).collect(),
                }
            }
        };
        let call_date = records::to_local_text(&self.v.db, d.call.started_at)
            .await
            .map_err(db_down)?;
        db::insert_call_notes(
            &self.v.db,
            d.lead.lead_id,
            &vicidial_id,
            &call_date,
            &d.notes,
        )
        .await
        .map_err(db_down)
    }

    async fn finish_screen(&self, d: &Disposition) -> Result<serde_json::Value, ApplyError> {
        let notes = self.save_notes(d).await?;
        Ok(json!({ "applied_by": "agent_screen", "reconciled": false, "notes_saved": notes }))
    }
}

/// A screen that polled within this many seconds is alive (it polls about once a second).
const SCREEN_ALIVE_SECS: i64 = 10;

#[async_trait]
impl DispositionTarget for VicidialTarget {
    fn name(&self) -> &'static str {
        "vicidial"
    }

    async fn apply(&self, d: &Disposition) -> Result<serde_json::Value, ApplyError> {
        let args = &self.v.args;
        let lead = d.lead.lead_id;
        let age = Utc::now() - d.accepted_at;
        let reconcile_due = age >= chrono::Duration::seconds(args.reconcile_secs as i64);
        let live = db::live_row_of(&self.v.db, &d.agent_user)
            .await
            .map_err(db_down)?;
        let on_lead = live.as_ref().is_some_and(|l| l.lead_id == lead);
        if !on_lead {
            // The screen is past this call: either it applied the disposition or it never will.
            if self.applied_by_screen(d).await? {
                return self.finish_screen(d).await;
            }
            let why = if live.is_none() {
                "agent not logged into VICIdial"
            } else {
                "agent screen moved past the call"
            };
            return self.reconcile(d, why).await;
        }
        let live = live.expect("on_lead implies a row");
        if reconcile_due {
            // A screen that still polls applies what is queued and moves on to the next call;
            // applying the disposition beside it would apply it twice (the Agent API cannot
            // take back a queued status) and leave the screen on the dispo step. Only a screen
            // that stopped polling is reconciled.
            let age = db::screen_age_secs(&self.v.db, &d.agent_user)
                .await
                .map_err(db_down)?;
            if age.is_none_or(|a| a > SCREEN_ALIVE_SECS) {
                return self
                    .reconcile(d, "agent screen did not apply it in time")
                    .await;
            }
        }
        let api = &self.v.api;
        if live.status == "INCALL" {
            match api.external_hangup(&d.agent_user).await {
                Ok(_) | Err(VicidialError::NotLoggedIn) => {}
                Err(e) => return Err(api_failed(e)),
            }
        }
        let queued = live.external_status.split('!').next() == Some(d.status.status.as_str());
        if !queued {
            let cb = self.callback_spec(d).await?;
            match api
                .external_status(&d.agent_user, &d.status.status, cb.as_ref())
                .await
            {
                Ok(_) | Err(VicidialError::NotLoggedIn) => {}
                Err(e) => return Err(api_failed(e)),
            }
        }
        // Wait for the screen's next polls to apply it.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(args.confirm_secs);
        let step = Duration::from_millis((args.poll_ms / 4).clamp(50, 500));
        loop {
            tokio::time::sleep(step).await;
            let now_on_lead = db::live_row_of(&self.v.db, &d.agent_user)
                .await
                .map_err(db_down)?
                .is_some_and(|l| l.lead_id == lead);
            if !now_on_lead {
                if self.applied_by_screen(d).await? {
                    return self.finish_screen(d).await;
                }
                return self
                    .reconcile(d, "agent screen left the call without applying it")
                    .await;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ApplyError::Retryable {
                    reason: "waiting for VICIdial's agent screen to apply it".into(),
                    retry_after: Some(Duration::from_secs(1)),
                });
            }
        }
    }
}

#[async_trait]
impl CallContext for Vicidial {
    async fn selectable_statuses(&self, campaign_id: &str) -> anyhow::Result<Vec<StatusDef>> {
        Ok(db::statuses(&self.db, campaign_id)
            .await?
            .into_iter()
            .filter(|s| s.selectable)
            .collect())
    }

    async fn live_call(&self, agent_user: &str) -> anyhow::Result<Option<LiveCall>> {
        Ok(db::live_row_of(&self.db, agent_user)
            .await?
            .map(|r| LiveCall {
                agent_user: r.user,
                campaign_id: r.campaign_id,
                lead_id: r.lead_id,
                status: r.status,
                call_id: (!r.callerid.is_empty()).then_some(r.callerid),
                uniqueid: (!r.uniqueid.is_empty()).then_some(r.uniqueid),
            }))
    }

    async fn lead(&self, lead_id: i64) -> anyhow::Result<Option<Lead>> {
        db::lead(&self.db, lead_id).await
    }

    async fn call_facts(&self, call: &CallRef) -> anyhow::Result<Option<LoggedCall>> {
        records::call_log_row(&self.db, call).await
    }

    async fn callback_rules(
        &self,
        agent_user: &str,
        campaign_id: &str,
        at: DateTime<Utc>,
    ) -> anyhow::Result<CallbackRules> {
        records::callback_rules(&self.db, agent_user, campaign_id, at).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vicidial_call_ids() {
        assert!(is_vicidial_call_id("M1125024600000000008"));
        assert!(!is_vicidial_call_id("call-1234-abcd"));
        assert!(!is_vicidial_call_id("M11250246000000000x8"));
    }
}
