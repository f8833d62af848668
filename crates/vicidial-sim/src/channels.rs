//! The channels of each conference, as VICIdial's `AST_update.pl` keeps them from Asterisk
//! in `live_sip_channels` (SIP/IAX) and `live_channels` (the rest): one row per channel,
//! `extension` = the dialplan extension it sits in, for an agent's session the
//! `conf_exten`. `conf_exten_check.php` lists them to the agent screen, and the screen
//! knows from them whether the agent's phone is in its session.

use crate::{
    db::{self, Now},
    sim::{LedgerEntry, Shared},
};
use sqlx::MySqlPool;

/// Where an agent's session lives: its server, conference and phone (`SIP/cc1001`).
struct Session {
    server_ip: String,
    conf_exten: String,
    extension: String,
}

async fn session_of(pool: &MySqlPool, user: &str) -> anyhow::Result<Option<Session>> {
    let row = sqlx::query(
        "SELECT server_ip, COALESCE(conf_exten, '') AS conf_exten, COALESCE(extension, '') AS extension \
         FROM vicidial_live_agents WHERE user = ? LIMIT 1",
    )
    .bind(user)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Session {
        server_ip: db::s(&r, "server_ip"),
        conf_exten: db::s(&r, "conf_exten"),
        extension: db::s(&r, "extension"),
    }))
}

/// The agent's phone channels in its session conference: a channel of the phone is
/// `<extension>-<id>` (`SIP/cc1001-0000000a`), as the agent screen's
/// `protocol + '/' + extension` match finds it.
pub(crate) async fn phone_channels(pool: &MySqlPool, user: &str) -> anyhow::Result<Vec<String>> {
    let Some(s) = session_of(pool, user).await? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for table in ["live_sip_channels", "live_channels"] {
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT channel FROM {table} WHERE server_ip = ? AND extension = ? AND channel LIKE CONCAT(?, '-%') \
             ORDER BY channel"
        ))
        .bind(&s.server_ip)
        .bind(&s.conf_exten)
        .bind(&s.extension)
        .fetch_all(pool)
        .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// Whether a channel of the agent's phone is in its session conference.
pub(crate) async fn phone_in_session(pool: &MySqlPool, user: &str) -> anyhow::Result<bool> {
    Ok(!phone_channels(pool, user).await?.is_empty())
}

/// Every channel of a conference, `live_sip_channels` first, as `conf_exten_check.php`
/// lists them.
pub(crate) async fn conference(
    pool: &MySqlPool,
    server_ip: &str,
    conf_exten: &str,
) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for table in ["live_sip_channels", "live_channels"] {
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT channel FROM {table} WHERE server_ip = ? AND extension = ?"
        ))
        .bind(server_ip)
        .bind(conf_exten)
        .fetch_all(pool)
        .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// Adds a channel to a conference (`live_sip_channels`), as AST_update does when Asterisk
/// shows it in the room.
pub(crate) async fn add(
    pool: &MySqlPool,
    server_ip: &str,
    conf_exten: &str,
    channel: &str,
) -> anyhow::Result<()> {
    let group = channel.split('-').next().unwrap_or(channel);
    sqlx::query(
        "INSERT INTO live_sip_channels (channel, server_ip, channel_group, extension, channel_data) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(channel)
    .bind(server_ip)
    .bind(group)
    .bind(conf_exten)
    .bind(format!("{conf_exten},F"))
    .execute(pool)
    .await?;
    Ok(())
}

/// Removes channels of a conference whose name starts with `prefix`.
pub(crate) async fn remove(
    pool: &MySqlPool,
    server_ip: &str,
    conf_exten: &str,
    prefix: &str,
) -> anyhow::Result<()> {
    for table in ["live_sip_channels", "live_channels"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE server_ip = ? AND extension = ? AND channel LIKE CONCAT(?, '%')"
        ))
        .bind(server_ip)
        .bind(conf_exten)
        .bind(prefix)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// The agent's phone joins its session conference (idempotent: a phone already in the room
/// keeps its channel).
pub(crate) async fn phone_join(shared: &Shared, user: &str) -> anyhow::Result<String> {
    let pool = &shared.pool;
    let s = session_of(pool, user)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{user} is not logged in"))?;
    if let Some(existing) = phone_channels(pool, user).await?.into_iter().next() {
        return Ok(existing);
    }
    // Asterisk numbers channels with an 8-digit hex sequence.
    let channel = format!("{}-{:08x}", s.extension, shared.next_n());
    add(pool, &s.server_ip, &s.conf_exten, &channel).await?;
    shared.record(LedgerEntry::PhoneJoined {
        agent: user.to_string(),
        channel: channel.clone(),
        at: Now::get().utc,
    });
    Ok(channel)
}

/// The agent's phone leaves its session conference.
pub(crate) async fn phone_leave(shared: &Shared, user: &str) -> anyhow::Result<()> {
    let pool = &shared.pool;
    let s = session_of(pool, user)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{user} is not logged in"))?;
    for channel in phone_channels(pool, user).await? {
        remove(pool, &s.server_ip, &s.conf_exten, &channel).await?;
        shared.record(LedgerEntry::PhoneLeft {
            agent: user.to_string(),
            channel,
            at: Now::get().utc,
        });
    }
    Ok(())
}
