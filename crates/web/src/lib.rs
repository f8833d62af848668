//! What dialdeck's two browser modules share: the login page (`dialdeck-frontend`, the first
//! load) and the desk (`dialdeck-desk`, loaded after login). Each module links its own copy;
//! only what both need lives here, so the login page stays small.
//!
//! Everything here touches web-sys or renders signals; the text helpers are plain functions
//! (tested natively).

pub mod focus;
pub mod http;
pub mod js;
pub mod status;
pub mod text;
pub mod time;
