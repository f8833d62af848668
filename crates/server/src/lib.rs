//! dialdeck's server: one binary that serves the embedded frontend and the agent API.
//!
//! `main.rs` parses [`config::Config`] and calls [`run`]; tests call [`app`] with a state of
//! their own on a random port.

pub mod assets;
pub mod config;
pub mod disposition;
pub mod ghl;
pub mod http;
pub mod outbox;
pub mod session;
pub mod shift;
pub mod store;
pub mod vicidial;
pub mod wrapup;

#[cfg(test)]
pub(crate) mod test_support {
    /// A new empty database in the shared test MariaDB, as a `DIALDECK_STORE_URL`.
    pub async fn empty_mariadb() -> String {
        let db = dialdeck_vicidial_sim::mariadb::MariaDb::shared();
        let name = db.empty_database().await.expect("an empty test database");
        db.url(&name)
    }
}

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use tokio::net::TcpListener;

use crate::{config::Config, store::Store};

/// Shared state behind every request handler.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Store,
    outbox: Arc<outbox::Outbox>,
    vicidial: Option<Arc<vicidial::Vicidial>>,
    ghl: Option<ghl::GhlTarget>,
    ghl_setup: Arc<ghl::setup::GhlSetup>,
}

impl AppState {
    /// Builds the state from a validated configuration and an open store, with the
    /// disposition targets the configuration turns on.
    pub fn new(config: Config, store: Store) -> anyhow::Result<AppState> {
        let vicidial = vicidial::Vicidial::from_args(&config.vicidial)?;
        AppState::with_vicidial(config, store, vicidial, Vec::new())
    }

    /// Builds the state with an explicit VICIdial connection and extra targets (tests).
    pub fn with_vicidial(
        config: Config,
        store: Store,
        vicidial: Option<Arc<vicidial::Vicidial>>,
        extra_targets: Vec<Arc<dyn disposition::DispositionTarget>>,
    ) -> anyhow::Result<AppState> {
        let mut targets: Vec<Arc<dyn disposition::DispositionTarget>> = extra_targets;
        let ghl = ghl::GhlTarget::from_config(&config.ghl, store.clone())?;
        if let Some(ghl) = &ghl {
            targets.push(Arc::new(ghl.clone()));
        }
        let mut context: Option<Arc<dyn disposition::CallContext>> = None;
        if let Some(v) = &vicidial {
            targets.push(Arc::new(vicidial::target::VicidialTarget::new(v.clone())));
            context = Some(v.clone());
        }
        let outbox = outbox::Outbox::new(store.clone(), targets, context, config.outbox.clone());
        let mut state = AppState::with_outbox(config, store, outbox);
        let inner = Arc::get_mut(&mut state.inner).expect("fresh state");
        inner.vicidial = vicidial;
        inner.ghl_setup = Arc::new(ghl::setup::GhlSetup::new(ghl.is_some()));
        inner.ghl = ghl;
        Ok(state)
    }

    /// Checks the GHL set-up before the server starts serving (see [`ghl::setup`]): `Err` for a
    /// configuration error (a sale pipeline or stage GHL does not have), which must stop
    /// start-up; GHL not answering is logged and checked again by [`AppState::start_background`].
    pub async fn check_ghl_setup(&self) -> anyhow::Result<()> {
        let Some(ghl) = &self.inner.ghl else {
            return Ok(());
        };
        self.inner
            .ghl_setup
            .check_at_start(ghl)
            .await
            .map_err(|why| anyhow::anyhow!("invalid configuration: {why}"))
    }

    /// Starts the background tasks: outbox workers, the VICIdial live-state poller, and the
    /// GHL set-up check while GHL has not answered.
    pub fn start_background(&self) {
        self.outbox().start_workers();
        if let Some(v) = &self.inner.vicidial {
            tokio::spawn(vicidial::live::run(v.clone(), self.store().clone()));
            tokio::spawn(vicidial::deadline::run(self.clone()));
        }
        if let Some(ghl) = &self.inner.ghl {
            if self.inner.ghl_setup.pending() {
                let (setup, ghl) = (self.inner.ghl_setup.clone(), ghl.clone());
                tokio::spawn(async move { setup.keep_checking(ghl).await });
            }
        }
    }

    /// The GHL sync, when configured.
    pub fn ghl(&self) -> Option<&ghl::GhlTarget> {
        self.inner.ghl.as_ref()
    }

    /// Where the GHL set-up check stands (for `/readyz`).
    pub fn ghl_setup(&self) -> &ghl::setup::GhlSetup {
        &self.inner.ghl_setup
    }

    /// The VICIdial connection, when configured.
    pub fn vicidial(&self) -> Option<&Arc<vicidial::Vicidial>> {
        self.inner.vicidial.as_ref()
    }

    /// Builds the state around an outbox assembled by the caller (tests inject their own
    /// targets and VICIdial context this way).
    pub fn with_outbox(config: Config, store: Store, outbox: Arc<outbox::Outbox>) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                config,
                store,
                outbox,
                vicidial: None,
                ghl: None,
                ghl_setup: Arc::new(ghl::setup::GhlSetup::new(false)),
            }),
        }
    }

    /// The disposition outbox.
    pub fn outbox(&self) -> &Arc<outbox::Outbox> {
        &self.inner.outbox
    }

    /// The configuration the server started with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The server's store (embedded SQLite, or the shared MariaDB).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }
}

/// The whole HTTP application: API routes, embedded frontend, security headers, load limits.
/// Serve it with [`http::serve`] (connection limit, peer addresses for the login throttle).
pub fn app(state: AppState) -> axum::Router {
    http::router(state)
}

/// Opens the store, binds the listener and serves until SIGTERM or Ctrl-C, then lets in-flight
/// requests finish for `shutdown_grace_secs`.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let store = store::open_configured(&config.data_dir, config.store_url.as_ref()).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (DIALDECK_LISTEN)", config.listen))?;
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    let url = config.public_url();
    if assets::ASSETS.is_empty() {
        tracing::warn!("this binary was built without the frontend; run `cargo xtask build`");
    }
    let state = AppState::new(config, store.clone())?;
    state.check_ghl_setup().await?;
    state.start_background();
    tracing::info!(%url, "dialdeck is listening");
    println!("dialdeck is listening on {url}");

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    // With the peer address of each connection (the login throttle's per-IP key) and the
    // connection limit.
    let serve = http::serve(listener, state, async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let mut server = tokio::spawn(serve);
    let outcome = tokio::select! {
        res = &mut server => res.context("server task failed")?.context("server failed"),
        _ = stop_rx.changed() => match tokio::time::timeout(grace, server).await {
            Ok(res) => res.context("server task failed")?.context("server failed"),
            Err(_) => {
                tracing::warn!("in-flight requests did not finish within the grace period");
                Ok(())
            }
        },
    };
    store.close().await;
    tracing::info!("dialdeck stopped");
    outcome
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutdown requested");
}
