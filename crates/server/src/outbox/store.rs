//! The outbox tables: accepting a disposition with its jobs in one transaction, and claiming,
//! finishing, retrying and parking jobs under leases.
//!
//! Claiming is one `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING …` statement: SQLite runs
//! every write statement alone (one writer at a time, WAL), which gives the effect of
//! `FOR UPDATE SKIP LOCKED`: two workers never claim the same job, and a job whose lease expired
//! (its worker died) is claimable again. Every later update names the lease owner, so a worker
//! that lost its lease cannot overwrite the new owner's result.

use dialdeck_shared::{TargetState, TargetStatus};
use serde::Serialize;
use sqlx::{Sqlite, SqlitePool, Transaction};

/// A job row.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, Serialize)]
pub struct Job {
    /// Row id.
    pub id: i64,
    /// The disposition's idempotency key.
    pub disposition_id: String,
    /// Target name (`vicidial`, `ghl`).
    pub target: String,
    /// `pending`, `running`, `done`, `retrying` or `parked`.
    pub state: String,
    /// Attempts started so far.
    pub attempts: i64,
    /// Unix ms before which it is not tried again.
    pub next_attempt_at: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

impl Job {
    /// The state as the API reports it.
    pub fn status(&self) -> TargetStatus {
        TargetStatus {
            target: self.target.clone(),
            state: match self.state.as_str() {
                "done" => TargetState::Done,
                "running" => TargetState::Running,
                "retrying" => TargetState::Retrying,
                "parked" => TargetState::Failed,
                _ => TargetState::Pending,
            },
            attempts: self.attempts.max(0) as u32,
            last_error: self.last_error.clone(),
        }
    }
}

/// What happened when a disposition was offered.
#[derive(Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Stored now, with its jobs.
    New,
    /// The same request was stored before: nothing changed.
    Replay,
    /// The key was used before for a different request.
    KeyReused,
}

const JOB_COLUMNS: &str =
    "id, disposition_id, target, state, attempts, next_attempt_at, last_error";

/// A disposition row about to be stored.
pub struct NewDisposition<'a> {
    /// Idempotency key.
    pub id: &'a str,
    /// Owner.
    pub agent_user: &'a str,
    /// The lead.
    pub lead_id: i64,
    /// SHA-256 of the request.
    pub request_hash: &'a str,
    /// JSON of the `Disposition`.
    pub payload: &'a str,
    /// Unix milliseconds.
    pub now_ms: i64,
}

/// Inserts the disposition and one pending job per target inside `tx`, unless the key exists.
pub async fn insert(
    tx: &mut Transaction<'_, Sqlite>,
    new: &NewDisposition<'_>,
    targets: &[&str],
) -> anyhow::Result<Accepted> {
    let NewDisposition {
        id,
        agent_user,
        lead_id,
        request_hash,
        payload,
        now_ms,
    } = *new;
    let inserted = sqlx::query(
        "INSERT INTO dispositions (id, agent_user, lead_id, request_hash, payload, accepted_at) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
    )
    .bind(id)
    .bind(agent_user)
    .bind(lead_id)
    .bind(request_hash)
    .bind(payload)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 0 {
        let (hash, owner): (String, String) =
            sqlx::query_as("SELECT request_hash, agent_user FROM dispositions WHERE id = ?")
                .bind(id)
                .fetch_one(&mut **tx)
                .await?;
        return Ok(if hash == request_hash && owner == agent_user {
            Accepted::Replay
        } else {
            Accepted::KeyReused
        });
    }
    for target in targets {
        sqlx::query(
            "INSERT INTO outbox_jobs (disposition_id, target, state, next_attempt_at, updated_at) \
             VALUES (?, ?, 'pending', ?, ?)",
        )
        .bind(id)
        .bind(target)
        .bind(now_ms)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
    }
    Ok(Accepted::New)
}

/// The jobs of one disposition, by target name.
pub async fn jobs_of(store: &SqlitePool, disposition_id: &str) -> anyhow::Result<Vec<Job>> {
    Ok(sqlx::query_as::<_, Job>(&format!(
        "SELECT {JOB_COLUMNS} FROM outbox_jobs WHERE disposition_id = ? ORDER BY target"
    ))
    .bind(disposition_id)
    .fetch_all(store)
    .await?)
}

/// The owner and payload of a disposition.
pub async fn disposition(store: &SqlitePool, id: &str) -> anyhow::Result<Option<(String, String)>> {
    Ok(
        sqlx::query_as("SELECT agent_user, payload FROM dispositions WHERE id = ?")
            .bind(id)
            .fetch_optional(store)
            .await?,
    )
}

