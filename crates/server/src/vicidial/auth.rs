//! Agent passwords checked exactly as VICIdial checks them (`agc/functions.php`
//! `user_authorization()`, `docs/ENCRYPTED_PASSWORDS.txt`; reference §7).
//!
//! VICIdial's lockout is honoured, not bypassed: ten failed logins lock a user for 15 minutes,
//! and a wrong password here counts toward that same `failed_login_count`, as a wrong
//! password on VICIdial's own login page does; a good one resets it.

use base64::{
    alphabet,
    engine::general_purpose::{GeneralPurpose, NO_PAD},
    Engine,
};
use sqlx::{MySqlPool, Row};

/// Why a login was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// Unknown user or wrong password (deliberately indistinguishable).
    #[error("wrong user or password")]
    InvalidCredentials,
    /// Ten failed logins in the last 15 minutes.
    #[error("too many failed logins; try again in 15 minutes")]
    LockedOut,
    /// `active='N'`, `user_level` 0, or an API-only account.
    #[error("this user may not log into the agent screen")]
    NotAllowed,
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

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Verifies `user`/`password` against `vicidial_users` and `system_settings`.
pub async fn verify(
    db: &MySqlPool,
    user: &str,
    password: &str,
) -> anyhow::Result<Result<Agent, LoginError>> {
    let user: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    if user.is_empty() || user.len() > 20 {
        return Ok(Err(LoginError::InvalidCredentials));
    }
    let settings =
        sqlx::query("SELECT pass_hash_enabled, pass_key, pass_cost FROM system_settings LIMIT 1")
            .fetch_one(db)
            .await?;
    let hash_enabled: String = settings.try_get("pass_hash_enabled")?;
    let pass_key: String = settings.try_get("pass_key")?;
    let pass_cost: u8 = settings.try_get("pass_cost")?;
    let Some(row) = sqlx::query(
        "SELECT user, pass, pass_hash, COALESCE(full_name, '') AS full_name, user_level, active, api_only_user, \
         COALESCE(phone_login, '') AS phone_login, failed_login_count, \
         (failed_login_count >= 10 AND UNIX_TIMESTAMP(last_login_date) >= UNIX_TIMESTAMP(NOW()) - 900) AS locked \
         FROM vicidial_users WHERE user = ?",
    )
    .bind(&user)
    .fetch_optional(db)
    .await?
    else {
        return Ok(Err(LoginError::InvalidCredentials));
    };
    if row.try_get::<i64, _>("locked")? != 0 {
        return Ok(Err(LoginError::LockedOut));
    }
    let good = if hash_enabled == "1" {
        let stored: String = row.try_get("pass_hash")?;
        vicidial_pass_hash(password, &pass_key, pass_cost as u32).is_some_and(|h| {
            !stored.is_empty() && constant_time_eq(h.as_bytes(), stored.as_bytes())
        })
    } else {
        let stored: String = row.try_get("pass")?;
        !stored.is_empty()
            && constant_time_eq(filter_password(password).as_bytes(), stored.as_bytes())
    };
    if !good {
        sqlx::query(
            "UPDATE vicidial_users SET failed_login_count = LEAST(failed_login_count + 1, 250), \
             last_login_date = NOW() WHERE user = ?",
        )
        .bind(&user)
        .execute(db)
        .await?;
        return Ok(Err(LoginError::InvalidCredentials));
    }
    let active: String = row.try_get("active")?;
    let level: u8 = row.try_get("user_level")?;
    let api_only: String = row.try_get("api_only_user")?;
    if active != "Y" || level == 0 || api_only == "1" {
        return Ok(Err(LoginError::NotAllowed));
    }
    sqlx::query(
        "UPDATE vicidial_users SET failed_login_count = 0, last_login_date = NOW() WHERE user = ?",
    )
    .bind(&user)
    .execute(db)
    .await?;
    Ok(Ok(Agent {
        user: row.try_get("user")?,
        full_name: row.try_get("full_name")?,
        user_level: level as i64,
        phone_login: row.try_get("phone_login")?,
    }))
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
}
