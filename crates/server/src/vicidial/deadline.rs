//! Wrap-up deadlines: a call whose disposition has not been given within its campaign's
//! deadline, while the agent's tab is gone (no open event stream), gets the campaign's
//! fallback status through the normal outbox, and the agent is paused in VICIdial. Admins see
//! each case (`wrapup_expired`, and `GET /api/admin/outbox`).

use std::time::Duration;

use dialdeck_shared::DispositionRequest;

use crate::AppState;

/// Checks every few seconds until the process ends.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = sweep_once(&state).await {
            tracing::warn!(error = %e, "wrap-up deadline check failed");
        }
    }
}

/// The disposition id used for a call's automatic disposition: the call's id when it is a
/// valid key, else one derived from it.
fn disposition_id(call_id: &str, user: &str, lead_id: i64) -> String {
    let ok = (8..=64).contains(&call_id.len())
        && call_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        call_id.to_string()
    } else {
        let clean: String = call_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(30)
            .collect();
        format!("auto-{user}-{lead_id}-{clean}")
            .chars()
            .take(64)
            .collect()
    }
}

/// One pass: applies the fallback to every expired wrap-up of an absent agent.
pub async fn sweep_once(state: &AppState) -> anyhow::Result<usize> {
    let Some(v) = state.vicidial().cloned() else {
        return Ok(0);
    };
    let now = chrono::Utc::now().timestamp();
    let mut applied = 0;
    for w in crate::wrapup::all(state.store()).await? {
        let campaign = w
            .campaign_id
            .clone()
            .unwrap_or_else(|| v.args.campaign.clone());
        let Some(deadline) = v.args.wrapup_deadline(&campaign) else {
            continue;
        };
        if now - w.ended_at < deadline.secs as i64
            || super::live::tab_open(&v, state.store(), &w.user).await
        {
            continue;
        }
        let id = disposition_id(&w.call_id, &w.user, w.lead_id);
        let req = DispositionRequest {
            id: id.clone(),
            lead_id: w.lead_id,
            status: deadline.status.clone(),
            callback: None,
            notes: format!(
                "Automatic disposition: no disposition {} s after the call and the agent's tab was closed.",
                deadline.secs
            ),
        };
        match state.outbox().accept(&w.user, Some(&campaign), &req).await {
            Ok(_) => {}
            Err(e) => {
                tracing::error!(user = %w.user, lead_id = w.lead_id, error = %e, status = %deadline.status,
                    "cannot apply the campaign's fallback status; is it a selectable status of the campaign?");
                continue;
            }
        }
        let sql = format!(
            "{} INTO wrapup_expired (disposition_id, user, lead_id, campaign_id, status, deadline_secs, ended_at, expired_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            crate::store::dialect(state.store()).insert_ignore()
        );
        sqlx::query(&sql)
            .bind(&id)
            .bind(&w.user)
            .bind(w.lead_id)
            .bind(&campaign)
            .bind(&deadline.status)
            .bind(deadline.secs as i64)
            .bind(w.ended_at)
            .bind(now)
            .execute(state.store())
            .await?;
        // Pause the agent so VICIdial sends no more calls to an empty seat. In manual-dial
        // campaigns the agent is already paused between calls; then this changes nothing.
        if let Err(e) = v.api.external_pause(&w.user, false).await {
            tracing::warn!(user = %w.user, error = %e, "could not pause the agent after the wrap-up deadline");
        }
        tracing::warn!(user = %w.user, lead_id = w.lead_id, status = %deadline.status, "wrap-up deadline passed with the tab closed: fallback status applied");
        v.live.touch(&w.user);
        applied += 1;
    }
    Ok(applied)
}

/// An expired wrap-up as admins see it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct ExpiredWrapup {
    /// The automatic disposition's id.
    pub disposition_id: String,
    /// Agent.
    pub user: String,
    /// Lead.
    pub lead_id: i64,
    /// Campaign.
    pub campaign_id: String,
    /// Fallback status applied.
    pub status: String,
    /// The deadline in seconds.
    pub deadline_secs: i64,
    /// When the call ended (unix seconds).
    pub ended_at: i64,
    /// When the fallback was applied (unix seconds).
    pub expired_at: i64,
}

/// The most recent expired wrap-ups.
pub async fn recent(store: &crate::store::Store, limit: i64) -> anyhow::Result<Vec<ExpiredWrapup>> {
    Ok(sqlx::query_as::<_, ExpiredWrapup>(
        "SELECT disposition_id, user, lead_id, campaign_id, status, deadline_secs, ended_at, expired_at \
         FROM wrapup_expired ORDER BY expired_at DESC LIMIT ?",
    )
    .bind(limit)
    .fetch_all(store)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_disposition_ids_are_valid_keys() {
        assert_eq!(
            disposition_id("M1125024600000000008", "1001", 8),
            "M1125024600000000008"
        );
        let id = disposition_id("weird id!", "1001", 8);
        assert!(id.starts_with("auto-1001-8-weirdid"), "{id}");
        assert!(id.len() <= 64);
    }
}
