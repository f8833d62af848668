//! Outbox workers: claim a batch of due jobs, apply each to its target, record the outcomes.
//!
//! A worker's apply is bounded by half its lease, so a slow upstream cannot keep a job past the
//! lease and have it applied twice at once; a worker that dies leaves its lease to expire and
//! another takes the job over. Retryable failures back off exponentially with full jitter
//! (never sooner than the upstream's own `retry_after`); permanent failures, and jobs out of
//! attempts, are parked with their reason for an admin.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use tokio::task::JoinHandle;

use dialdeck_shared::DispositionAccepted;

use super::{store, Outbox};
use crate::disposition::{ApplyError, Disposition};

impl Outbox {
    /// Starts the configured number of workers. They run until the runtime stops.
    pub fn start_workers(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        let mut tasks: Vec<JoinHandle<()>> = (0..self.args.workers)
            .map(|i| {
                let outbox = Arc::clone(self);
                let owner = format!("{}-{}-{i}", std::process::id(), random_u64() % 1_000_000);
                tokio::spawn(async move { outbox.work(owner).await })
            })
            .collect();
        if crate::store::dialect(&self.store) == crate::store::Dialect::MySql {
            let outbox = Arc::clone(self);
            tasks.push(tokio::spawn(
                async move { outbox.follow_shared_store().await },
            ));
        }
        tasks
    }

    /// On a shared store the workers of other instances change jobs too: follow `updated_at`
    /// and publish those changes to this instance's event streams, so an agent sees every
    /// target's state whichever instance applied it.
    async fn follow_shared_store(self: Arc<Self>) {
        // Instances' clocks differ a little: look back further than one poll, and publish a
        // disposition only when its state differs from what this feed last published.
        const LOOK_BACK_MS: i64 = 5_000;
        let mut published: std::collections::HashMap<String, (DispositionAccepted, i64)> =
            std::collections::HashMap::new();
        let mut interval = tokio::time::interval(Duration::from_millis(400));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let now = now_ms();
            // Nobody follows anything on this instance: nothing to read.
            if self.events.receiver_count() == 0 {
                published.clear();
                continue;
            }
            let changed = match store::recently_changed(&self.worker_store, now - LOOK_BACK_MS)
                .await
            {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox: cannot read changes from the shared store");
                    continue;
                }
            };
            // Rows come ordered by disposition: one state per run of rows.
            let mut rows = changed.into_iter().peekable();
            while let Some(first) = rows.next() {
                let id = first.job.disposition_id.clone();
                let mut targets = vec![first.job.status()];
                while let Some(row) = rows.next_if(|r| r.job.disposition_id == id) {
                    targets.push(row.job.status());
                }
                let (agent, client_id) = (first.agent_user, first.client_id);
                let state = DispositionAccepted {
                    id: client_id,
                    targets,
                };
                if published.get(&id).is_some_and(|(last, _)| *last == state) {
                    continue;
                }
                published.insert(id, (state.clone(), now));
                self.publish(&agent, state);
            }
            published.retain(|_, (_, at)| now - *at < 4 * LOOK_BACK_MS);
        }
    }

    async fn work(self: Arc<Self>, owner: String) {
        loop {
            match self.run_once(&owner).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(err) => tracing::warn!(error = %err, "outbox worker: store error"),
            }
            // Nothing due: sleep until woken by a new disposition or the next poll.
            let _ = tokio::time::timeout(Duration::from_millis(250), self.wake.notified()).await;
        }
    }

    /// Claims a batch of due jobs (up to [`OutboxArgs::claim_batch`](super::OutboxArgs), one
    /// claim round) and processes them; `Ok(false)` when none was due.
    ///
    /// The batch's jobs are applied concurrently, each bounded by half the lease: they were
    /// claimed together, so none waits for another and outlives its lease. Their outcomes are
    /// recorded in one transaction.
    pub async fn run_once(&self, owner: &str) -> anyhow::Result<bool> {
        let lease_ms = (self.args.lease_secs * 1000) as i64;
        let claimed = {
            let _turn = self.write_turn().await;
            store::claim_batch(
                &self.worker_store,
                owner,
                now_ms(),
                lease_ms,
                self.args.claim_batch,
            )
            .await?
        };
        if claimed.is_empty() {
            return Ok(false);
        }
        let ids: Vec<&str> = claimed.iter().map(|j| j.disposition_id.as_str()).collect();
        let rows = store::dispositions(&self.worker_store, &ids).await?;
        let budget = Duration::from_millis((lease_ms / 2) as u64);
        let outcomes = futures_util::future::join_all(
            claimed
                .iter()
                .map(|job| self.apply(job, rows.get(&job.disposition_id), budget)),
        )
        .await;
        let finished: Vec<(i64, store::Finish)> = claimed
            .iter()
            .zip(outcomes)
            .map(|(job, outcome)| (job.id, self.finish(job, outcome)))
            .collect();
        let kept = {
            let _turn = self.write_turn().await;
            store::finish_batch(&self.worker_store, owner, &finished, now_ms()).await?
        };
        for (job, kept) in claimed.iter().zip(kept) {
            if !kept {
                tracing::warn!(disposition = %job.disposition_id, target = %job.target, "lease lost; another worker owns the job");
            }
        }
        // Nobody following on this instance: the state is in the store, nothing to read.
        if self.events.receiver_count() > 0 {
            let mut published = std::collections::HashSet::new();
            for job in &claimed {
                let Some((agent, client_id, _)) = rows.get(&job.disposition_id) else {
                    continue;
                };
                if !published.insert(job.disposition_id.as_str()) {
                    continue;
                }
                if let Ok(state) = self.state_of(&job.disposition_id, client_id).await {
                    self.publish(agent, state);
                }
            }
        }
        Ok(true)
    }

    /// Applies one claimed job to its target within `budget`.
    async fn apply(
        &self,
        job: &store::Job,
        row: Option<&(String, String, String)>,
        budget: Duration,
    ) -> Result<serde_json::Value, ApplyError> {
        let target =
            self.targets
                .get(job.target.as_str())
                .ok_or_else(|| ApplyError::Permanent {
                    reason: format!("target {:?} is not configured on this server", job.target),
                })?;
        let (_, _, payload) = row.ok_or_else(|| ApplyError::Permanent {
            reason: "the disposition row is missing".into(),
        })?;
        let disposition =
            serde_json::from_str::<Disposition>(payload).map_err(|e| ApplyError::Permanent {
                reason: format!("stored disposition unreadable: {e}"),
            })?;
        match tokio::time::timeout(budget, target.apply(&disposition)).await {
            Ok(result) => result,
            Err(_) => Err(ApplyError::Retryable {
                reason: format!(
                    "{} did not answer within {} s",
                    job.target,
                    budget.as_secs()
                ),
                retry_after: None,
            }),
        }
    }

    /// What to record for a job's outcome: done, retried after a backoff, or parked.
    fn finish(
        &self,
        job: &store::Job,
        outcome: Result<serde_json::Value, ApplyError>,
    ) -> store::Finish {
        match outcome {
            Ok(receipt) => {
                tracing::info!(disposition = %job.disposition_id, target = %job.target, "applied");
                store::Finish::Done {
                    receipt: receipt.to_string(),
                }
            }
            Err(ApplyError::Permanent { reason }) => {
                tracing::warn!(disposition = %job.disposition_id, target = %job.target, %reason, "parked");
                store::Finish::Failed {
                    reason,
                    park: true,
                    next_ms: 0,
                }
            }
            Err(ApplyError::Retryable {
                reason,
                retry_after,
            }) => {
                let attempts = job.attempts.max(1) as u32;
                let out_of_attempts = attempts >= self.args.max_attempts;
                let delay = backoff(&self.args, attempts, retry_after);
                tracing::info!(disposition = %job.disposition_id, target = %job.target, %reason, attempts, ?delay, "will retry");
                let reason = if out_of_attempts {
                    format!("gave up after {attempts} attempts: {reason}")
                } else {
                    reason
                };
                store::Finish::Failed {
                    reason,
                    park: out_of_attempts,
                    next_ms: now_ms() + delay.as_millis() as i64,
                }
            }
        }
    }
}

