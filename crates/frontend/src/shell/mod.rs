//! The browser shell: every web-sys call of the app lives under this module.

pub mod audio;
pub mod clock;
pub mod focus;
pub mod frame;
pub mod history;
pub mod http;
pub mod keyboard;
pub mod rtc;
pub mod sse;
pub mod stats;
pub mod storage;
pub mod time;
pub mod ws;
