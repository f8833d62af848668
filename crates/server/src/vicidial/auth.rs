//! Agent passwords checked exactly as VICIdial checks them (`agc/functions.php`
//! `user_authorization()`, `docs/ENCRYPTED_PASSWORDS.txt`; reference §7), with VICIdial's
//! counters written as VICIdial writes them, and dialdeck's per-user throttle around it.
//!
//! VICIdial's lockout: a user whose `failed_login_count` reached 10 while `last_login_date` is
//! less than 15 minutes old is locked (until those 15 minutes pass). A failure adds one to the
//! counter below 10; at 10 with an old `last_login_date` it restarts the counter at 1 and sets
//! `last_login_date`; a good login sets `last_login_date` and clears the counter. dialdeck
//! honours the lock and writes the counters the same way, so VICIdial's own screen and
//! dialdeck agree.
//!
//! So that nobody can lock an agent out through dialdeck, dialdeck stops checking a user's
//! password (`429`) once `DIALDECK_LOGIN_USER_FAILURES` (1 to 9) of its own failures for that
//! name fall within the last 15 minutes ([`begin_attempt`]: kept in the shared store, for
//! known and unknown names alike, and counted before the check so parallel attempts cannot
//! overtake each other), or once VICIdial's counter for the user has reached it while a lock
//! could follow. Since VICIdial's counter only grows while `last_login_date` is
//! recent through failures inside that same window, dialdeck's failures alone never bring it
//! to 10 within 15 minutes of `last_login_date`: no lock. Unknown users cost the same work as
//! known ones (the same queries, the same bcrypt) and get the same answer as a wrong password.

use std::{sync::OnceLock, time::Duration};

use base64::{
    alphabet,
    engine::general_purpose::{GeneralPurpose, NO_PAD},
    Engine,
};
use sqlx::{MySqlPool, Row};
use tokio::sync::Semaphore;

use crate::store::Store;

/// Failed logins at which VICIdial locks a user (`$LOCK_trigger_attempts`).
pub const LOCK_TRIGGER_ATTEMPTS: i64 = 10;
/// How long VICIdial's lock lasts and how far back dialdeck counts failures (`$LOCK_over`).
pub const LOCK_SECONDS: i64 = 900;

/// Why a login was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// Unknown user or wrong password (deliberately indistinguishable).
    #[error("wrong user or password")]
    InvalidCredentials,
    /// VICIdial's lock: ten failed logins within 15 minutes of the last login.
    #[error("too many failed logins; try again in 15 minutes")]
    LockedOut,
    /// The password is right but the user may not log in: `active='N'`, `user_level` 0, or an
    /// API-only account.
    #[error("this user may not log into the agent screen")]
    NotAllowed,
    /// dialdeck stopped checking this user's password for now (see the module documentation).
    #[error("too many failed logins for this user; try again later")]
    Throttled {
        /// When checking resumes.
        retry_after: Duration,
    },
}

/// A verified agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    /// `vicidial_users.user`.
    pub user: String,
    /// `full_name`.
    pub full_name: String,
    /// `user_level`.
    pub user_level: i64,
    /// `user_group`.
    pub user_group: String,
    /// `phone_login`: the `phones.login` of the agent's phone.
    pub phone_login: String,
}

/// VICIdial's password filter: `[-.+/=_0-9a-zA-Z]` as its front ends keep, cut at a space.
pub fn filter_password(password: &str) -> String {
    password
        .split(' ')
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-.+/=_".contains(*c))
        .collect()
}

/// VICIdial's user filter (`[-_0-9a-zA-Z]`), or `None` when nothing usable is left or it is
/// longer than `vicidial_users.user` (20).
pub fn filter_user(user: &str) -> Option<String> {
    let user: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (!user.is_empty() && user.len() <= 20).then_some(user)
}

/// The name dialdeck counts failures under: VICIdial compares user names without case.
pub fn user_key(user: &str) -> String {
    user.to_ascii_lowercase()
}

