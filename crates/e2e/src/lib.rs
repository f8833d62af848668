//! End-to-end test infrastructure (not product code): starts the real `dialdeck` binary and
//! headless Chromium through chromedriver, and drives the page over WebDriver.
//!
//! Everything binds to 127.0.0.1; every process started here is stopped by its own PID when its
//! guard drops. `cargo xtask test` builds the release binary and points `DIALDECK_BIN` at it.

pub mod crash;
pub mod lab;
pub mod process;
pub mod stack;
pub mod webdriver;

pub use crash::CrashableServer;
pub use process::{free_port, DialdeckOptions, DialdeckServer, Guard};
pub use webdriver::{Browser, ChromeDriver};
