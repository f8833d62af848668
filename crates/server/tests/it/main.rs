//! The server's integration tests, one binary (STYLE.md).

mod dispo;
mod ghl;
mod login;
mod outbox;
mod outbox_batch;
mod vicidial;
mod vicidial_flow;
