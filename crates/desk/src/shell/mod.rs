//! The browser shell: every web-sys call of the desk lives under this module (or in
//! `dialdeck-web`, which the login page shares: `focus`, `http` and `time`).

pub mod audio;
pub mod clock;
pub mod frame;
pub mod history;
pub mod keyboard;
pub mod rtc;
pub mod sse;
pub mod stats;
pub mod storage;
pub mod ws;

pub use dialdeck_web::{focus, http, time};
