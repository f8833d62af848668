//! The outbox tables: accepting a disposition with its jobs in one transaction, and claiming,
//! finishing, retrying and parking jobs under leases.
//!
//! On SQLite a claim is one `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING …` statement:
//! SQLite runs every write statement alone (one writer at a time, WAL), which gives the effect
//! of `FOR UPDATE SKIP LOCKED`. On a shared MariaDB, where workers of several instances claim
//! at once, it is a short transaction: `SELECT … FOR UPDATE SKIP LOCKED` (a row another worker
//! is claiming is skipped, not waited for), then the `UPDATE`. Either way two workers never
//! claim the same job, and a job whose lease expired (its worker died) is claimable again.
//! Every later update names the lease owner, so a worker that lost its lease cannot overwrite
//! the new owner's result.

use dialdeck_shared::{TargetState, TargetStatus};
use serde::Serialize;
use sqlx::{Any, FromRow, Row, Transaction};

use crate::store::{dialect, Dialect, Store};

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
            // Rounded up: "retrying in N s" never reaches 0 before the attempt is due.
            next_attempt_at: (self.state == "retrying")
                .then_some((self.next_attempt_at + 999).div_euclid(1000)),
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
    /// The agent used the key before for a different request.
    KeyReused,
    /// The agent's call already has a disposition (under another key): the one stored.
    AlreadyDispositioned {
        /// The client's key of the disposition the call has.
        client_id: String,
    },
}

const JOB_COLUMNS: &str =
    "id, disposition_id, target, state, attempts, next_attempt_at, last_error";
/// [`JOB_COLUMNS`] of `outbox_jobs j` in a join.
const J_JOB_COLUMNS: &str =
    "j.id, j.disposition_id, j.target, j.state, j.attempts, j.next_attempt_at, j.last_error";

/// A disposition row about to be stored.
pub struct NewDisposition<'a> {
    /// dialdeck's id ([`disposition_id`] of the agent and the client's key).
    pub id: &'a str,
    /// The client's idempotency key, unique per agent.
    pub client_id: &'a str,
    /// Owner.
    pub agent_user: &'a str,
    /// The lead.
    pub lead_id: i64,
    /// The call it is for (VICIdial's call id); `None` when the server knew no call, which no
    /// constraint can then hold to one disposition.
    pub call_key: Option<&'a str>,
    /// SHA-256 of the request.
    pub request_hash: &'a str,
    /// JSON of the `Disposition`.
    pub payload: &'a str,
    /// Unix milliseconds.
    pub now_ms: i64,
}

