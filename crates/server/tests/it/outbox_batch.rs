//! Outbox batch claims on both stores (the embedded SQLite file and a real MariaDB): a worker
//! claims up to N due jobs in one round (on MariaDB: counted statements on its connection),
//! due pending jobs first, then due retries, then expired leases; jobs not due stay; racing
//! workers never claim a job twice and leave none behind; a lost lease is reported per job.

use std::collections::HashSet;

use dialdeck_server::{
    outbox::store::{self, Finish, NewDisposition},
    store::{dialect, Dialect, Store},
};

/// Both stores, empty: SQLite (its folder kept alive beside it) and a fresh MariaDB database.
async fn stores() -> Vec<(Option<tempfile::TempDir>, Store)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dialdeck_server::store::open(dir.path()).await.unwrap();
    let maria = dialdeck_vicidial_sim::mariadb::MariaDb::shared();
    let name = maria.empty_database().await.unwrap();
    let url = secrecy::SecretString::from(maria.url(&name));
    let mariadb = dialdeck_server::store::connect(&url).await.unwrap();
    vec![(Some(dir), sqlite), (None, mariadb)]
}

/// Stores `n` dispositions of agent 1001 (one call each) accepted at `at_ms`, each with a job
/// for `ghl` and `vicidial`.
async fn accept(store: &Store, prefix: &str, n: usize, at_ms: i64) {
    let mut tx = store.begin().await.unwrap();
    for i in 0..n {
        let id = format!("{prefix}-{i:04}");
        let call = format!("M{prefix}{i}");
        let new = NewDisposition {
            id: &id,
            client_id: &id,
            agent_user: "1001",
            lead_id: 42,
            call_key: Some(&call),
            request_hash: "h",
            payload: "{}",
            now_ms: at_ms,
        };
        let accepted = store::insert(dialect(store), &mut tx, &new, &["ghl", "vicidial"])
            .await
            .unwrap();
        assert_eq!(accepted, store::Accepted::New);
    }
    tx.commit().await.unwrap();
}

/// Statements of each kind run so far on the pool's one connection (MariaDB's session
/// counters).
async fn statements(one_connection: &Store) -> (i64, i64) {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SHOW SESSION STATUS WHERE Variable_name IN ('Com_select', 'Com_update')")
            .fetch_all(one_connection)
            .await
            .unwrap();
    let get = |name: &str| {
        rows.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.parse::<i64>().unwrap())
            .unwrap()
    };
    (get("Com_select"), get("Com_update"))
}

/// One round claims a whole batch: on MariaDB exactly one `UPDATE` and two `SELECT`s on the
/// worker's connection (the locking read and the read back) for ten jobs, where a job at a
/// time took ten of each; on SQLite the batch comes from one call.
#[tokio::test]
async fn a_worker_claims_a_batch_in_one_round() {
    for (_dir, store) in stores().await {
        let d = dialect(&store);
        // One connection, so its session counters count exactly this worker's statements.
        let worker = dialdeck_server::store::sibling(&store, 1);
        accept(&store, "b", 8, 1_000).await;
        let before = match d {
            Dialect::MySql => Some(statements(&worker).await),
            Dialect::Sqlite => None,
        };
        let batch = store::claim_batch(&worker, "w1", 2_000, 60_000, 10)
            .await
            .unwrap();
        if let Some((selects, updates)) = before {
            let (s, u) = statements(&worker).await;
            // The counters' own read is a SHOW, not a SELECT.
            assert_eq!(
                (s - selects, u - updates),
                (2, 1),
                "one locking read, one UPDATE and one read back for ten jobs"
            );
        }
        assert_eq!(batch.len(), 10, "{d:?}: the batch is full");
        assert!(batch
            .iter()
            .all(|j| j.state == "running" && j.attempts == 1));
        let ids: HashSet<i64> = batch.iter().map(|j| j.id).collect();
        assert_eq!(ids.len(), 10, "ten distinct jobs");
        // Six jobs are left; the next round takes them, then nothing.
        let rest = store::claim_batch(&worker, "w2", 2_000, 60_000, 10)
            .await
            .unwrap();
        assert_eq!(rest.len(), 6, "{d:?}");
        assert!(rest.iter().all(|j| !ids.contains(&j.id)));
        assert!(store::claim_batch(&worker, "w3", 2_000, 60_000, 10)
            .await
            .unwrap()
            .is_empty());
    }
}

