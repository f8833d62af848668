//! The server's embedded store: a SQLite file (WAL) in the data directory, created on first run
//! and migrated at start-up.

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    SqlitePool,
};

/// File name of the SQLite database inside the data directory.
pub const DB_FILE: &str = "dialdeck.sqlite3";

/// Opens (creating if needed) the store in `data_dir` and applies pending migrations.
pub async fn open(data_dir: &Path) -> anyhow::Result<SqlitePool> {
    std::fs::create_dir_all(data_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot create data directory {} (DIALDECK_DATA_DIR): {e}",
            data_dir.display()
        )
    })?;
    let path = data_dir.join(DB_FILE);
    let options = SqliteConnectOptions::from_str("sqlite:")?
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open store {}: {e}", path.display()))?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}

/// Cheap liveness probe of the store for `/readyz`.
pub async fn ping(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn creates_the_database_file_and_migrates_twice() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("nested/data");
        let pool = open(&data).await.unwrap();
        assert!(data.join(DB_FILE).is_file());
        let mode: (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(mode.0, "wal");
        pool.close().await;
        // Re-opening an existing store is a no-op migration.
        let pool = open(&data).await.unwrap();
        ping(&pool).await.unwrap();
    }
}