/// dialdeck's id of the disposition an agent submits under `client_id`: the first 40 hex
/// digits of SHA-256(agent, client key). Deterministic, so two instances racing to store the
/// same submission collide on the primary key; distinct per agent, so one agent's key never
/// names another agent's disposition.
pub fn disposition_id(agent_user: &str, client_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(agent_user.as_bytes());
    h.update([0u8]);
    h.update(client_id.as_bytes());
    h.finalize()
        .iter()
        .take(20)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Inserts the disposition and one pending job per target inside `tx`, unless the agent's key
/// exists (a replay, or a reused key) or the agent's call already has a disposition: the
/// store's unique keys decide, so racing submissions through several instances agree.
pub async fn insert(
    dialect: Dialect,
    tx: &mut Transaction<'_, Any>,
    new: &NewDisposition<'_>,
    targets: &[&str],
) -> anyhow::Result<Accepted> {
    let NewDisposition {
        id,
        client_id,
        agent_user,
        lead_id,
        call_key,
        request_hash,
        payload,
        now_ms,
    } = *new;
    let sql = format!(
        "{} INTO dispositions (id, client_id, agent_user, lead_id, call_key, request_hash, payload, accepted_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        dialect.insert_ignore()
    );
    let inserted = sqlx::query(&sql)
        .bind(id)
        .bind(client_id)
        .bind(agent_user)
        .bind(lead_id)
        .bind(call_key)
        .bind(request_hash)
        .bind(payload)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
    if inserted.rows_affected() == 0 {
        let same_key: Option<(String,)> = sqlx::query_as(
            "SELECT request_hash FROM dispositions WHERE agent_user = ? AND client_id = ?",
        )
        .bind(agent_user)
        .bind(client_id)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some((hash,)) = same_key {
            return Ok(if hash == request_hash {
                Accepted::Replay
            } else {
                Accepted::KeyReused
            });
        }
        let same_call: Option<(String,)> = sqlx::query_as(
            "SELECT client_id FROM dispositions WHERE agent_user = ? AND lead_id = ? AND call_key = ?",
        )
        .bind(agent_user)
        .bind(lead_id)
        .bind(call_key)
        .fetch_optional(&mut **tx)
        .await?;
        return match same_call {
            Some((client_id,)) => Ok(Accepted::AlreadyDispositioned { client_id }),
            // Only the id is left: the same agent and key under another id cannot exist.
            None => anyhow::bail!("disposition {id} exists under another agent or key"),
        };
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

/// A stored disposition's keys.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Stored {
    /// dialdeck's id.
    pub id: String,
    /// The client's key.
    pub client_id: String,
    /// The owner.
    pub agent_user: String,
    /// SHA-256 of the request.
    pub request_hash: String,
}

/// The disposition `agent_user` submitted under `client_id`, if any.
pub async fn find(
    store: &Store,
    agent_user: &str,
    client_id: &str,
) -> anyhow::Result<Option<Stored>> {
    Ok(sqlx::query_as::<_, Stored>(
        "SELECT id, client_id, agent_user, request_hash FROM dispositions \
         WHERE agent_user = ? AND client_id = ?",
    )
    .bind(agent_user)
    .bind(client_id)
    .fetch_optional(store)
    .await?)
}

/// The disposition with dialdeck's id `id`, if any.
pub async fn by_id(store: &Store, id: &str) -> anyhow::Result<Option<Stored>> {
    Ok(sqlx::query_as::<_, Stored>(
        "SELECT id, client_id, agent_user, request_hash FROM dispositions WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(store)
    .await?)
}

/// The jobs of one disposition, by target name.
pub async fn jobs_of(store: &Store, disposition_id: &str) -> anyhow::Result<Vec<Job>> {
    Ok(sqlx::query_as::<_, Job>(&format!(
        "SELECT {JOB_COLUMNS} FROM outbox_jobs WHERE disposition_id = ? ORDER BY target"
    ))
    .bind(disposition_id)
    .fetch_all(store)
    .await?)
}

/// A job with its disposition's owner and client key, as event streams report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedJob {
    /// The disposition's owner.
    pub agent_user: String,
    /// The client's key of the disposition.
    pub client_id: String,
    /// The job.
    pub job: Job,
}

fn owned_job(r: &sqlx::any::AnyRow) -> anyhow::Result<OwnedJob> {
    Ok(OwnedJob {
        agent_user: r.try_get("agent_user")?,
        client_id: r.try_get("client_id")?,
        job: Job::from_row(r)?,
    })
}

/// Every job of the dispositions that have a job changed since `since_ms`, with the
/// disposition's owner, ordered by disposition and target (one query, however many changed).
pub async fn recently_changed(store: &Store, since_ms: i64) -> anyhow::Result<Vec<OwnedJob>> {
    let rows = sqlx::query(&format!(
        "SELECT d.agent_user, d.client_id, {J_JOB_COLUMNS} FROM outbox_jobs j \
         JOIN dispositions d ON d.id = j.disposition_id \
         WHERE j.disposition_id IN (SELECT disposition_id FROM outbox_jobs WHERE updated_at >= ?) \
         ORDER BY j.disposition_id, j.target"
    ))
    .bind(since_ms)
    .fetch_all(store)
    .await?;
    rows.iter().map(owned_job).collect()
}

/// A disposition of an agent's shift: its row and its jobs.
#[derive(Clone, Debug)]
pub struct ShiftDisposition {
    /// The client's key.
    pub client_id: String,
    /// JSON of the accepted `Disposition`.
    pub payload: String,
    /// Unix milliseconds.
    pub accepted_at: i64,
    /// Its jobs, by target name.
    pub jobs: Vec<Job>,
}

/// `agent_user`'s dispositions accepted since `since_ms`, newest first, with their jobs (two
/// queries, however many there are), at most `limit`.
pub async fn of_agent_since(
    store: &Store,
    agent_user: &str,
    since_ms: i64,
    limit: i64,
) -> anyhow::Result<Vec<ShiftDisposition>> {
    let rows = sqlx::query(
        "SELECT id, client_id, payload, accepted_at FROM dispositions \
         WHERE agent_user = ? AND accepted_at >= ? ORDER BY accepted_at DESC, id LIMIT ?",
    )
    .bind(agent_user)
    .bind(since_ms)
    .bind(limit)
    .fetch_all(store)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    for r in &rows {
        ids.push(r.try_get::<String, _>("id")?);
        out.push(ShiftDisposition {
            client_id: r.try_get("client_id")?,
            payload: crate::store::text(r, 2)?,
            accepted_at: r.try_get("accepted_at")?,
            jobs: Vec::new(),
        });
    }
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM outbox_jobs WHERE disposition_id IN ({}) ORDER BY disposition_id, target",
        vec!["?"; ids.len()].join(", ")
    );
    let mut query = sqlx::query_as::<_, Job>(&sql);
    for id in &ids {
        query = query.bind(id);
    }
    let mut by_id: std::collections::HashMap<String, Vec<Job>> = Default::default();
    for job in query.fetch_all(store).await? {
        by_id
            .entry(job.disposition_id.clone())
            .or_default()
            .push(job);
    }
    for (d, id) in out.iter_mut().zip(&ids) {
        d.jobs = by_id.remove(id).unwrap_or_default();
    }
    Ok(out)
}

/// The owner, the client's key and the payload of the disposition with dialdeck's id `id`.
pub async fn disposition(
    store: &Store,
    id: &str,
) -> anyhow::Result<Option<(String, String, String)>> {
    let row = sqlx::query("SELECT agent_user, client_id, payload FROM dispositions WHERE id = ?")
        .bind(id)
        .fetch_optional(store)
        .await?;
    Ok(match row {
        Some(row) => Some((
            row.try_get(0)?,
            row.try_get(1)?,
            crate::store::text(&row, 2)?,
        )),
        None => None,
    })
}

/// The owner, the client's key and the payload of each disposition among `ids` that exists,
/// by dialdeck's id (one query, however many).
pub async fn dispositions(
    store: &Store,
    ids: &[&str],
) -> anyhow::Result<std::collections::HashMap<String, (String, String, String)>> {
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT id, agent_user, client_id, payload FROM dispositions WHERE id IN ({})",
        vec!["?"; ids.len()].join(", ")
    );
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    for row in query.fetch_all(store).await? {
        out.insert(
            row.try_get(0)?,
            (
                row.try_get(1)?,
                row.try_get(2)?,
                crate::store::text(&row, 3)?,
            ),
        );
    }
    Ok(out)
}