/// A batch takes due pending jobs first, then due retries, then jobs whose lease expired, and
/// never a job that is not due, is leased, done or parked; finishing a batch records every
/// outcome and says which leases were lost.
#[tokio::test]
async fn a_batch_takes_what_is_due_and_finishes_under_its_leases() {
    for (_dir, store) in stores().await {
        let d = dialect(&store);
        accept(&store, "o", 3, 1_000).await;
        // Six jobs: take them all as w0 (lease until 11 000), then set them up.
        let all = store::claim_batch(&store, "w0", 1_000, 10_000, 100)
            .await
            .unwrap();
        assert_eq!(all.len(), 6);
        let ids: Vec<i64> = all.iter().map(|j| j.id).collect();
        let finish = |reason: &str, park, next_ms| Finish::Failed {
            reason: reason.into(),
            park,
            next_ms,
        };
        let kept = store::finish_batch(
            &store,
            "w0",
            &[
                (ids[0], finish("HTTP 503", false, 5_000)), // retrying, due at 5 000
                (ids[1], finish("HTTP 503", false, 50_000)), // retrying, not due
                (ids[2], finish("invalid lead", true, 0)),  // parked
                (
                    ids[3],
                    Finish::Done {
                        receipt: "{}".into(),
                    },
                ),
            ],
            2_000,
        )
        .await
        .unwrap();
        assert_eq!(kept, vec![true; 4], "{d:?}");
        // ids[4] and ids[5] stay leased by w0 until 11 000. A new disposition's jobs are due.
        accept(&store, "p", 1, 6_000).await;
        let at_7000 = store::claim_batch(&store, "w1", 7_000, 10_000, 100)
            .await
            .unwrap();
        let got: Vec<(i64, i64)> = at_7000.iter().map(|j| (j.id, j.attempts)).collect();
        assert_eq!(
            got.len(),
            3,
            "{d:?}: two new pending jobs and one due retry: {got:?}"
        );
        assert!(got.contains(&(ids[0], 2)), "the due retry, second attempt");
        assert!(at_7000.iter().all(|j| !ids[1..].contains(&j.id)));
        // Past w0's lease: its two jobs are taken over; a batch of one takes one.
        let one = store::claim_batch(&store, "w2", 12_000, 10_000, 1)
            .await
            .unwrap();
        assert_eq!(one.len(), 1);
        assert!([ids[4], ids[5]].contains(&one[0].id), "{d:?}: {one:?}");
        // w0 lost that lease and still holds none of the others: its late results change
        // nothing, and w2's result stands.
        let late = store::finish_batch(
            &store,
            "w0",
            &[
                (
                    one[0].id,
                    Finish::Done {
                        receipt: "{\"late\":1}".into(),
                    },
                ),
                (ids[0], finish("late", true, 0)),
            ],
            12_500,
        )
        .await
        .unwrap();
        assert_eq!(late, vec![false, false]);
        assert_eq!(
            store::finish_batch(
                &store,
                "w2",
                &[(
                    one[0].id,
                    Finish::Done {
                        receipt: "{}".into()
                    }
                )],
                12_600
            )
            .await
            .unwrap(),
            vec![true]
        );
        let job = store::job(&store, one[0].id).await.unwrap().unwrap();
        assert_eq!((job.state.as_str(), job.attempts), ("done", 2));
        let retry = store::job(&store, ids[0]).await.unwrap().unwrap();
        assert_eq!(retry.state, "running", "w1 still owns the retry");
    }
}

/// Workers racing in batches over a backlog, each on its own pool (as workers of two
/// instances are on MariaDB): every job is claimed exactly once and none is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_workers_claim_each_job_of_a_batch_once() {
    for (_dir, store) in stores().await {
        let d = dialect(&store);
        accept(&store, "r", 300, 1_000).await;
        let mut workers = Vec::new();
        for w in 0..4 {
            let pool = dialdeck_server::store::sibling(&store, 2);
            workers.push(tokio::spawn(async move {
                let owner = format!("w{w}");
                let (mut mine, mut rounds) = (Vec::new(), 0);
                loop {
                    let batch = store::claim_batch(&pool, &owner, 2_000, 60_000, 16)
                        .await
                        .unwrap();
                    if batch.is_empty() {
                        break;
                    }
                    rounds += 1;
                    let done: Vec<(i64, Finish)> = batch
                        .iter()
                        .map(|j| {
                            (
                                j.id,
                                Finish::Done {
                                    receipt: "{}".into(),
                                },
                            )
                        })
                        .collect();
                    let kept = store::finish_batch(&pool, &owner, &done, 2_000)
                        .await
                        .unwrap();
                    assert!(kept.iter().all(|k| *k), "{owner} kept its leases");
                    mine.extend(batch.into_iter().map(|j| j.id));
                }
                (mine, rounds)
            }));
        }
        let (mut all, mut rounds) = (Vec::new(), 0);
        for w in workers {
            let (mine, r) = w.await.unwrap();
            all.extend(mine);
            rounds += r;
        }
        let claimed = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            (claimed, all.len()),
            (600, 600),
            "{d:?}: each job claimed once"
        );
        // A job at a time would take 600 rounds; skipped rows make some batches short.
        assert!(rounds <= 100, "{d:?}: claimed in batches ({rounds} rounds)");
        let backlog = store::backlog(&store).await.unwrap();
        assert_eq!(
            backlog,
            vec![
                ("ghl".to_string(), "done".to_string(), 300),
                ("vicidial".to_string(), "done".to_string(), 300)
            ]
        );
    }
}
