//! The browser shell: every web-sys call of the app lives under this module.

pub mod audio;
pub mod clock;
pub mod frame;
pub mod http;
pub mod rtc;
pub mod sse;
pub mod stats;
pub mod time;
pub mod ws;
