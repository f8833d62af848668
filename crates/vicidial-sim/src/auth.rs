//! `user_authorization()` of `agc/functions.php` and `vicidial/functions.php` (reference §2.1
//! and §7): password (plain or VICIdial's bcrypt `pass_hash`), level, active, lockout after ten
//! failures for 15 minutes, and at least one active telephony server.

use base64::Engine;
use sqlx::MySqlPool;

use crate::{db, params::filter_password};

/// Failed logins that lock a user.
pub const LOCK_TRIGGER_ATTEMPTS: i64 = 10;
/// How long the lock lasts, in seconds.
pub const LOCK_SECONDS: i64 = 900;

/// The `auth_message` of `user_authorization()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthResult {
    Good,
    Bad,
    Lock,
    ErrServers,
}

impl AuthResult {
    /// The text VICIdial echoes in its error lines.
    pub fn message(self) -> &'static str {
        match self {
            AuthResult::Good => "GOOD",
            AuthResult::Bad => "BAD",
            AuthResult::Lock => "LOCK",
            AuthResult::ErrServers => "ERRSERVERS",
        }
    }
}

/// Which front end is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// `agc/api.php`: `user_level > 0`, the counters are not reset on success.
    AgentApi,
    /// `vicidial/non_agent_api.php`: `user_level > 6`.
    NonAgentApi,
    /// `agc/vicidial.php`: `user_level > 0`, not `api_only_user`; success resets the counter.
    AgentScreen,
    /// The screen's AJAX calls (`conf_exten_check.php`, `user_update` 0): `user_level > 0`;
    /// success leaves the counters alone. With `pass_is_hash` (`bcrypt` left at its default
    /// 1) and hashing on, `pass` is compared with `pass_hash` as given.
    ScreenPoll { pass_is_hash: bool },
}

/// VICIdial's `pass_hash`: bcrypt `$2a$` of the filtered password + NUL, salt = the 16 bytes
/// of `pass_key`, only the 31-character hash part kept.
pub fn vicidial_pass_hash(password: &str, pass_key: &str, cost: u32) -> Option<String> {
    let salt: [u8; 16] = pass_key.as_bytes().try_into().ok()?;
    let mut bytes = filter_password(password).into_bytes();
    bytes.push(0);
    bytes.truncate(72);
    let out = bcrypt::bcrypt(cost, salt, &bytes);
    Some(bcrypt::BASE_64.encode(&out[..23]))
}

/// Checks `user`/`pass` (both already filtered) and updates the failure counters as VICIdial
/// does.
pub async fn user_authorization(
    pool: &MySqlPool,
    user: &str,
    pass: &str,
    caller: Caller,
) -> anyhow::Result<AuthResult> {
    let settings = sqlx::query(
        "SELECT COALESCE(pass_hash_enabled, '0') AS pass_hash_enabled, COALESCE(pass_key, '') AS pass_key, \
         CAST(COALESCE(pass_cost, 2) AS SIGNED) AS pass_cost FROM system_settings LIMIT 1",
    )
    .fetch_one(pool)
    .await?;
    let (pass_sql, pass_value) = if db::s(&settings, "pass_hash_enabled") == "1" {
        if let Caller::ScreenPoll { pass_is_hash: true } = caller {
            ("pass_hash = ?", pass.to_string())
        } else {
            let hash = vicidial_pass_hash(
                pass,
                &db::s(&settings, "pass_key"),
                db::n(&settings, "pass_cost") as u32,
            );
            (
                "pass_hash = ?",
                hash.unwrap_or_else(|| "-no-hash-".to_string()),
            )
        }
    } else {
        ("pass = ?", pass.to_string())
    };
    let level = if caller == Caller::NonAgentApi { 6 } else { 0 };
    let api_only = if caller == Caller::AgentScreen {
        "AND api_only_user != '1'"
    } else {
        ""
    };
    let sql = format!(
        "SELECT COUNT(*) FROM vicidial_users WHERE user = ? AND {pass_sql} AND user_level > {level} AND active = 'Y' \
         AND (failed_login_count < {LOCK_TRIGGER_ATTEMPTS} OR UNIX_TIMESTAMP(last_login_date) < UNIX_TIMESTAMP() - {LOCK_SECONDS}) {api_only}"
    );
    let count: i64 = sqlx::query_scalar(&sql)
        .bind(user)
        .bind(&pass_value)
        .fetch_one(pool)
        .await?;
    if count < 1 {
        let row = sqlx::query(
            "SELECT CAST(failed_login_count AS SIGNED) AS failed, \
             CAST(COALESCE(UNIX_TIMESTAMP(last_login_date), 0) AS SIGNED) AS last_login, \
             CAST(UNIX_TIMESTAMP() AS SIGNED) AS now FROM vicidial_users WHERE user = ?",
        )
        .bind(user)
        .fetch_optional(pool)
        .await?;
        let Some(row) = row else {
            return Ok(AuthResult::Bad);
        };
        if db::n(&row, "failed") < LOCK_TRIGGER_ATTEMPTS {
            sqlx::query("UPDATE vicidial_users SET failed_login_count = failed_login_count + 1, last_ip = '127.0.0.1' WHERE user = ?")
                .bind(user)
                .execute(pool)
                .await?;
            return Ok(AuthResult::Bad);
        }
        if db::n(&row, "now") - LOCK_SECONDS > db::n(&row, "last_login") {
            sqlx::query("UPDATE vicidial_users SET last_login_date = NOW(), failed_login_count = 1, last_ip = '127.0.0.1' WHERE user = ?")
                .bind(user)
                .execute(pool)
                .await?;
            return Ok(AuthResult::Bad);
        }
        return Ok(AuthResult::Lock);
    }
    if caller == Caller::AgentScreen {
        sqlx::query("UPDATE vicidial_users SET last_login_date = NOW(), last_ip = '127.0.0.1', failed_login_count = 0 WHERE user = ?")
            .bind(user)
            .execute(pool)
            .await?;
    }
    let servers: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM servers WHERE active = 'Y' AND active_asterisk_server = 'Y'",
    )
    .fetch_one(pool)
    .await?;
    Ok(if servers > 0 {
        AuthResult::Good
    } else {
        AuthResult::ErrServers
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_hash_matches_the_reference_vectors() {
        assert_eq!(
            vicidial_pass_hash("agentpass1", "k3yK3yk3yK3yk3yZ", 2).as_deref(),
            Some("NTVhc2Bi1gBb.lMgFsuJS8fyQTf/xPq")
        );
        assert_eq!(
            vicidial_pass_hash("agentpass1", "k3yK3yk3yK3yk3yZ", 10).as_deref(),
            Some("ymSqX4fn4qsZbTUSOJs7u9DQBwbg/Re")
        );
    }
}
