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
//!   writing the session rows, and a page that holds the agent's password (or its hash) in
//!   its script and polls `agc/conf_exten_check.php` every second with what vicidial.php
//!   sends. The form's fields are [`LOGIN_FORM_FIELDS`]. Without `JS_browser_height` the
//!   login dies as stock vicidial.php 2.14 does on PHP 8: the session rows are written, then
//!   `Fatal error: Uncaught TypeError: Unsupported operand types: string - int` (HTTP 200,
//!   headers were already sent), no page script, so nothing ever polls. A second login of the
//!   same agent replaces the first as VICIdial's does (old row deleted, leads left
//!   `INCALL`/`QUEUE` become `ERI`, the room the phone holds reused; the old page's polls
//!   get `Logged-in: DEAD_VLA` and act on nothing).
//! * `agc/conf_exten_check.php` with 2.14-54's checks and answers (`Invalid
//!   Username/Password: |...|`, `Invalid server_ip: ... or Invalid session_name: ...`,
//!   `Invalid session_name: |..|..|`, `Conf Exten ... is not valid`), the status line with
//!   `client=vdc`, and the conference's channels from `live_sip_channels`/`live_channels`.
//!   Each poll refreshes `vicidial_live_agents.last_update_time` (a classic TIMESTAMP, so any
//!   other write to the row refreshes it too, api.php's included, as in VICIdial); a screen
//!   that is not running refreshes nothing.
//! * The agent screen itself: each poll ([`VicidialSim::tick`], a browser's
//!   `conf_exten_check.php` request, or the virtual screen of [`VicidialSim::start_screen`])
//!   consumes the queued requests as vicidial.php's JavaScript does: manual dial, answer,
//!   hangup, `updateDISPO` with callbacks and DNC, pause/resume, pause codes, DTMF, logout.
//!   No polls, no effects ([`VicidialSim::screen_gone`]). A queued dial is taken from the
//!   third poll on and only while the agent's phone is in the session conference; until
//!   then it stays queued and is placed whenever the phone joins.
//! * The conference's channels as VICIdial's `AST_update.pl` records them from Asterisk:
//!   [`VicidialSim::phone_join`] / [`VicidialSim::phone_leave`] put a channel of the agent's
//!   phone (`SIP/cc1001-0000000a`) into / out of `live_sip_channels`; an answered
//!   customer's channel joins the room too. Sub-statuses (`DIAL`, `DEAD`, `DISPO`, ...) are
//!   read from the database as non_agent_api.php reads them (a customer who hung up leaves
//!   no `vicidial_auto_calls` row).
//! * A [ledger](VicidialSim::ledger) of every effect, and faults: API down (HTTP 503) or slow,
//!   scripted busy / no-answer numbers, the customer hanging up.
//!
//! Test controls over HTTP (for tests in other processes), all `POST` unless noted:
//! `GET /__sim/ledger` (JSON), `/__sim/api_down/{true|false}`, `/__sim/api_delay_ms/{ms}`,
//! `/__sim/script/{phone}/{answer|busy|no_answer}`, `/__sim/login/{user}/{campaign}/{phone_login}`
//! (answers the `conf_exten`), `/__sim/screen/{user}/start`, `/__sim/screen/{user}/gone`,
//! `/__sim/customer_hangup/{user}`, `/__sim/channel/{user}/{join|leave}` (the agent's phone
//! in or out of its session conference).

mod agent_api;
mod auth;
mod channels;
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
pub use screen::{LoginRefused, LOGIN_FORM_FIELDS};
pub use sim::{Api, Callback, LedgerEntry, Outcome, SimOptions, VicidialSim};
pub use tables::install_extra_tables;