/// Longest failure reason kept (the column's width on MariaDB).
const REASON_MAX_CHARS: usize = 2000;

fn clip(reason: &str) -> &str {
    match reason.char_indices().nth(REASON_MAX_CHARS) {
        Some((i, _)) => &reason[..i],
        None => reason,
    }
}

/// Claims the next due job (or one whose lease expired) for `owner` until `now + lease`:
/// [`claim_batch`] of one.
pub async fn claim(
    store: &Store,
    owner: &str,
    now_ms: i64,
    lease_ms: i64,
) -> anyhow::Result<Option<Job>> {
    Ok(claim_batch(store, owner, now_ms, lease_ms, 1)
        .await?
        .into_iter()
        .next())
}

/// Claims up to `limit` due jobs (or jobs whose lease expired) for `owner` until
/// `now + lease`, in one round: on SQLite one `UPDATE … RETURNING` statement, on MariaDB one
/// short transaction (`SELECT … FOR UPDATE SKIP LOCKED`, one `UPDATE` of every row it locked,
/// one `SELECT` of them). Due pending jobs come first, then due retries, then expired leases,
/// each oldest first; the jobs are returned by id.
///
/// Three index-friendly candidates (due pending, due retrying, then an expired lease) rather
/// than one `OR`, so a claim stays cheap with a large backlog.
pub async fn claim_batch(
    store: &Store,
    owner: &str,
    now_ms: i64,
    lease_ms: i64,
    limit: usize,
) -> anyhow::Result<Vec<Job>> {
    const CANDIDATES: [&str; 3] = [
        "SELECT id FROM outbox_jobs WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
        "SELECT id FROM outbox_jobs WHERE state = 'retrying' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
        "SELECT id FROM outbox_jobs WHERE state = 'running' AND lease_expires_at < ? ORDER BY lease_expires_at LIMIT ?",
    ];
    // Still claimable: repeated in every UPDATE, so a row is never claimed twice.
    const CLAIMABLE: &str = "((state IN ('pending', 'retrying') AND next_attempt_at <= ?) \
                              OR (state = 'running' AND lease_expires_at < ?))";
    const SET_RUNNING: &str = "UPDATE outbox_jobs SET state = 'running', lease_owner = ?, \
                               lease_expires_at = ?, attempts = attempts + 1, updated_at = ?";
    if limit == 0 {
        return Ok(Vec::new());
    }
    let limit = limit as i64;
    let mut jobs = match dialect(store) {
        Dialect::Sqlite => {
            // One statement: SQLite runs it alone, which is what SKIP LOCKED gives MariaDB.
            // Each candidate keeps its own ORDER BY and LIMIT (and its index) inside a
            // sub-select; the outer LIMIT keeps the batch to `limit`, earlier kinds first.
            let union = CANDIDATES
                .iter()
                .map(|c| format!("SELECT id FROM ({c})"))
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            let sql = format!(
                "{SET_RUNNING} WHERE id IN ({union} LIMIT ?) AND {CLAIMABLE} RETURNING {JOB_COLUMNS}"
            );
            let mut query = sqlx::query_as::<_, Job>(&sql)
                .bind(owner)
                .bind(now_ms + lease_ms)
                .bind(now_ms);
            for _ in CANDIDATES {
                query = query.bind(now_ms).bind(limit);
            }
            query
                .bind(limit)
                .bind(now_ms)
                .bind(now_ms)
                .fetch_all(store)
                .await?
        }
        Dialect::MySql => {
            let mut tx = store.begin().await?;
            let mut ids: Vec<i64> = Vec::new();
            for candidate in CANDIDATES {
                let wanted = limit - ids.len() as i64;
                if wanted == 0 {
                    break;
                }
                // A row another worker is claiming is skipped, not waited for.
                let sql = format!("{candidate} FOR UPDATE SKIP LOCKED");
                let rows: Vec<(i64,)> = sqlx::query_as(&sql)
                    .bind(now_ms)
                    .bind(wanted)
                    .fetch_all(&mut *tx)
                    .await?;
                ids.extend(rows.into_iter().map(|(id,)| id));
            }
            if ids.is_empty() {
                tx.commit().await?;
                return Ok(Vec::new());
            }
            let list = vec!["?"; ids.len()].join(", ");
            let update_sql = format!("{SET_RUNNING} WHERE id IN ({list}) AND {CLAIMABLE}");
            let mut update = sqlx::query(&update_sql)
                .bind(owner)
                .bind(now_ms + lease_ms)
                .bind(now_ms);
            for id in &ids {
                update = update.bind(*id);
            }
            update.bind(now_ms).bind(now_ms).execute(&mut *tx).await?;
            // The rows stay locked until the commit: what the UPDATE set is what is read.
            let select_sql = format!(
                "SELECT {JOB_COLUMNS} FROM outbox_jobs WHERE id IN ({list}) \
                 AND state = 'running' AND lease_owner = ? AND lease_expires_at = ?"
            );
            let mut select = sqlx::query_as::<_, Job>(&select_sql);
            for id in &ids {
                select = select.bind(*id);
            }
            let jobs = select
                .bind(owner)
                .bind(now_ms + lease_ms)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            jobs
        }
    };
    jobs.sort_by_key(|j| j.id);
    Ok(jobs)
}

