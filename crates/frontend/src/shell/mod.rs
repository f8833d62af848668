//! The browser shell: every web-sys call of the app lives under this module.

pub mod clock;
pub mod http;
pub mod rtc;
pub mod stats;
pub mod ws;
