//! The server's own store: sessions, wrap-ups, dispositions and the outbox.
//!
//! By default an embedded SQLite file (WAL) in the data directory, created on first run. For
//! several server instances behind a load balancer, `DIALDECK_STORE_URL` points every instance
//! at one MariaDB/MySQL database instead: sessions, wrap-ups and outbox jobs are then shared,
//! and workers of all instances claim jobs with `FOR UPDATE SKIP LOCKED`.
//!
//! Both go through sqlx's runtime-generic driver ([`Store`] is an `AnyPool`); the few
//! statements whose SQL differs between the two ask [`dialect`].

use std::{path::Path, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
    AnyPool, Executor,
};

/// The store's connection pool (SQLite or MariaDB, decided by the configuration).
pub type Store = AnyPool;

/// File name of the SQLite database inside the data directory.
pub const DB_FILE: &str = "dialdeck.sqlite3";

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static MYSQL_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/mysql");

/// Which SQL the store speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// The embedded default.
    Sqlite,
    /// MariaDB (or MySQL), shared by several instances.
    MySql,
}

impl Dialect {
    /// `INSERT` that silently skips a row whose key exists.
    pub fn insert_ignore(self) -> &'static str {
        match self {
            Dialect::Sqlite => "INSERT OR IGNORE",
            Dialect::MySql => "INSERT IGNORE",
        }
    }

    /// The clause after `INSERT … VALUES (…)` that updates `columns` from the new row when a
    /// row with the same `key` exists.
    pub fn upsert(self, key: &str, columns: &[&str]) -> String {
        match self {
            Dialect::Sqlite => {
                let set: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{c} = excluded.{c}"))
                    .collect();
                format!("ON CONFLICT({key}) DO UPDATE SET {}", set.join(", "))
            }
            Dialect::MySql => {
                let set: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{c} = VALUES({c})"))
                    .collect();
                format!("ON DUPLICATE KEY UPDATE {}", set.join(", "))
            }
        }
    }
}

/// The dialect of `store`.
pub fn dialect(store: &Store) -> Dialect {
    dialect_of_url(store.connect_options().database_url.scheme())
}

fn dialect_of_url(scheme: &str) -> Dialect {
    if scheme.starts_with("sqlite") {
        Dialect::Sqlite
    } else {
        Dialect::MySql
    }
}

/// Opens the configured store: the database at `url` when given (`DIALDECK_STORE_URL`),
/// otherwise the SQLite file in `data_dir`.
pub async fn open_configured(data_dir: &Path, url: Option<&SecretString>) -> anyhow::Result<Store> {
    match url {
        Some(url) => connect(url).await,
        None => open(data_dir).await,
    }
}

/// Opens (creating if needed) the SQLite store in `data_dir` and applies pending migrations.
pub async fn open(data_dir: &Path) -> anyhow::Result<Store> {
    sqlx::any::install_default_drivers();
    std::fs::create_dir_all(data_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot create data directory {} (DIALDECK_DATA_DIR): {e}",
            data_dir.display()
        )
    })?;
    let path = std::path::absolute(data_dir.join(DB_FILE))?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        percent_encode_path(&path.to_string_lossy())
    );
    let options: AnyConnectOptions = url.parse()?;
    let pool = sqlite_pool(8).connect_lazy_with(options);
    // WAL is a property of the file: set once, before anything else uses it.
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&pool)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open store {}: {e}", path.display()))?;
    SQLITE_MIGRATIONS.run(&pool).await?;
    Ok(pool)
}

/// Pool options for SQLite connections: every connection gets the same pragmas.
fn sqlite_pool(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // Per connection (journal_mode is per file and set once in `open`).
                conn.execute("PRAGMA synchronous = NORMAL").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                conn.execute("PRAGMA busy_timeout = 5000").await?;
                Ok(())
            })
        })
}

/// Connects to a shared MariaDB/MySQL store at `url` and applies pending migrations (sqlx
/// serialises concurrent migrators with a database lock, so instances may start together).
pub async fn connect(url: &SecretString) -> anyhow::Result<Store> {
    sqlx::any::install_default_drivers();
    let options: AnyConnectOptions = url
        .expose_secret()
        .parse()
        .map_err(|e| anyhow::anyhow!("DIALDECK_STORE_URL cannot be parsed: {}", redact(&e)))?;
    let pool = mysql_pool(16).connect_with(options).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot connect to the store (DIALDECK_STORE_URL): {}",
            redact(&e)
        )
    })?;
    MYSQL_MIGRATIONS.run(&pool).await?;
    Ok(pool)
}

