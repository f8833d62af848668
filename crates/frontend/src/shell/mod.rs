//! The browser shell: every web-sys call of the app lives under this module.

pub mod frame;
pub mod http;
pub mod sse;
pub mod time;
