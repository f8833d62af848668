//! Server-enforced wrap-up: when an agent's call ends, the agent is in wrap-up until a
//! disposition for that call is accepted, and the server refuses a new dial meanwhile (the
//! browser's modal is not the only guard).
//!
//! The VICIdial live-state poller calls [`call_ended`]; the disposition endpoint calls
//! [`disposition_accepted`]; the dial endpoint asks [`current`].

use crate::store::Store;

/// An agent's unfinished wrap-up.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Wrapup {
    /// VICIdial agent user.
    pub user: String,
    /// The lead of the call that ended.
    pub lead_id: i64,
    /// The call's id (VICIdial uniqueid / callerid, or our dial id).
    pub call_id: String,
    /// The campaign of the call.
    pub campaign_id: Option<String>,
    /// Unix seconds.
    pub ended_at: i64,
}

/// Records that `user`'s call on `lead_id` ended. A second report of the same call is a no-op;
/// a report for another call replaces an older one only once that one was dispositioned (the
/// row is deleted then), so an undispositioned call is never forgotten.
pub async fn call_ended(
    store: &Store,
    user: &str,
    lead_id: i64,
    call_id: &str,
    campaign_id: Option<&str>,
) -> anyhow::Result<()> {
    let sql = format!(
        "{} INTO agent_wrapup (user, lead_id, call_id, campaign_id, ended_at) VALUES (?, ?, ?, ?, ?)",
        crate::store::dialect(store).insert_ignore()
    );
    sqlx::query(&sql)
        .bind(user)
        .bind(lead_id)
        .bind(call_id)
        .bind(campaign_id)
        .bind(chrono::Utc::now().timestamp())
        .execute(store)
        .await?;
    Ok(())
}

/// The agent's pending wrap-up, if any.
pub async fn current(store: &Store, user: &str) -> anyhow::Result<Option<Wrapup>> {
    Ok(sqlx::query_as::<_, Wrapup>(
        "SELECT user, lead_id, call_id, campaign_id, ended_at FROM agent_wrapup WHERE user = ?",
    )
    .bind(user)
    .fetch_optional(store)
    .await?)
}

/// Ends the wrap-up of `user` for `lead_id` (a disposition was accepted). Use the same
/// transaction that stores the disposition. Returns whether a wrap-up was ended.
pub async fn disposition_accepted<'e, E>(
    executor: E,
    user: &str,
    lead_id: i64,
) -> anyhow::Result<bool>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let done = sqlx::query("DELETE FROM agent_wrapup WHERE user = ? AND lead_id = ?")
        .bind(user)
        .bind(lead_id)
        .execute(executor)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Every agent in wrap-up (for admins and the deadline sweeper).
pub async fn all(store: &Store) -> anyhow::Result<Vec<Wrapup>> {
    Ok(sqlx::query_as::<_, Wrapup>(
        "SELECT user, lead_id, call_id, campaign_id, ended_at FROM agent_wrapup ORDER BY ended_at",
    )
    .fetch_all(store)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wrapup_lasts_until_the_disposition_for_that_lead() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::open(dir.path()).await.unwrap();
        assert!(current(&store, "1001").await.unwrap().is_none());
        call_ended(&store, "1001", 7, "M1234", Some("CAMP"))
            .await
            .unwrap();
        // A second (later) call end does not overwrite the undispositioned one.
        call_ended(&store, "1001", 8, "M9999", Some("CAMP"))
            .await
            .unwrap();
        assert_eq!(current(&store, "1001").await.unwrap().unwrap().lead_id, 7);
        assert!(!disposition_accepted(&store, "1001", 8).await.unwrap());
        assert!(disposition_accepted(&store, "1001", 7).await.unwrap());
        assert!(current(&store, "1001").await.unwrap().is_none());
        assert!(all(&store).await.unwrap().is_empty());
    }
}