/// Claims the next due job (or one whose lease expired) for `owner` until `now + lease`.
///
/// Two index-friendly candidates (due pending/retrying first, then an expired lease) rather than
/// one `OR`, so a claim stays cheap with a large backlog.
pub async fn claim(
    store: &SqlitePool,
    owner: &str,
    now_ms: i64,
    lease_ms: i64,
) -> anyhow::Result<Option<Job>> {
    const CANDIDATES: [&str; 3] = [
        "SELECT id FROM outbox_jobs WHERE state = 'pending' AND next_attempt_at <= ?3 ORDER BY next_attempt_at LIMIT 1",
        "SELECT id FROM outbox_jobs WHERE state = 'retrying' AND next_attempt_at <= ?3 ORDER BY next_attempt_at LIMIT 1",
        "SELECT id FROM outbox_jobs WHERE state = 'running' AND lease_expires_at < ?3 ORDER BY lease_expires_at LIMIT 1",
    ];
    for candidate in CANDIDATES {
        // The state test is repeated in the UPDATE: if another worker took the row between the
        // sub-select and the update (impossible within one SQLite statement, but cheap to
        // state), nothing is claimed twice.
        let job = sqlx::query_as::<_, Job>(&format!(
            "UPDATE outbox_jobs SET state = 'running', lease_owner = ?1, lease_expires_at = ?2, \
             attempts = attempts + 1, updated_at = ?3 \
             WHERE id = ({candidate}) \
               AND ((state IN ('pending', 'retrying') AND next_attempt_at <= ?3) \
                    OR (state = 'running' AND lease_expires_at < ?3)) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(owner)
        .bind(now_ms + lease_ms)
        .bind(now_ms)
        .fetch_optional(store)
        .await?;
        if job.is_some() {
            return Ok(job);
        }
    }
    Ok(None)
}

/// Marks a claimed job done with the target's receipt. `false` if the lease was lost.
pub async fn complete(
    store: &SqlitePool,
    job: i64,
    owner: &str,
    receipt: &str,
    now_ms: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox_jobs SET state = 'done', receipt = ?, last_error = NULL, lease_owner = NULL, \
         lease_expires_at = NULL, updated_at = ? WHERE id = ? AND lease_owner = ? AND state = 'running'",
    )
    .bind(receipt)
    .bind(now_ms)
    .bind(job)
    .bind(owner)
    .execute(store)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Schedules a claimed job again at `next_ms` (or parks it when `park`). `false` if the lease
/// was lost.
pub async fn fail(
    store: &SqlitePool,
    job: i64,
    owner: &str,
    reason: &str,
    park: bool,
    next_ms: i64,
    now_ms: i64,
) -> anyhow::Result<bool> {
    let state = if park { "parked" } else { "retrying" };
    let done = sqlx::query(
        "UPDATE outbox_jobs SET state = ?, last_error = ?, next_attempt_at = ?, lease_owner = NULL, \
         lease_expires_at = NULL, updated_at = ? WHERE id = ? AND lease_owner = ? AND state = 'running'",
    )
    .bind(state)
    .bind(reason)
    .bind(next_ms)
    .bind(now_ms)
    .bind(job)
    .bind(owner)
    .execute(store)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Admin: make a parked or retrying job due now. Returns the job, or `None` if it is not in a
/// state that can be retried.
pub async fn admin_retry(store: &SqlitePool, job: i64, now_ms: i64) -> anyhow::Result<Option<Job>> {
    Ok(sqlx::query_as::<_, Job>(&format!(
        "UPDATE outbox_jobs SET state = 'pending', next_attempt_at = ?1, updated_at = ?1 \
         WHERE id = ?2 AND state IN ('parked', 'retrying') RETURNING {JOB_COLUMNS}"
    ))
    .bind(now_ms)
    .bind(job)
    .fetch_optional(store)
    .await?)
}

/// Admin: park a job that is not done, with a reason.
pub async fn admin_park(
    store: &SqlitePool,
    job: i64,
    reason: &str,
    now_ms: i64,
) -> anyhow::Result<Option<Job>> {
    Ok(sqlx::query_as::<_, Job>(&format!(
        "UPDATE outbox_jobs SET state = 'parked', last_error = ?1, lease_owner = NULL, \
         lease_expires_at = NULL, updated_at = ?2 WHERE id = ?3 AND state != 'done' \
         RETURNING {JOB_COLUMNS}"
    ))
    .bind(reason)
    .bind(now_ms)
    .bind(job)
    .fetch_optional(store)
    .await?)
}

/// Admin: job counts per target and state.
pub async fn backlog(store: &SqlitePool) -> anyhow::Result<Vec<(String, String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT target, state, COUNT(*) FROM outbox_jobs GROUP BY target, state ORDER BY target, state",
    )
    .fetch_all(store)
    .await?)
}

/// Admin: jobs that are parked or retrying, oldest first.
pub async fn failures(store: &SqlitePool, limit: i64) -> anyhow::Result<Vec<Job>> {
    Ok(sqlx::query_as::<_, Job>(&format!(
        "SELECT {JOB_COLUMNS} FROM outbox_jobs WHERE state IN ('parked', 'retrying') \
         ORDER BY updated_at LIMIT ?"
    ))
    .bind(limit)
    .fetch_all(store)
    .await?)
}

/// The job by id.
pub async fn job(store: &SqlitePool, id: i64) -> anyhow::Result<Option<Job>> {
    Ok(sqlx::query_as::<_, Job>(&format!(
        "SELECT {JOB_COLUMNS} FROM outbox_jobs WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(store)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new<'a>(agent_user: &'a str, request_hash: &'a str, now_ms: i64) -> NewDisposition<'a> {
        NewDisposition {
            id: "call-1",
            agent_user,
            lead_id: 42,
            request_hash,
            payload: "{}",
            now_ms,
        }
    }

    async fn store_with_one(targets: &[&str]) -> (tempfile::TempDir, SqlitePool) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::open(dir.path()).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let r = insert(&mut tx, &new("1001", "h1", 1_000), targets)
            .await
            .unwrap();
        assert_eq!(r, Accepted::New);
        tx.commit().await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn same_key_is_a_replay_or_a_reuse() {
        let (_d, store) = store_with_one(&["ghl", "vicidial"]).await;
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            insert(&mut tx, &new("1001", "h1", 2_000), &["ghl"])
                .await
                .unwrap(),
            Accepted::Replay
        );
        assert_eq!(
            insert(&mut tx, &new("1001", "h2", 2_000), &["ghl"])
                .await
                .unwrap(),
            Accepted::KeyReused
        );
        assert_eq!(
            insert(&mut tx, &new("1002", "h1", 2_000), &["ghl"])
                .await
                .unwrap(),
            Accepted::KeyReused
        );
        tx.commit().await.unwrap();
        assert_eq!(jobs_of(&store, "call-1").await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_claim_is_exclusive_until_its_lease_expires() {
        let (_d, store) = store_with_one(&["ghl"]).await;
        let job = claim(&store, "w1", 1_000, 5_000).await.unwrap().unwrap();
        assert_eq!((job.state.as_str(), job.attempts), ("running", 1));
        assert!(claim(&store, "w2", 2_000, 5_000).await.unwrap().is_none());
        // w1 dies; after its lease another worker takes the job over.
        let again = claim(&store, "w2", 6_001, 5_000).await.unwrap().unwrap();
        assert_eq!((again.id, again.attempts), (job.id, 2));
        // The dead worker's late result cannot overwrite the new owner's.
        assert!(!complete(&store, job.id, "w1", "{}", 6_500).await.unwrap());
        assert!(complete(&store, job.id, "w2", "{\"ok\":1}", 6_500)
            .await
            .unwrap());
        assert_eq!(jobs_of(&store, "call-1").await.unwrap()[0].state, "done");
        assert!(claim(&store, "w3", 99_000, 5_000).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn retry_waits_for_its_time_and_park_stops_it() {
        let (_d, store) = store_with_one(&["ghl"]).await;
        let job = claim(&store, "w1", 1_000, 5_000).await.unwrap().unwrap();
        assert!(fail(&store, job.id, "w1", "HTTP 503", false, 3_000, 1_100)
            .await
            .unwrap());
        assert!(claim(&store, "w1", 2_999, 5_000).await.unwrap().is_none());
        let job = claim(&store, "w1", 3_000, 5_000).await.unwrap().unwrap();
        assert!(fail(&store, job.id, "w1", "invalid lead", true, 0, 3_100)
            .await
            .unwrap());
        assert!(claim(&store, "w1", 1_000_000, 5_000)
            .await
            .unwrap()
            .is_none());
        let failed = failures(&store, 10).await.unwrap();
        assert_eq!(failed[0].last_error.as_deref(), Some("invalid lead"));
        assert_eq!(failed[0].status().state, TargetState::Failed);
        assert!(admin_retry(&store, job.id, 5_000).await.unwrap().is_some());
        assert!(claim(&store, "w1", 5_000, 5_000).await.unwrap().is_some());
    }
}
