//! VICIdial test and development infrastructure (not product code).
//!
//! [`mariadb::MariaDb`] runs a real MariaDB on loopback with VICIdial's schema
//! (`shared/reference/vicidial-schema.sql`), and [`seed`] fills a database with a realistic
//! call centre: system settings, a telephony server with its WebSocket URL, agents with plain
//! and bcrypt passwords and their phones, campaigns with system and campaign statuses, leads
//! and an API user.
//!
//! [`VicidialSim`] is a faithful simulator of the parts of VICIdial dialdeck talks to, over
//! such a database (reference `shared/reference/vicidial.md`):
//!
//! * `agc/api.php` (Agent API): checks and answers byte for byte as api.php 2.14-81; every
//!   function only queues a request in an `external_*` column of `vicidial_live_agents`.
//! * `vicidial/non_agent_api.php`: `version`, `agent_status`, `logged_in_agents`,
//!   `update_lead`, `update_log_entry`, `add_dnc_phone`, `lead_all_info`.
//! * `agc/vicidial.php`: the agent login (plain or bcrypt passwords, lockout, phone login)
//!   writing the session rows, and a page that polls `agc/conf_exten_check.php` every second.
//! * The agent screen itself: each poll ([`VicidialSim::tick`], a browser's
//!   `conf_exten_check.php` request, or the virtual screen of [`VicidialSim::start_screen`])
//!   consumes the queued requests as vicidial.php's JavaScript does: manual dial, answer,
//!   hangup, `updateDISPO` with callbacks and DNC, pause codes, DTMF, logout. No polls, no
//!   effects ([`VicidialSim::screen_gone`]).
//! * A [ledger](VicidialSim::ledger) of every effect, and faults: API down (HTTP 503) or slow,
//!   scripted busy / no-answer numbers, the customer hanging up.
//!
//! Test controls over HTTP (for tests in other processes), all `POST` unless noted:
//! `GET /__sim/ledger` (JSON), `/__sim/api_down/{true|false}`, `/__sim/api_delay_ms/{ms}`,
//! `/__sim/script/{phone}/{answer|busy|no_answer}`, `/__sim/login/{user}/{campaign}/{phone_login}`
//! (answers the `conf_exten`), `/__sim/screen/{user}/start`, `/__sim/screen/{user}/gone`,
//! `/__sim/customer_hangup/{user}`.

mod agent_api;
mod auth;
mod db;
pub mod mariadb;
mod non_agent_api;
pub mod params;
mod screen;
pub mod seed;
mod sim;
mod tables;
pub mod telephony;

pub use auth::vicidial_pass_hash;
pub use screen::LoginRefused;
pub use sim::{Api, Callback, LedgerEntry, Outcome, SimOptions, VicidialSim};
pub use tables::install_extra_tables;
