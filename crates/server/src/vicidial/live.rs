//! Live agent state: one read of `vicidial_live_agents` per poll interval for every logged-in
//! agent (with its phone's channels in the session conference and its call), turned into
//! per-agent changes that the SSE route pushes to each agent's own browser, and into
//! server-enforced wrap-up when a call ends.
//!
//! Whether VICIdial's screen polls is read from `last_update_time`, which the screen's polls
//! refresh about once a second. It is a classic TIMESTAMP, so any other write to the row
//! refreshes it too, api.php's included: right after one of our own Agent API requests a
//! screen that died would look alive for a few seconds. [`LiveHub::note_write`] records the
//! stamp our write left; until the stamp moves on, the screen's silence is counted from the
//! refresh before our write.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::store::Store;
use tokio::sync::broadcast;

use dialdeck_shared::ScreenLink;

use super::{
    db,
    db::{LiveAgent, LiveRow},
    Vicidial,
};

/// The last rows read, and a channel announcing which agent's state changed.
pub struct LiveHub {
    agents: Mutex<HashMap<String, LiveAgent>>,
    masks: Mutex<HashMap<String, WriteMask>>,
    watchers: Arc<Mutex<HashMap<String, usize>>>,
    changed: broadcast::Sender<String>,
    healthy: std::sync::atomic::AtomicBool,
}

/// `last_update_time` as one of our Agent API writes left it, and as the screen left it
/// before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct WriteMask {
    written: i64,
    prior: i64,
}

