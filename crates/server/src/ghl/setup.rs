//! The GHL set-up, checked when the server starts ([`GhlTarget::check_setup`]): the
//! credentials work and the configured sale pipeline and stage exist.
//!
//! A pipeline or stage GHL does not have is a configuration error: start-up stops with a
//! message naming `DIALDECK_GHL_SALE_PIPELINE_ID` or `DIALDECK_GHL_SALE_STAGE_ID` (every sale
//! would fail otherwise). GHL being unreachable is not: dialdeck starts and serves (dispositions
//! wait in the outbox), logs it, checks again with growing pauses until GHL answers, and
//! `/readyz` shows the `ghl` check failing meanwhile.

use std::{sync::Mutex, time::Duration};

use dialdeck_shared::ReadinessCheck;

use super::{sync::SetupError, GhlTarget};

/// How long start-up waits for GHL's first answer before it goes on without it.
pub const FIRST_CHECK_WAIT: Duration = Duration::from_secs(5);

/// First pause between checks while GHL cannot be reached (doubling up to [`RETRY_MAX`]).
const RETRY_FIRST: Duration = Duration::from_secs(1);
/// Longest pause between checks.
const RETRY_MAX: Duration = Duration::from_secs(60);

/// Where the set-up check stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetupState {
    /// GHL sync is not configured: nothing to check.
    Off,
    /// Not answered yet.
    Checking,
    /// GHL answered and the configured ids exist.
    Ready,
    /// GHL could not be asked; checked again later.
    Unavailable(String),
    /// A configured id does not exist in GHL.
    Misconfigured(String),
}

/// The check's state, shared by start-up, the retry task and `/readyz`.
#[derive(Debug)]
pub struct GhlSetup {
    state: Mutex<SetupState>,
}

impl GhlSetup {
    /// A set-up to check (`configured`) or none.
    pub fn new(configured: bool) -> GhlSetup {
        GhlSetup {
            state: Mutex::new(if configured {
                SetupState::Checking
            } else {
                SetupState::Off
            }),
        }
    }

    /// The current state.
    pub fn state(&self) -> SetupState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, state: SetupState) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }

    /// Whether a later check is still needed.
    pub fn pending(&self) -> bool {
        matches!(
            self.state(),
            SetupState::Checking | SetupState::Unavailable(_)
        )
    }

    /// The `ghl` line of `/readyz`, when GHL is configured.
    pub fn readiness(&self) -> Option<ReadinessCheck> {
        let (ok, detail) = match self.state() {
            SetupState::Off => return None,
            SetupState::Ready => (true, None),
            SetupState::Checking => (false, Some("GHL has not answered yet".to_string())),
            SetupState::Unavailable(why) => (
                false,
                Some(format!(
                    "{why}; dispositions wait in the outbox and dialdeck keeps checking"
                )),
            ),
            SetupState::Misconfigured(why) => (false, Some(why)),
        };
        Some(ReadinessCheck {
            name: "ghl".into(),
            ok,
            detail,
            required: false,
        })
    }

    /// One check, recorded. `Err` only for a configuration error.
    pub async fn check(&self, target: &GhlTarget) -> Result<(), String> {
        match target.check_setup().await {
            Ok(()) => {
                if self.state() != SetupState::Ready {
                    tracing::info!("GHL set-up checked: credentials and sale pipeline are good");
                }
                self.set(SetupState::Ready);
                Ok(())
            }
            Err(SetupError::Misconfigured(why)) => {
                tracing::error!(problem = %why, "GHL set-up is wrong");
                self.set(SetupState::Misconfigured(why.clone()));
                Err(why)
            }
            Err(e @ SetupError::Unavailable(_)) => {
                let why = e.to_string();
                tracing::warn!(problem = %why, "GHL set-up cannot be checked yet");
                self.set(SetupState::Unavailable(why));
                Ok(())
            }
        }
    }

    /// The start-up check: waits [`FIRST_CHECK_WAIT`] at most for GHL. `Err` (stop start-up)
    /// only for a configuration error; GHL not answering leaves the check to
    /// [`GhlSetup::keep_checking`].
    pub async fn check_at_start(&self, target: &GhlTarget) -> Result<(), String> {
        match tokio::time::timeout(FIRST_CHECK_WAIT, self.check(target)).await {
            Ok(result) => result,
            Err(_) => {
                let why = format!("GHL did not answer within {} s", FIRST_CHECK_WAIT.as_secs());
                tracing::warn!(problem = %why, "GHL set-up cannot be checked yet");
                self.set(SetupState::Unavailable(why));
                Ok(())
            }
        }
    }

    /// Checks again, with growing pauses, until GHL answers (or reports a configuration
    /// error, which is logged and shown by `/readyz`: the server is serving by then).
    pub async fn keep_checking(&self, target: GhlTarget) {
        let mut pause = RETRY_FIRST;
        while self.pending() {
            tokio::time::sleep(pause).await;
            let _ = self.check(&target).await;
            pause = (pause * 2).min(RETRY_MAX);
        }
    }
}
