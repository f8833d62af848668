//! VICIdial test and development infrastructure (not product code).
//!
//! [`mariadb::MariaDb`] runs a real MariaDB on loopback with VICIdial's schema
//! (`shared/reference/vicidial-schema.sql`), and [`seed`] fills a database with a realistic
//! call centre: system settings, a telephony server with its WebSocket URL, agents with plain
//! and bcrypt passwords and their phones, a campaign with system and campaign statuses, and
//! leads.

pub mod mariadb;
pub mod seed;