/// VICIdial's `pass_hash`: bcrypt `$2a$` of the password + NUL with the 16 bytes of `pass_key`
/// as salt, keeping only the 31-character hash part.
pub fn vicidial_pass_hash(password: &str, pass_key: &str, cost: u32) -> Option<String> {
    let salt: [u8; 16] = pass_key.as_bytes().try_into().ok()?;
    let mut bytes = filter_password(password).into_bytes();
    bytes.push(0);
    bytes.truncate(72);
    let out = bcrypt::bcrypt(cost, salt, &bytes);
    Some(GeneralPurpose::new(&alphabet::BCRYPT, NO_PAD).encode(&out[..23]))
}

/// At most this many bcrypt computations run at once (on blocking threads), so a burst of
/// logins cannot take every core from the rest of the server.
fn hash_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Semaphore::new(cores.div_ceil(2).clamp(1, 4))
    })
}

/// [`vicidial_pass_hash`] on a blocking thread behind [`hash_slots`].
async fn pass_hash(password: &str, pass_key: &str, cost: u32) -> anyhow::Result<Option<String>> {
    let _slot = hash_slots().acquire().await?;
    let (password, pass_key) = (password.to_string(), pass_key.to_string());
    let started = std::time::Instant::now();
    let hash =
        tokio::task::spawn_blocking(move || vicidial_pass_hash(&password, &pass_key, cost)).await?;
    tracing::debug!(
        cost,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "VICIdial pass_hash computed"
    );
    Ok(hash)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Verifies `user` (already [`filter_user`]ed) and `password` against `vicidial_users` and
/// `system_settings`, writing VICIdial's counters. `max_failures` is
/// `DIALDECK_LOGIN_USER_FAILURES`. `Err` only when VICIdial's database cannot be used.
pub async fn verify(
    db: &MySqlPool,
    user: &str,
    password: &str,
    max_failures: u32,
) -> anyhow::Result<Result<Agent, LoginError>> {
    let settings = sqlx::query(
        "SELECT COALESCE(pass_hash_enabled, '0') AS pass_hash_enabled, COALESCE(pass_key, '') AS pass_key, \
         CAST(COALESCE(pass_cost, 2) AS SIGNED) AS pass_cost FROM system_settings LIMIT 1",
    )
    .fetch_one(db)
    .await?;
    let hash_enabled: String = settings.try_get("pass_hash_enabled")?;
    let pass_key: String = settings.try_get("pass_key")?;
    let pass_cost: i64 = settings.try_get("pass_cost")?;
    let row = sqlx::query(
        "SELECT user, COALESCE(pass, '') AS pass, COALESCE(pass_hash, '') AS pass_hash, \
         COALESCE(full_name, '') AS full_name, CAST(user_level AS SIGNED) AS user_level, \
         COALESCE(user_group, '') AS user_group, CAST(active AS CHAR) AS active, \
         CAST(api_only_user AS CHAR) AS api_only_user, COALESCE(phone_login, '') AS phone_login, \
         CAST(COALESCE(failed_login_count, 0) AS SIGNED) AS failed_login_count, \
         CAST(UNIX_TIMESTAMP() - COALESCE(UNIX_TIMESTAMP(last_login_date), 0) AS SIGNED) AS since_last_login \
         FROM vicidial_users WHERE user = ?",
    )
    .bind(user)
    .fetch_optional(db)
    .await?;

    if let Some(row) = &row {
        let failed: i64 = row.try_get("failed_login_count")?;
        let since: i64 = row.try_get("since_last_login")?;
        let lock_possible = since < LOCK_SECONDS;
        if failed >= LOCK_TRIGGER_ATTEMPTS && lock_possible {
            // VICIdial answers LOCK whatever the password, and writes nothing.
            return Ok(Err(LoginError::LockedOut));
        }
        if failed >= i64::from(max_failures) && lock_possible {
            return Ok(Err(LoginError::Throttled {
                retry_after: Duration::from_secs((LOCK_SECONDS - since).max(1) as u64),
            }));
        }
    }

    // The same work whether or not the user exists: the candidate is computed first.
    // bcrypt's raw function takes VICIdial's low costs (default 2) too.
    let candidate = if hash_enabled == "1" {
        pass_hash(password, &pass_key, pass_cost.clamp(0, 31) as u32)
            .await?
            .unwrap_or_default()
    } else {
        filter_password(password)
    };
    let stored = match &row {
        Some(r) if hash_enabled == "1" => r.try_get::<String, _>("pass_hash")?,
        Some(r) => r.try_get::<String, _>("pass")?,
        // Compared all the same, so an unknown user takes the same path as a wrong password.
        None => String::new(),
    };
    let good = !stored.is_empty()
        && !candidate.is_empty()
        && constant_time_eq(candidate.as_bytes(), stored.as_bytes());
    let allowed = match &row {
        Some(r) => {
            r.try_get::<String, _>("active")? == "Y"
                && r.try_get::<i64, _>("user_level")? > 0
                && r.try_get::<String, _>("api_only_user")? != "1"
        }
        None => false,
    };
    let Some(row) = row.filter(|_| good && allowed) else {
        // VICIdial's failure branch (its login query also requires active, level and not
        // API-only, so those count as failures too): below the trigger one more, at the
        // trigger (lock expired, or we would have returned above) restart at 1 now. MariaDB
        // assigns left to right, so `last_login_date` still sees the old counter. An unknown
        // user runs the same statement and changes nothing.
        sqlx::query(
            "UPDATE vicidial_users SET \
             last_login_date = IF(failed_login_count >= ?, NOW(), last_login_date), \
             failed_login_count = IF(failed_login_count >= ?, 1, failed_login_count + 1) \
             WHERE user = ?",
        )
        .bind(LOCK_TRIGGER_ATTEMPTS)
        .bind(LOCK_TRIGGER_ATTEMPTS)
        .bind(user)
        .execute(db)
        .await?;
        return Ok(Err(if good {
            LoginError::NotAllowed
        } else {
            LoginError::InvalidCredentials
        }));
    };
    sqlx::query(
        "UPDATE vicidial_users SET failed_login_count = 0, last_login_date = NOW() WHERE user = ?",
    )
    .bind(user)
    .execute(db)
    .await?;
    Ok(Ok(Agent {
        user: row.try_get("user")?,
        full_name: row.try_get("full_name")?,
        user_level: row.try_get("user_level")?,
        user_group: row.try_get("user_group")?,
        phone_login: row.try_get("phone_login")?,
    }))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// dialdeck's failed logins for `key` ([`user_key`]) within VICIdial's window, attempts under
/// way included: how many, and how long until the oldest of them leaves it.
pub async fn recent_failures(store: &Store, key: &str) -> anyhow::Result<(u32, Duration)> {
    let since = now() - LOCK_SECONDS;
    let (count, oldest): (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(failed_at) FROM login_failures WHERE user_key = ? AND failed_at > ?",
    )
    .bind(key)
    .bind(since)
    .fetch_one(store)
    .await?;
    let wait = oldest.map_or(0, |o| (o - since).max(1));
    Ok((count as u32, Duration::from_secs(wait as u64)))
}

/// A password check counted against its user name before it runs, so that parallel attempts
/// see each other: written as a failure first, taken back when it was none. An attempt cut
/// short (a timeout, a crash) stays counted, which only ever errs towards checking less.
#[derive(Debug)]
pub struct Attempt {
    key: String,
    id: String,
}

/// Starts an attempt for `key`, or says how long to wait when `max_failures` failures (with
/// the attempts under way) are already in VICIdial's window.
pub async fn begin_attempt(
    store: &Store,
    key: &str,
    max_failures: u32,
) -> anyhow::Result<Result<Attempt, Duration>> {
    let now = now();
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    sqlx::query("DELETE FROM login_failures WHERE failed_at <= ?")
        .bind(now - LOCK_SECONDS)
        .execute(store)
        .await?;
    sqlx::query("INSERT INTO login_failures (attempt, user_key, failed_at) VALUES (?, ?, ?)")
        .bind(&id)
        .bind(key)
        .bind(now)
        .execute(store)
        .await?;
    let attempt = Attempt {
        key: key.to_string(),
        id,
    };
    let (count, wait) = recent_failures(store, key).await?;
    if count > max_failures {
        attempt.void(store).await?;
        return Ok(Err(wait));
    }
    Ok(Ok(attempt))
}

impl Attempt {
    /// The password was wrong (or the user may not log in): it stays counted.
    pub fn failed(self) {}

    /// The login was good: every failure of the name is forgotten, as VICIdial clears its
    /// counter.
    pub async fn succeeded(self, store: &Store) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE user_key = ?")
            .bind(&self.key)
            .execute(store)
            .await?;
        Ok(())
    }

    /// No password was judged (locked, throttled, VICIdial unreachable): it does not count.
    pub async fn void(self, store: &Store) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE attempt = ?")
            .bind(&self.id)
            .execute(store)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_hash_matches_the_reference_vectors() {
        assert_eq!(
            vicidial_pass_hash("agentpass1", "k3yK3yk3yK3yk3yZ", 2).unwrap(),
            "NTVhc2Bi1gBb.lMgFsuJS8fyQTf/xPq"
        );
        assert_eq!(
            vicidial_pass_hash("agentpass1", "k3yK3yk3yK3yk3yZ", 10).unwrap(),
            "ymSqX4fn4qsZbTUSOJs7u9DQBwbg/Re"
        );
        assert_ne!(
            vicidial_pass_hash("agentpass2", "k3yK3yk3yK3yk3yZ", 2).unwrap(),
            "NTVhc2Bi1gBb.lMgFsuJS8fyQTf/xPq"
        );
        assert!(
            vicidial_pass_hash("x", "short", 2).is_none(),
            "pass_key must be 16 bytes"
        );
    }

    #[test]
    fn password_filter_is_vicidials() {
        assert_eq!(filter_password("agent pass"), "agent");
        assert_eq!(filter_password("a'g|e;n\"t&1"), "agent1");
        assert_eq!(filter_password("-.+/=_aZ9"), "-.+/=_aZ9");
    }

    #[test]
    fn user_filter_is_vicidials() {
        assert_eq!(filter_user(" 10'01 ").as_deref(), Some("1001"));
        assert_eq!(filter_user("';--"), Some("--".into()));
        assert_eq!(filter_user("'\""), None);
        assert_eq!(filter_user(&"a".repeat(21)), None);
        assert_eq!(user_key("AdMin"), "admin");
    }

    #[tokio::test]
    async fn attempts_are_counted_in_vicidials_window_before_they_run() {
        let dir = tempfile::tempdir().unwrap();
        attempts_in(&crate::store::open(dir.path()).await.unwrap()).await;
    }

    #[tokio::test]
    async fn attempts_are_shared_by_instances_on_mariadb() {
        let url = secrecy::SecretString::from(crate::test_support::empty_mariadb().await);
        attempts_in(&crate::store::connect(&url).await.unwrap()).await;
    }

    async fn attempts_in(store: &Store) {
        let store = store.clone();
        let first = begin_attempt(&store, "1001", 2).await.unwrap().unwrap();
        let second = begin_attempt(&store, "1001", 2).await.unwrap().unwrap();
        // Two under way: a third is refused before it runs, and says for how long.
        let wait = begin_attempt(&store, "1001", 2).await.unwrap().unwrap_err();
        assert!(
            wait > Duration::from_secs(890) && wait <= Duration::from_secs(900),
            "{wait:?}"
        );
        assert_eq!(
            recent_failures(&store, "1001").await.unwrap().0,
            2,
            "the refused one left no row"
        );
        begin_attempt(&store, "ghost", 2)
            .await
            .unwrap()
            .unwrap()
            .failed();
        first.failed();
        second.void(&store).await.unwrap();
        assert_eq!(recent_failures(&store, "1001").await.unwrap().0, 1);
        // A failure older than the window does not count.
        sqlx::query(
            "INSERT INTO login_failures (attempt, user_key, failed_at) VALUES ('old', '1001', ?)",
        )
        .bind(now() - LOCK_SECONDS - 5)
        .execute(&store)
        .await
        .unwrap();
        assert_eq!(recent_failures(&store, "1001").await.unwrap().0, 1);
        let good = begin_attempt(&store, "1001", 2).await.unwrap().unwrap();
        good.succeeded(&store).await.unwrap();
        assert_eq!(recent_failures(&store, "1001").await.unwrap().0, 0);
        assert_eq!(
            recent_failures(&store, "ghost").await.unwrap().0,
            1,
            "per name"
        );
    }
}