impl Default for LiveHub {
    fn default() -> Self {
        LiveHub {
            agents: Mutex::new(HashMap::new()),
            masks: Mutex::new(HashMap::new()),
            watchers: Arc::default(),
            changed: broadcast::channel(4096).0,
            healthy: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// A change of one agent between two reads.
struct Change {
    user: String,
    old: Option<LiveRow>,
    new: Option<LiveRow>,
}

/// What the screen's silence says: `Connected` while the screen refreshed its row within
/// `stale_secs`.
pub fn screen_link(silent_secs: i64, stale_secs: u64) -> ScreenLink {
    if silent_secs > stale_secs as i64 {
        ScreenLink::NotPolling {
            silent_secs: u32::try_from(silent_secs).unwrap_or(u32::MAX),
        }
    } else {
        ScreenLink::Connected
    }
}

impl LiveHub {
    /// The agent's row as last read (None: not logged into VICIdial).
    pub fn row(&self, user: &str) -> Option<LiveRow> {
        self.agent(user).map(|a| a.row)
    }

    /// The agent as last read.
    pub fn agent(&self, user: &str) -> Option<LiveAgent> {
        self.agents.lock().expect("live agents").get(user).cloned()
    }

    /// Seconds the agent's screen has been silent, not counting the refresh our own last
    /// Agent API write caused.
    pub fn silent_secs(&self, agent: &LiveAgent) -> i64 {
        let masks = self.masks.lock().expect("write masks");
        let stamp = match masks.get(&agent.row.user) {
            Some(m) if m.written == agent.screen_stamp => m.prior,
            _ => agent.screen_stamp,
        };
        (agent.db_now - stamp).max(0)
    }

    /// Records that one of our Agent API requests for `user` just wrote the row, leaving
    /// `last_update_time` at `written`.
    pub fn note_write(&self, user: &str, written: i64) {
        let prior = match self.agent(user) {
            Some(a) => a.db_now - self.silent_secs(&a),
            None => written,
        };
        self.masks
            .lock()
            .expect("write masks")
            .insert(user.to_string(), WriteMask { written, prior });
    }

    /// Announces changes: the user whose state changed.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.changed.subscribe()
    }

    /// Tells subscribers `user`'s state changed for another reason (wrap-up started or ended).
    pub fn touch(&self, user: &str) {
        let _ = self.changed.send(user.to_string());
    }

    /// Records that a browser tab of `user` follows its state (an open event stream) until the
    /// guard is dropped.
    pub fn watch(&self, user: &str) -> WatchGuard {
        *self
            .watchers
            .lock()
            .expect("watchers")
            .entry(user.to_string())
            .or_default() += 1;
        WatchGuard {
            user: user.to_string(),
            watchers: self.watchers.clone(),
        }
    }

    /// Whether a tab of `user` is open (has its event stream connected).
    pub fn is_watched(&self, user: &str) -> bool {
        self.watchers
            .lock()
            .expect("watchers")
            .get(user)
            .is_some_and(|n| *n > 0)
    }

    /// The agents with a tab open on this instance.
    pub fn watched_users(&self) -> Vec<String> {
        self.watchers
            .lock()
            .expect("watchers")
            .keys()
            .cloned()
            .collect()
    }

    /// Whether the last read of VICIdial's database succeeded.
    pub fn healthy(&self) -> bool {
        self.healthy.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Replaces the agents with a new read and returns those whose state changed (row,
    /// phone, call or screen link).
    fn update(&self, fresh: Vec<LiveAgent>, stale_secs: u64) -> Vec<Change> {
        {
            // A stamp that moved on since our write: the screen (or someone) wrote since.
            let mut masks = self.masks.lock().expect("write masks");
            masks.retain(|user, m| {
                fresh
                    .iter()
                    .any(|a| &a.row.user == user && a.screen_stamp == m.written)
            });
        }
        let view = |a: &LiveAgent| {
            (
                a.row.clone(),
                a.phone_in_session,
                a.call.clone(),
                screen_link(self.silent_secs(a), stale_secs),
            )
        };
        let mut fresh: HashMap<String, LiveAgent> =
            fresh.into_iter().map(|a| (a.row.user.clone(), a)).collect();
        let mut map = self.agents.lock().expect("live agents");
        let mut changes = Vec::new();
        for (user, old) in map.iter() {
            match fresh.get(user) {
                Some(new) if view(new) == view(old) => {}
                Some(new) => changes.push(Change {
                    user: user.clone(),
                    old: Some(old.row.clone()),
                    new: Some(new.row.clone()),
                }),
                None => changes.push(Change {
                    user: user.clone(),
                    old: Some(old.row.clone()),
                    new: None,
                }),
            }
        }
        for (user, new) in fresh.iter() {
            if !map.contains_key(user) {
                changes.push(Change {
                    user: user.clone(),
                    old: None,
                    new: Some(new.row.clone()),
                });
            }
        }
        std::mem::swap(&mut *map, &mut fresh);
        changes
    }
}

/// An open event stream of one agent's tab; dropping it closes it.
pub struct WatchGuard {
    user: String,
    watchers: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        let mut w = self.watchers.lock().expect("watchers");
        if let Some(n) = w.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                w.remove(&self.user);
            }
        }
    }
}

/// A call that just ended, as the transition between two reads shows it.
fn ended_call(
    old: Option<&LiveRow>,
    new: Option<&LiveRow>,
) -> Option<(String, i64, String, String)> {
    let call_id = |r: &LiveRow| {
        if r.callerid.is_empty() {
            format!("L{}-{}", r.lead_id, r.user)
        } else {
            r.callerid.clone()
        }
    };
    match (old, new) {
        // INCALL on a lead, then anything else (dispo step, another lead, logged out).
        (Some(o), n) if o.status == "INCALL" && o.lead_id > 0 => {
            let same_call = n.is_some_and(|n| n.status == "INCALL" && n.lead_id == o.lead_id);
            (!same_call).then(|| (o.user.clone(), o.lead_id, call_id(o), o.campaign_id.clone()))
        }
        // First seen (server restart) already on the dispo step.
        (None, Some(n)) if n.status == "PAUSED" && n.lead_id > 0 => {
            Some((n.user.clone(), n.lead_id, call_id(n), n.campaign_id.clone()))
        }
        _ => None,
    }
}

/// Polls VICIdial's database until the process ends.
pub async fn run(v: Arc<Vicidial>, store: Store) {
    let mut tick = tokio::time::interval(Duration::from_millis(v.args.poll_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut first = true;
    let shared = crate::store::dialect(&store) == crate::store::Dialect::MySql;
    loop {
        tick.tick().await;
        if shared {
            if let Err(e) = heartbeat(&v, &store).await {
                tracing::warn!(error = %e, "cannot record open tabs in the shared store");
            }
        }
        if let Err(e) = poll_once(&v, &store, first).await {
            if v.live
                .healthy
                .swap(false, std::sync::atomic::Ordering::Relaxed)
            {
                tracing::warn!(error = %e, "cannot read VICIdial's live agents; keeping the last known state");
            }
            continue;
        }
        first = false;
        v.live
            .healthy
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Tabs seen by another instance within this many seconds count as open.
const PRESENCE_SECS: i64 = 10;

/// Records in the shared store that this instance's watched agents have a tab open (one
/// statement for all of them).
async fn heartbeat(v: &Vicidial, store: &Store) -> anyhow::Result<()> {
    let users = v.live.watched_users();
    if users.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now().timestamp();
    let sql = format!(
        "INSERT INTO agent_presence (user, seen_at) VALUES {} {}",
        vec!["(?, ?)"; users.len()].join(", "),
        crate::store::dialect(store).upsert("user", &["seen_at"])
    );
    let mut query = sqlx::query(&sql);
    for user in &users {
        query = query.bind(user).bind(now);
    }
    query.execute(store).await?;
    Ok(())
}

/// Whether `user` has a tab open: on this instance, or (with a shared store) on another one
/// that reported it within [`PRESENCE_SECS`].
pub async fn tab_open(v: &Vicidial, store: &Store, user: &str) -> bool {
    if v.live.is_watched(user) {
        return true;
    }
    if crate::store::dialect(store) != crate::store::Dialect::MySql {
        return false;
    }
    let seen: Result<Option<(i64,)>, _> =
        sqlx::query_as("SELECT seen_at FROM agent_presence WHERE user = ?")
            .bind(user)
            .fetch_optional(store)
            .await;
    match seen {
        Ok(Some((at,))) => chrono::Utc::now().timestamp() - at <= PRESENCE_SECS,
        Ok(None) => false,
        // Unknown: do not treat an agent who may be there as gone.
        Err(_) => true,
    }
}

/// One poll: read, diff, record ended calls, announce changes.
pub async fn poll_once(v: &Vicidial, store: &Store, first: bool) -> anyhow::Result<()> {
    let agents = db::live_agents(&v.db).await?;
    let changes = v.live.update(agents, v.args.screen_stale_secs);
    for Change { user, old, new } in changes {
        let ended = if first || old.is_some() {
            ended_call(old.as_ref(), new.as_ref())
        } else {
            None
        };
        if let Some((user, lead_id, call_id, campaign)) = ended {
            // A disposition already accepted for this lead closes the wrap-up before it opens
            // (the screen shows the dispo step until it applies it).
            let recent: Option<(String,)> = sqlx::query_as(
                "SELECT id FROM dispositions WHERE agent_user = ? AND lead_id = ? AND accepted_at > ?",
            )
            .bind(&user)
            .bind(lead_id)
            .bind(chrono::Utc::now().timestamp_millis() - 6 * 3600 * 1000)
            .fetch_optional(store)
            .await?;
            let live_same_call = new
                .as_ref()
                .is_some_and(|n| n.status == "INCALL" && n.lead_id == lead_id);
            if recent.is_none() && !live_same_call {
                crate::wrapup::call_ended(store, &user, lead_id, &call_id, Some(campaign.as_str()))
                    .await?;
                tracing::info!(%user, lead_id, "call ended; wrap-up until a disposition is accepted");
            }
        }
        v.live.touch(&user);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VICIdial connection whose database is never used (only the live hub is).
    fn vicidial() -> Arc<Vicidial> {
        use clap::Parser;
        let config = crate::config::Config::try_parse_from([
            "dialdeck",
            "--vicidial-web-url",
            "http://127.0.0.1:9",
        ])
        .unwrap();
        let db = sqlx::mysql::MySqlPoolOptions::new()
            .connect_lazy("mysql://nobody@127.0.0.1:9/none")
            .unwrap();
        Vicidial::with_pool(config.vicidial, db).unwrap()
    }

    #[tokio::test]
    async fn a_tab_open_on_another_instance_counts_when_the_store_is_shared() {
        let url = secrecy::SecretString::from(crate::test_support::empty_mariadb().await);
        let shared = crate::store::connect(&url).await.unwrap();
        let (a, b) = (vicidial(), vicidial());
        let tab = a.live.watch("1001");
        assert!(
            !tab_open(&b, &shared, "1001").await,
            "B has not heard of it yet"
        );
        heartbeat(&a, &shared).await.unwrap();
        assert!(tab_open(&b, &shared, "1001").await, "A's tab, seen by B");
        assert!(!tab_open(&b, &shared, "1002").await);
        // A heartbeat older than PRESENCE_SECS is a closed tab (A died, or the tab closed).
        drop(tab);
        sqlx::query("UPDATE agent_presence SET seen_at = seen_at - 60")
            .execute(&shared)
            .await
            .unwrap();
        assert!(!tab_open(&b, &shared, "1001").await);

        // With the embedded store an instance knows only its own tabs.
        let dir = tempfile::tempdir().unwrap();
        let local = crate::store::open(dir.path()).await.unwrap();
        let _tab = a.live.watch("1001");
        assert!(tab_open(&a, &local, "1001").await);
        assert!(!tab_open(&b, &local, "1001").await);
    }

    fn row(status: &str, lead: i64) -> LiveRow {
        LiveRow {
            user: "1001".into(),
            status: status.into(),
            lead_id: lead,
            campaign_id: "C".into(),
            conf_exten: "8600051".into(),
            callerid: if lead > 0 {
                format!("M11250246{lead:011}")
            } else {
                String::new()
            },
            uniqueid: String::new(),
            pause_code: String::new(),
            external_status: String::new(),
            server_ip: "10.10.0.5".into(),
            extension: "SIP/cc1001".into(),
            preview_lead_id: 0,
            external_dial: String::new(),
        }
    }

    fn agent(status: &str, lead: i64, stamp: i64, now: i64) -> LiveAgent {
        LiveAgent {
            row: row(status, lead),
            screen_stamp: stamp,
            db_now: now,
            phone_in_session: true,
            call: None,
        }
    }

    #[test]
    fn a_call_ends_when_the_agent_leaves_incall() {
        let incall = row("INCALL", 8);
        assert!(ended_call(Some(&incall), Some(&incall)).is_none());
        let (_, lead, id, _) = ended_call(Some(&incall), Some(&row("PAUSED", 8))).unwrap();
        assert_eq!((lead, id.as_str()), (8, "M1125024600000000008"));
        assert!(
            ended_call(Some(&incall), None).is_some(),
            "logged out mid-call"
        );
        assert!(
            ended_call(Some(&incall), Some(&row("INCALL", 9))).is_some(),
            "next call"
        );
        assert!(
            ended_call(Some(&row("PAUSED", 0)), Some(&incall)).is_none(),
            "a call starting"
        );
        assert!(
            ended_call(None, Some(&row("PAUSED", 8))).is_some(),
            "found on the dispo step"
        );
        assert!(ended_call(None, Some(&row("PAUSED", 0))).is_none());
    }

    #[test]
    fn hub_reports_only_changes() {
        let hub = LiveHub::default();
        assert_eq!(hub.update(vec![agent("PAUSED", 0, 100, 100)], 5).len(), 1);
        // The screen polls: the stamp moves with the clock, nothing changes for the desk.
        assert!(hub.update(vec![agent("PAUSED", 0, 101, 101)], 5).is_empty());
        // It stops: once silent past the threshold the screen link changes.
        assert!(hub.update(vec![agent("PAUSED", 0, 101, 105)], 5).is_empty());
        assert_eq!(hub.update(vec![agent("PAUSED", 0, 101, 107)], 5).len(), 1);
        let ch = hub.update(vec![], 5);
        assert_eq!(ch.len(), 1);
        assert!(ch[0].new.is_none());
        assert!(hub.row("1001").is_none());
    }

    #[test]
    fn our_own_api_write_does_not_count_as_a_poll() {
        let hub = LiveHub::default();
        hub.update(vec![agent("PAUSED", 0, 100, 100)], 5);
        // The screen died at 100; at 103 our external_dial refreshed the TIMESTAMP.
        hub.update(vec![agent("PAUSED", 0, 100, 103)], 5);
        hub.note_write("1001", 103);
        let after_write = agent("PAUSED", 0, 103, 107);
        assert_eq!(
            hub.silent_secs(&after_write),
            7,
            "counted from the poll at 100"
        );
        assert_eq!(
            screen_link(hub.silent_secs(&after_write), 5),
            ScreenLink::NotPolling { silent_secs: 7 }
        );
        // A real poll moves the stamp on: the mask is gone.
        hub.update(vec![agent("PAUSED", 0, 108, 108)], 5);
        assert_eq!(hub.silent_secs(&agent("PAUSED", 0, 108, 108)), 0);
        assert_eq!(screen_link(0, 5), ScreenLink::Connected);
    }
}