/// How a claimed job ended, for [`finish_batch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finish {
    /// Applied: the target's receipt.
    Done {
        /// JSON of the target's receipt.
        receipt: String,
    },
    /// Failed: tried again at `next_ms`, or parked for an admin.
    Failed {
        /// Why.
        reason: String,
        /// Parked rather than retried.
        park: bool,
        /// Unix ms of the next attempt (ignored when parked).
        next_ms: i64,
    },
}

/// Records how each of `owner`'s claimed jobs ended, in one transaction (one commit for a
/// whole batch). For each job, `false` if its lease was lost.
pub async fn finish_batch(
    store: &Store,
    owner: &str,
    finished: &[(i64, Finish)],
    now_ms: i64,
) -> anyhow::Result<Vec<bool>> {
    let mut tx = store.begin().await?;
    let mut kept = Vec::with_capacity(finished.len());
    for (job, finish) in finished {
        let query = match finish {
            Finish::Done { receipt } => sqlx::query(DONE_SQL).bind(receipt.as_str()),
            Finish::Failed {
                reason,
                park,
                next_ms,
            } => sqlx::query(FAILED_SQL)
                .bind(if *park { "parked" } else { "retrying" })
                .bind(clip(reason))
                .bind(*next_ms),
        };
        let done = query
            .bind(now_ms)
            .bind(*job)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        kept.push(done.rows_affected() == 1);
    }
    tx.commit().await?;
    Ok(kept)
}

