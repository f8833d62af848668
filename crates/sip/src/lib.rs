//! A sans-IO SIP user agent for a browser softphone: SIP over WebSocket (RFC 7118).
//!
//! No sockets, no clock, no browser: the caller feeds inputs with
//! [`ua::UserAgent::handle_input`] and drains [`ua::UserAgent::poll_output`].
//! Time and randomness are injected, so every behaviour is testable in virtual time.

pub mod auth;
pub mod call;
pub mod challenge;
pub mod dialog;
pub mod msg;
pub mod random;
pub mod register;
pub mod timer;
pub mod transaction;
pub mod ua;