/// Exponential backoff with full jitter, capped, and never sooner than `retry_after`.
pub fn backoff(args: &super::OutboxArgs, attempts: u32, retry_after: Option<Duration>) -> Duration {
    let cap = Duration::from_secs(args.backoff_max_secs);
    let exp = Duration::from_millis(args.backoff_base_ms)
        .saturating_mul(
            1u32.checked_shl(attempts.saturating_sub(1).min(30))
                .unwrap_or(u32::MAX),
        )
        .min(cap);
    let jittered = Duration::from_millis(random_u64() % (exp.as_millis() as u64 + 1));
    jittered
        .max(retry_after.unwrap_or_default())
        .min(cap.max(retry_after.unwrap_or_default()))
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_jittered_and_honours_retry_after() {
        let args = super::super::OutboxArgs {
            backoff_base_ms: 100,
            backoff_max_secs: 2,
            ..Default::default()
        };
        for attempts in 1..40 {
            let d = backoff(&args, attempts, None);
            assert!(d <= Duration::from_secs(2), "{attempts}: {d:?}");
            assert!(d <= Duration::from_millis(100 * (1u64 << (attempts - 1).min(20))));
        }
        let d = backoff(&args, 1, Some(Duration::from_secs(7)));
        assert_eq!(
            d,
            Duration::from_secs(7),
            "a 429's Retry-After wins over the cap"
        );
        let spread: std::collections::BTreeSet<_> =
            (0..50).map(|_| backoff(&args, 6, None)).collect();
        assert!(spread.len() > 10, "jittered: {spread:?}");
    }
}