/// A claimed job done: binds receipt, now, id, owner.
const DONE_SQL: &str = "UPDATE outbox_jobs SET state = 'done', receipt = ?, last_error = NULL, \
     lease_owner = NULL, lease_expires_at = NULL, updated_at = ? \
     WHERE id = ? AND lease_owner = ? AND state = 'running'";
/// A claimed job failed: binds state, reason, next attempt, now, id, owner.
const FAILED_SQL: &str = "UPDATE outbox_jobs SET state = ?, last_error = ?, next_attempt_at = ?, \
     lease_owner = NULL, lease_expires_at = NULL, updated_at = ? \
     WHERE id = ? AND lease_owner = ? AND state = 'running'";

/// Marks a claimed job done with the target's receipt. `false` if the lease was lost.
pub async fn complete(
    store: &Store,
    job: i64,
    owner: &str,
    receipt: &str,
    now_ms: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query(DONE_SQL)
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
    store: &Store,
    job: i64,
    owner: &str,
    reason: &str,
    park: bool,
    next_ms: i64,
    now_ms: i64,
) -> anyhow::Result<bool> {
    let state = if park { "parked" } else { "retrying" };
    let done = sqlx::query(FAILED_SQL)
        .bind(state)
        .bind(clip(reason))
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
pub async fn admin_retry(store: &Store, id: i64, now_ms: i64) -> anyhow::Result<Option<Job>> {
    let changed = sqlx::query(
        "UPDATE outbox_jobs SET state = 'pending', next_attempt_at = ?, updated_at = ? \
         WHERE id = ? AND state IN ('parked', 'retrying')",
    )
    .bind(now_ms)
    .bind(now_ms)
    .bind(id)
    .execute(store)
    .await?;
    job_if_changed(store, changed, id).await
}

/// The job after an admin's update, or `None` when the update matched nothing (MariaDB has
/// no `UPDATE … RETURNING`).
async fn job_if_changed(
    store: &Store,
    changed: sqlx::any::AnyQueryResult,
    id: i64,
) -> anyhow::Result<Option<Job>> {
    if changed.rows_affected() == 0 {
        return Ok(None);
    }
    job(store, id).await
}

/// Admin: park a job that is not done, with a reason.
pub async fn admin_park(
    store: &Store,
    id: i64,
    reason: &str,
    now_ms: i64,
) -> anyhow::Result<Option<Job>> {
    let changed = sqlx::query(
        "UPDATE outbox_jobs SET state = 'parked', last_error = ?, lease_owner = NULL, \
         lease_expires_at = NULL, updated_at = ? WHERE id = ? AND state != 'done'",
    )
    .bind(clip(reason))
    .bind(now_ms)
    .bind(id)
    .execute(store)
    .await?;
    job_if_changed(store, changed, id).await
}

/// Admin: job counts per target and state.
pub async fn backlog(store: &Store) -> anyhow::Result<Vec<(String, String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT target, state, COUNT(*) FROM outbox_jobs GROUP BY target, state ORDER BY target, state",
    )
    .fetch_all(store)
    .await?)
}

/// Admin: jobs that are parked or retrying, oldest first.
pub async fn failures(store: &Store, limit: i64) -> anyhow::Result<Vec<Job>> {
    Ok(sqlx::query_as::<_, Job>(&format!(
        "SELECT {JOB_COLUMNS} FROM outbox_jobs WHERE state IN ('parked', 'retrying') \
         ORDER BY updated_at LIMIT ?"
    ))
    .bind(limit)
    .fetch_all(store)
    .await?)
}

