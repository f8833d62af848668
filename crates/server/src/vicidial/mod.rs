//! VICIdial integration (reference: `shared/reference/vicidial.md`).
//!
//! VICIdial's own agent screen (`agc/vicidial.php`) runs for each agent in a hidden frame of
//! the browser and is the state machine; the server drives it through the Agent API (which
//! only queues requests), reads the truth from VICIdial's MariaDB, and pushes each agent's
//! live state to that agent's browser.

pub mod api;
pub mod auth;
pub mod call;
pub mod campaign;
pub mod config;
pub mod db;
pub mod deadline;
pub mod desk;
pub mod live;
pub mod login;
pub mod phone;
pub mod records;
pub mod routes;
pub mod target;

use std::sync::Arc;

use secrecy::ExposeSecret;
use sqlx::{mysql::MySqlPoolOptions, MySqlPool};

pub use self::config::VicidialArgs;

/// The VICIdial connection: database, API clients and live state.
pub struct Vicidial {
    /// Settings.
    pub args: VicidialArgs,
    /// VICIdial's MariaDB.
    pub db: MySqlPool,
    /// Agent and Non-Agent API clients.
    pub api: api::VicidialApi,
    /// Live agent rows, refreshed by [`live::run`].
    pub live: live::LiveHub,
}

impl Vicidial {
    /// Connects lazily (the server starts even if VICIdial is down) when configured.
    pub fn from_args(args: &VicidialArgs) -> anyhow::Result<Option<Arc<Vicidial>>> {
        let Some(url) = &args.db_url else {
            return Ok(None);
        };
        let options: sqlx::mysql::MySqlConnectOptions = url
            .expose_secret()
            .parse()
            .map_err(|_| anyhow::anyhow!("DIALDECK_VICIDIAL_DB_URL is not a usable MariaDB URL"))?;
        // VICIdial's own PHP never sets a session time zone, so its DATETIMEs are in the
        // server's zone and NOW() is local time; sqlx would set +00:00 and make every NOW()
        // dialdeck writes (login counters) and every DATETIME it reads hours off.
        let db = MySqlPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(std::time::Duration::from_secs(3))
            .connect_lazy_with(options.timezone(None));
        Ok(Some(Vicidial::with_pool(args.clone(), db)?))
    }

    /// Over an existing pool (tests).
    pub fn with_pool(args: VicidialArgs, db: MySqlPool) -> anyhow::Result<Arc<Vicidial>> {
        let api = api::VicidialApi::new(&args)?;
        Ok(Arc::new(Vicidial {
            args,
            db,
            api,
            live: live::LiveHub::default(),
        }))
    }

    /// `agc/vicidial.php` on the configured web server.
    pub fn screen_url(&self) -> String {
        format!(
            "{}/agc/vicidial.php",
            self.args
                .web_url
                .as_deref()
                .unwrap_or("")
                .trim_end_matches('/')
        )
    }
}
