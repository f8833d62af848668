//! The browser shell: every web-sys call of the app lives under this module.

pub mod http;