/// The job by id.
pub async fn job(store: &Store, id: i64) -> anyhow::Result<Option<Job>> {
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

    /// Agent `agent_user`'s disposition of call `M1` on lead 42 under the client key `call-1`,
    /// stored as `call-1` for 1001 (as the other tests name it) and `call-1@<agent>` otherwise.
    fn new<'a>(agent_user: &'a str, request_hash: &'a str, now_ms: i64) -> NewDisposition<'a> {
        NewDisposition {
            id: if agent_user == "1001" {
                "call-1"
            } else {
                Box::leak(format!("call-1@{agent_user}").into_boxed_str())
            },
            client_id: "call-1",
            agent_user,
            lead_id: 42,
            call_key: Some("M1"),
            request_hash,
            payload: "{}",
            now_ms,
        }
    }

    /// Both stores, each holding one disposition with jobs for `targets`: the embedded SQLite
    /// file and a fresh database on the test MariaDB.
    async fn stores_with_one(targets: &[&str]) -> Vec<(Option<tempfile::TempDir>, Store)> {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = crate::store::open(dir.path()).await.unwrap();
        let url = secrecy::SecretString::from(crate::test_support::empty_mariadb().await);
        let mariadb = crate::store::connect(&url).await.unwrap();
        let mut out = Vec::new();
        for (dir, store) in [(Some(dir), sqlite), (None, mariadb)] {
            let mut tx = store.begin().await.unwrap();
            let r = insert(dialect(&store), &mut tx, &new("1001", "h1", 1_000), targets)
                .await
                .unwrap();
            assert_eq!(r, Accepted::New);
            tx.commit().await.unwrap();
            out.push((dir, store));
        }
        out
    }

    #[tokio::test]
    async fn same_key_is_a_replay_or_a_reuse() {
        for (_d, store) in stores_with_one(&["ghl", "vicidial"]).await {
            let d = dialect(&store);
            let mut tx = store.begin().await.unwrap();
            assert_eq!(
                insert(d, &mut tx, &new("1001", "h1", 2_000), &["ghl"])
                    .await
                    .unwrap(),
                Accepted::Replay,
                "{d:?}"
            );
            assert_eq!(
                insert(d, &mut tx, &new("1001", "h2", 2_000), &["ghl"])
                    .await
                    .unwrap(),
                Accepted::KeyReused
            );
            // Another agent's identical key is another agent's disposition: no collision.
            assert_eq!(
                insert(d, &mut tx, &new("1002", "h1", 2_000), &["ghl"])
                    .await
                    .unwrap(),
                Accepted::New
            );
            tx.commit().await.unwrap();
            assert_eq!(jobs_of(&store, "call-1").await.unwrap().len(), 2);
            assert_eq!(jobs_of(&store, "call-1@1002").await.unwrap().len(), 1);
            let found = find(&store, "1002", "call-1").await.unwrap().unwrap();
            assert_eq!(
                (found.id.as_str(), found.agent_user.as_str()),
                ("call-1@1002", "1002")
            );
            assert_eq!(
                find(&store, "1001", "call-1").await.unwrap().unwrap().id,
                "call-1"
            );
            assert!(find(&store, "1003", "call-1").await.unwrap().is_none());
        }
    }

    /// One call, one disposition: a second key for the same agent, lead and call is refused by
    /// the store's unique key, on both stores; a call the server could not name is not held to
    /// one, and another agent's call with the same id is another call.
    #[tokio::test]
    async fn a_call_takes_one_disposition_whatever_its_key() {
        for (_d, store) in stores_with_one(&["ghl"]).await {
            let d = dialect(&store);
            let mut tx = store.begin().await.unwrap();
            let second = NewDisposition {
                id: "call-1-again",
                client_id: "call-1-again",
                ..new("1001", "h9", 2_000)
            };
            assert_eq!(
                insert(d, &mut tx, &second, &["ghl"]).await.unwrap(),
                Accepted::AlreadyDispositioned {
                    client_id: "call-1".into()
                },
                "{d:?}"
            );
            let next_call = NewDisposition {
                call_key: Some("M2"),
                ..second
            };
            assert_eq!(
                insert(d, &mut tx, &next_call, &["ghl"]).await.unwrap(),
                Accepted::New
            );
            for id in ["unnamed-1", "unnamed-2"] {
                let unnamed = NewDisposition {
                    id,
                    client_id: id,
                    call_key: None,
                    lead_id: 43,
                    ..new("1001", "h5", 2_000)
                };
                assert_eq!(
                    insert(d, &mut tx, &unnamed, &["ghl"]).await.unwrap(),
                    Accepted::New
                );
            }
            tx.commit().await.unwrap();
            assert!(jobs_of(&store, "call-1-again").await.unwrap().len() == 1);
            let raw = sqlx::query(
                "INSERT INTO dispositions (id, client_id, agent_user, lead_id, call_key, request_hash, payload, accepted_at) \
                 VALUES ('x', 'x', '1001', 42, 'M1', 'h', '{}', 0)",
            )
            .execute(&store)
            .await;
            assert!(
                raw.is_err(),
                "the constraint is in the store itself ({d:?})"
            );
        }
    }

    #[test]
    fn disposition_ids_are_scoped_to_the_agent() {
        let a = disposition_id("1001", "M1125024600000000008");
        assert_eq!(a.len(), 40);
        assert_eq!(a, disposition_id("1001", "M1125024600000000008"));
        assert_ne!(a, disposition_id("1002", "M1125024600000000008"));
        // The separator keeps ("10", "01x") and ("100", "1x") apart.
        assert_ne!(disposition_id("10", "01x"), disposition_id("100", "1x"));
    }

    #[tokio::test]
    async fn a_claim_is_exclusive_until_its_lease_expires() {
        for (_d, store) in stores_with_one(&["ghl"]).await {
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
            // What other instances' event streams read: changed since a moment, with owners.
            let changed = recently_changed(&store, 6_500).await.unwrap();
            assert_eq!(changed.len(), 1);
            assert_eq!(
                (
                    changed[0].agent_user.as_str(),
                    changed[0].client_id.as_str(),
                    changed[0].job.state.as_str()
                ),
                ("1001", "call-1", "done")
            );
            assert!(recently_changed(&store, 6_501).await.unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn retry_waits_for_its_time_and_park_stops_it() {
        for (_d, store) in stores_with_one(&["ghl"]).await {
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
            assert!(
                admin_retry(&store, job.id, 5_000).await.unwrap().is_none(),
                "already due"
            );
            let parked = admin_park(&store, job.id, "by hand", 5_100)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (parked.state.as_str(), parked.last_error.as_deref()),
                ("parked", Some("by hand"))
            );
            assert!(admin_retry(&store, job.id, 5_200).await.unwrap().is_some());
            assert!(claim(&store, "w1", 5_200, 5_000).await.unwrap().is_some());
        }
    }

    /// Many workers racing for a backlog on a shared MariaDB: every job is claimed exactly
    /// once (`FOR UPDATE SKIP LOCKED`), none is left behind.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn racing_workers_on_mariadb_claim_each_job_once() {
        let url = secrecy::SecretString::from(crate::test_support::empty_mariadb().await);
        let store = crate::store::connect(&url).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        for n in 0..200 {
            let id = format!("race-{n:04}");
            let call = format!("M{n}");
            let new = NewDisposition {
                id: &id,
                client_id: &id,
                call_key: Some(&call),
                ..new("1001", "h", 1_000)
            };
            insert(Dialect::MySql, &mut tx, &new, &["ghl", "vicidial"])
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let mut workers = Vec::new();
        for w in 0..12 {
            // Half the workers on a second pool, as a second instance would be.
            let pool = if w % 2 == 0 {
                store.clone()
            } else {
                crate::store::sibling(&store, 6)
            };
            workers.push(tokio::spawn(async move {
                let owner = format!("w{w}");
                let mut mine = Vec::new();
                while let Some(job) = claim(&pool, &owner, 2_000, 60_000).await.unwrap() {
                    assert!(complete(&pool, job.id, &owner, "{}", 2_000).await.unwrap());
                    mine.push(job.id);
                }
                mine
            }));
        }
        let mut all = Vec::new();
        for w in workers {
            all.extend(w.await.unwrap());
        }
        all.sort_unstable();
        let claimed = all.len();
        all.dedup();
        assert_eq!((claimed, all.len()), (400, 400), "each job claimed once");
    }
}
