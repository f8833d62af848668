//! GoHighLevel (LeadConnector API v2) sync: a [`DispositionTarget`](crate::disposition::DispositionTarget)
//! named `ghl` that records dispositions on the lead's GHL contact.
//!
//! - [`config`]: `DIALDECK_GHL_*` settings (GHL is optional).
//! - [`client`]: authentication, the `Version` header, typed errors ([`GhlError`]).
//! - [`ratelimit`]: one limiter per location fed by the `X-RateLimit-*` headers.
//! - [`contact`]: E.164 numbers and finding or creating the contact.
//! - [`sync`]: the status-flag → GHL mapping, idempotency, and [`GhlTarget`].
//! - [`setup`]: the start-up check of the credentials and the sale pipeline.
//!
//! Tests run against `dialdeck-ghl-sim`, which validates every request against GHL's OpenAPI.

pub mod client;
pub mod config;
pub mod contact;
pub mod ratelimit;
pub mod setup;
pub mod sync;

pub use self::{
    client::{GhlClient, GhlError},
    config::GhlArgs,
    sync::GhlTarget,
};
