//! Outbox settings (`DIALDECK_OUTBOX_*`).

use clap::Args;

/// How the outbox workers run.
#[derive(Clone, Debug, Args)]
pub struct OutboxArgs {
    /// Worker tasks applying dispositions to their targets.
    #[arg(
        long = "outbox-workers",
        env = "DIALDECK_OUTBOX_WORKERS",
        default_value_t = 4
    )]
    pub workers: usize,
    /// Due jobs a worker claims at once (one claim query per batch); the batch's jobs are
    /// applied concurrently, each within half the lease.
    #[arg(
        long = "outbox-claim-batch",
        env = "DIALDECK_OUTBOX_CLAIM_BATCH",
        default_value_t = 32
    )]
    pub claim_batch: usize,
    /// Seconds a worker holds a claimed job before another may take it over.
    #[arg(
        long = "outbox-lease-secs",
        env = "DIALDECK_OUTBOX_LEASE_SECS",
        default_value_t = 60
    )]
    pub lease_secs: u64,
    /// Attempts before a job is parked for an admin.
    #[arg(
        long = "outbox-max-attempts",
        env = "DIALDECK_OUTBOX_MAX_ATTEMPTS",
        default_value_t = 25
    )]
    pub max_attempts: u32,
    /// First retry delay in milliseconds (doubles each attempt, with full jitter).
    #[arg(
        long = "outbox-backoff-base-ms",
        env = "DIALDECK_OUTBOX_BACKOFF_BASE_MS",
        default_value_t = 500
    )]
    pub backoff_base_ms: u64,
    /// Longest retry delay in seconds.
    #[arg(
        long = "outbox-backoff-max-secs",
        env = "DIALDECK_OUTBOX_BACKOFF_MAX_SECS",
        default_value_t = 300
    )]
    pub backoff_max_secs: u64,
    /// Longest disposition notes accepted, in characters.
    #[arg(
        long = "notes-max-chars",
        env = "DIALDECK_NOTES_MAX_CHARS",
        default_value_t = 2000
    )]
    pub notes_max_chars: usize,
}

impl Default for OutboxArgs {
    fn default() -> OutboxArgs {
        OutboxArgs {
            workers: 4,
            claim_batch: 32,
            lease_secs: 60,
            max_attempts: 25,
            backoff_base_ms: 500,
            backoff_max_secs: 300,
            notes_max_chars: 2000,
        }
    }
}

impl OutboxArgs {
    /// Checks values that clap accepts but the outbox cannot use.
    pub fn validate(&self) -> Result<(), crate::config::ConfigError> {
        let bad = |variable, problem: &str| {
            Err(crate::config::ConfigError {
                variable,
                problem: problem.to_string(),
            })
        };
        if self.workers == 0 {
            return bad("DIALDECK_OUTBOX_WORKERS", "must be at least 1");
        }
        if self.claim_batch == 0 || self.claim_batch > 1000 {
            return bad("DIALDECK_OUTBOX_CLAIM_BATCH", "must be from 1 to 1000");
        }
        if self.lease_secs < 2 {
            return bad("DIALDECK_OUTBOX_LEASE_SECS", "must be at least 2");
        }
        if self.max_attempts == 0 {
            return bad("DIALDECK_OUTBOX_MAX_ATTEMPTS", "must be at least 1");
        }
        Ok(())
    }
}