/// Pool options for MariaDB connections.
fn mysql_pool(max: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // Claims lock single rows; READ COMMITTED keeps gap locks out of their way.
                conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    .await?;
                conn.execute("SET SESSION innodb_lock_wait_timeout = 10")
                    .await?;
                Ok(())
            })
        })
}

/// A second pool on the same database as `store` (the outbox workers' own connections).
pub fn sibling(store: &Store, max: u32) -> Store {
    let options = (*store.connect_options()).clone();
    match dialect(store) {
        Dialect::Sqlite => sqlite_pool(max).connect_lazy_with(options),
        Dialect::MySql => mysql_pool(max).connect_lazy_with(options),
    }
}

/// A text column of `row`: SQLite gives text, MariaDB's `TEXT` types arrive as bytes through
/// the runtime-generic driver.
pub fn text(row: &sqlx::any::AnyRow, column: usize) -> Result<String, sqlx::Error> {
    use sqlx::Row;
    match row.try_get::<String, _>(column) {
        Ok(s) => Ok(s),
        Err(text_err) => match row.try_get::<Vec<u8>, _>(column) {
            Ok(bytes) => String::from_utf8(bytes).map_err(|e| sqlx::Error::ColumnDecode {
                index: column.to_string(),
                source: Box::new(e),
            }),
            Err(_) => Err(text_err),
        },
    }
}

/// Cheap liveness probe of the store for `/readyz`.
pub async fn ping(pool: &Store) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

/// An error's text without anything that looks like a URL's credentials.
fn redact(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    match (text.find("://"), text.find('@')) {
        (Some(a), Some(b)) if b > a => format!("{}://***{}", &text[..a], &text[b..]),
        _ => text,
    }
}

fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn creates_the_database_file_and_migrates_twice() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("nested/da ta?#");
        let pool = open(&data).await.unwrap();
        assert!(data.join(DB_FILE).is_file());
        assert_eq!(dialect(&pool), Dialect::Sqlite);
        let mode: (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(mode.0, "wal");
        let fk: (i64,) = sqlx::query_as("PRAGMA foreign_keys")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(fk.0, 1, "every connection enforces foreign keys");
        pool.close().await;
        // Re-opening an existing store is a no-op migration.
        let pool = open(&data).await.unwrap();
        ping(&pool).await.unwrap();
    }

    #[tokio::test]
    async fn a_shared_mariadb_store_migrates_and_names_its_dialect() {
        let url = SecretString::from(crate::test_support::empty_mariadb().await);
        let pool = connect(&url).await.unwrap();
        assert_eq!(dialect(&pool), Dialect::MySql);
        // A second instance starting against the same database applies nothing twice.
        let again = connect(&url).await.unwrap();
        let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox_jobs")
            .fetch_one(&again)
            .await
            .unwrap();
        assert_eq!(n.0, 0);
        ping(&pool).await.unwrap();
    }

    #[tokio::test]
    async fn an_unreachable_store_is_named_without_its_password() {
        let url = SecretString::from("mysql://dd:hunter2@127.0.0.1:1/dialdeck".to_string());
        let err = connect(&url).await.unwrap_err().to_string();
        assert!(err.contains("DIALDECK_STORE_URL"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn dialects_write_their_own_upserts() {
        assert_eq!(
            Dialect::Sqlite.upsert("k", &["a", "b"]),
            "ON CONFLICT(k) DO UPDATE SET a = excluded.a, b = excluded.b"
        );
        assert_eq!(
            Dialect::MySql.upsert("k", &["a"]),
            "ON DUPLICATE KEY UPDATE a = VALUES(a)"
        );
        assert_eq!(dialect_of_url("sqlite"), Dialect::Sqlite);
        assert_eq!(dialect_of_url("mariadb"), Dialect::MySql);
        assert_eq!(percent_encode_path("/a b/c?"), "/a%20b/c%3F");
    }
}
