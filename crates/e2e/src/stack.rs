//! The whole product on one machine, without VICIdial, Asterisk or GoHighLevel: the stack the
//! demo (`dialdeck-demo`, `cargo xtask run`) and the end-to-end shift test run.
//!
//! [`Stack::start`] brings up, on loopback and free ports:
//! - a MariaDB with VICIdial's schema, its seed ([`seed`]: campaign `TESTCAMP`, statuses, pause
//!   codes, hotkeys, callbacks, agents and their phones, leads) and the demo's own rows
//!   ([`DEMO_ROWS`]: the telephony server and the phones moved to the lab's Kamailio);
//! - the SIP lab ([`lab`]): Kamailio (with JSON-RPC for the dialog list), rtpengine, and SIPp as
//!   VICIdial's conference rooms ([`EchoRoom`]): a phone that joins its session conference is
//!   answered and hears its own voice (the room always echoes; nothing in the lab mutes it
//!   until a customer answers);
//! - the VICIdial simulator over that database, with the telephony stand-in
//!   ([`Telephony`]) keeping `live_sip_channels` equal to Kamailio's dialogs to the rooms;
//! - the GoHighLevel simulator, with the sale pipeline and stage dialdeck is configured for;
//! - the real `dialdeck` binary configured for all of them.
//!
//! Everything listens on 127.0.0.1 (rtpengine's media on [`StackOptions::rtp_interface`]), so
//! the stack runs inside a test's network namespace ([`lab::run_in_netns`]) as well as beside
//! other services outside one. Dropping the [`Stack`] stops every process it started (each by
//! its PID and process group; MariaDB through its watchdog) in reverse order.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{bail, Context};
use dialdeck_ghl_sim::{GhlSim, RunningSim, SimConfig as GhlConfig};
use dialdeck_vicidial_sim::{
    mariadb::MariaDb,
    seed,
    telephony::{Telephony, TelephonyOptions},
    SimOptions, VicidialSim,
};
use sqlx::{mysql::MySqlPoolOptions, MySqlPool};

use crate::{
    lab::{self, EchoRoom, Lab, LabConfig},
    process::{DialdeckOptions, DialdeckServer},
};

/// The demo's agent: VICIdial user `1001` (phone `cc1001`).
pub const DEMO_USER: &str = "1001";
/// [`DEMO_USER`]'s password (the seed's plain password).
pub const DEMO_PASSWORD: &str = seed::PLAIN_PASSWORD;
/// The GHL location dialdeck syncs to.
pub const GHL_LOCATION: &str = "demoLocation";
/// The GHL Private Integration token dialdeck uses (the simulator accepts any).
pub const GHL_TOKEN: &str = "demo-private-token";
/// The GHL pipeline and stage sales become won opportunities in (the simulator's default
/// pipeline).
pub const GHL_SALE_PIPELINE: (&str, &str) = ("pipeSales", "stageWon");
/// rtpengine's media ports (below Linux's ephemeral range, so outgoing connections never hold
/// them).
pub const RTP_PORTS: (u16, u16) = (30000, 30999);

/// The telephony server's `server_ip`: the lab's Kamailio. VICIdial names a server by its IPv4
/// address (`servers.server_ip` holds 15 characters and its screen's polls carry it).
pub const TELEPHONY_SERVER_IP: &str = "127.0.0.1";

/// The demo's rows on top of the seed, with `{server_ip}` ([`TELEPHONY_SERVER_IP`]),
/// `{domain}` (the lab's SIP domain) and `{ws_url}` filled in: the telephony server is the lab's
/// Kamailio and every phone lives there. The phones use the server's external address
/// (`use_external_server_ip`, as VICIdial's WebRTC phones behind NAT do), which is the lab's
/// SIP domain: Kamailio treats that name as itself on every port, which a bare 127.0.0.1 could
/// not be (the SIPp parties listen there). The seed's phones are webphones
/// (`is_webphone='Y'`), so dialdeck's softphone dials the session conference itself.
pub const DEMO_ROWS: &[&str] = &[
    "UPDATE servers SET server_ip = '{server_ip}', web_socket_url = '{ws_url}', \
     external_server_ip = '{domain}', external_web_socket_url = ''",
    "UPDATE phones SET server_ip = '{server_ip}', use_external_server_ip = 'Y'",
    "UPDATE vicidial_campaigns SET campaign_name = 'Demo campaign' WHERE campaign_id = 'TESTCAMP'",
];

/// How to run the stack.
#[derive(Clone, Debug)]
pub struct StackOptions {
    /// The `dialdeck` binary.
    pub dialdeck_bin: PathBuf,
    /// Where dialdeck listens (port 0: a free one); a free port on 127.0.0.1 when `None`.
    pub listen: Option<SocketAddr>,
    /// The address rtpengine's media binds to and offers in ICE. 127.0.0.1 works inside a
    /// network namespace and outside one: a browser on the same machine pairs its own host
    /// candidate (e.g. the address of `eth0`) with rtpengine's loopback one and the kernel
    /// delivers over `lo` (seen with headless Chromium without any loopback flag). A browser
    /// that refuses loopback candidates needs an address of this machine here.
    pub rtp_interface: IpAddr,
    /// How long after a manual dial the simulated customer answers.
    pub answer_after: Duration,
    /// How long a phone's room call outlives its closed WebSocket ([`LabConfig::room_grace`]).
    pub room_grace: Duration,
}

impl StackOptions {
    /// Loopback media, a free port for dialdeck, customers answering after 300 ms, the lab's
    /// usual grace for closed WebSockets.
    pub fn new(dialdeck_bin: PathBuf) -> StackOptions {
        StackOptions {
            dialdeck_bin,
            listen: None,
            rtp_interface: IpAddr::V4(Ipv4Addr::LOCALHOST),
            answer_after: Duration::from_millis(300),
            room_grace: lab::ROOM_GRACE,
        }
    }
}

/// The running stack. Fields drop in order: dialdeck first, MariaDB last.
pub struct Stack {
    dialdeck: DialdeckServer,
    /// The URL agents open (`http://<listen>`).
    pub url: String,
    /// The telephony stand-in (`live_sip_channels` from Kamailio's dialogs).
    pub telephony: Telephony,
    /// The VICIdial simulator (its controls: ledger, scripted numbers, customer hang-up).
    pub vicidial: VicidialSim,
    /// The GoHighLevel simulator (its contacts, opportunities, ledger).
    pub ghl: RunningSim,
    /// The conference rooms.
    pub rooms: EchoRoom,
    /// Kamailio and rtpengine, and the lab's folder (configuration, logs, SIP dumps).
    pub lab: Lab,
    /// VICIdial's database.
    pub db: MySqlPool,
    /// VICIdial's database as dialdeck is given it (`mysql://` over the Unix socket).
    pub db_url: String,
    _maria: MariaDb,
}

impl Stack {
    /// Starts everything (needs a Tokio runtime; MariaDB, Kamailio, rtpengine and SIPp from
    /// Debian on PATH).
    pub async fn start(opts: StackOptions) -> anyhow::Result<Stack> {
        let maria = MariaDb::start().context("MariaDB")?;
        let name = maria.seeded_database().await?;
        let db = MySqlPoolOptions::new()
            .max_connections(8)
            .connect_with(maria.options(&name))
            .await?;

        // The lab's accounts are VICIdial's phones, as Asterisk's are.
        let users: Vec<(String, String)> = sqlx::query_as(
            "SELECT extension, conf_secret FROM phones WHERE active = 'Y' AND protocol = 'SIP' \
             AND conf_secret <> '' ORDER BY extension",
        )
        .fetch_all(&db)
        .await?;
        let mut lab = Lab::start_with(LabConfig {
            room_grace: opts.room_grace,
            ..LabConfig::free_ports(opts.rtp_interface, RTP_PORTS, users)?
        })
        .context("the SIP lab")?;
        let rooms = EchoRoom::start(&lab, free_media_port()?).context("the conference rooms")?;
        let ws_url = lab.ws_url();
        for sql in DEMO_ROWS {
            let sql = sql
                .replace("{server_ip}", TELEPHONY_SERVER_IP)
                .replace("{domain}", lab::DOMAIN)
                .replace("{ws_url}", &ws_url);
            sqlx::query(&sql).execute(&db).await?;
        }

        // After the server rows moved: the simulator gives the lab's server its rooms.
        let vicidial = VicidialSim::start(
            db.clone(),
            SimOptions {
                poll_interval: Duration::from_secs(1),
                answer_after: opts.answer_after,
            },
        )
        .await?;
        let rpc_url = lab.rpc_url().context("the lab has no JSON-RPC")?;
        let telephony = Telephony::start(
            db.clone(),
            TelephonyOptions::new(rpc_url, TELEPHONY_SERVER_IP),
        );

        let ghl = GhlSim::start(GhlConfig {
            pipelines: vec![(
                GHL_SALE_PIPELINE.0.to_string(),
                vec![GHL_SALE_PIPELINE.1.to_string()],
            )],
            ..GhlConfig::default()
        })
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "the GHL simulator: {e} (DIALDECK_GHL_SPEC_DIR names GHL's OpenAPI folder)"
            )
        })?;

        let db_url = maria.url(&name);
        let env: Vec<(&str, String)> = vec![
            ("DIALDECK_PHONE_WS_ORIGINS", ws_url.clone()),
            ("DIALDECK_VICIDIAL_DB_URL", db_url.clone()),
            ("DIALDECK_VICIDIAL_WEB_URL", vicidial.base_url()),
            ("DIALDECK_VICIDIAL_API_USER", seed::API_USER.into()),
            ("DIALDECK_VICIDIAL_API_PASS", seed::API_PASS.into()),
            ("DIALDECK_VICIDIAL_POLL_MS", "500".into()),
            ("DIALDECK_GHL_BASE_URL", ghl.url.clone()),
            ("DIALDECK_GHL_LOCATION_ID", GHL_LOCATION.into()),
            ("DIALDECK_GHL_PRIVATE_TOKEN", GHL_TOKEN.into()),
            ("DIALDECK_GHL_SALE_PIPELINE_ID", GHL_SALE_PIPELINE.0.into()),
            ("DIALDECK_GHL_SALE_STAGE_ID", GHL_SALE_PIPELINE.1.into()),
        ];
        let dialdeck = DialdeckServer::start_with(DialdeckOptions {
            binary: opts.dialdeck_bin.clone(),
            listen: opts.listen,
            log: Some(lab.dir.path().join("dialdeck.log")),
            env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        })
        .await
        .with_context(|| {
            format!(
                "dialdeck ({}); its log:\n{}",
                opts.dialdeck_bin.display(),
                tail(&lab.dir.path().join("dialdeck.log"), 40)
            )
        })?;
        lab_alive(&mut lab)?;
        Ok(Stack {
            url: dialdeck.url.clone(),
            dialdeck,
            telephony,
            vicidial,
            ghl,
            rooms,
            lab,
            db,
            db_url,
            _maria: maria,
        })
    }

    /// Kamailio's SIP over WebSocket URL (the phones' `servers.web_socket_url`).
    pub fn ws_url(&self) -> String {
        self.lab.ws_url()
    }

    /// The folder with every log: `dialdeck.log`, `kamailio.log`, `rtpengine.log`,
    /// `rooms.log`, the SIP dumps.
    pub fn log_dir(&self) -> &Path {
        self.lab.dir.path()
    }

    /// The processes the stack started itself, as (name, PID): dialdeck, Kamailio, rtpengine
    /// and the rooms' SIPp. (MariaDB runs under its own watchdog, which stops it when this
    /// process goes, however it goes.)
    pub fn pids(&self) -> Vec<(&'static str, u32)> {
        let mut pids = vec![("dialdeck", self.dialdeck.process.pid())];
        pids.extend(self.lab.pids());
        pids.push(("sipp (rooms)", self.rooms.pid()));
        pids
    }

    /// Fails if a process of the stack has exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        self.dialdeck.process.check_running()?;
        self.lab.check_running()?;
        self.rooms.check_running()
    }

    /// The last `lines` lines of each log, for a failure message.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut out = String::new();
        for name in [
            "dialdeck.log",
            "kamailio.log",
            "rtpengine.log",
            "rooms.log",
            "rooms_errors.log",
        ] {
            let path = self.log_dir().join(name);
            out.push_str(&format!("--- {name}\n{}\n", tail(&path, lines)));
        }
        out
    }
}

/// Fails with Kamailio's log if a lab process died during start-up.
fn lab_alive(lab: &mut Lab) -> anyhow::Result<()> {
    if let Err(e) = lab.check_running() {
        bail!("{e:#}; Kamailio's log:\n{}", lab.kamailio_log());
    }
    Ok(())
}

/// The last `lines` lines of the file at `path` (empty if it cannot be read).
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A UDP port on 127.0.0.1 with the next three free too (SIPp's echo takes RTP, RTCP and the
/// video pair above its media port).
fn free_media_port() -> anyhow::Result<u16> {
    for _ in 0..100 {
        let first = lab::free_udp_port()?;
        if first > u16::MAX - 4 {
            continue;
        }
        if (1..4).all(|i| UdpSocket::bind(("127.0.0.1", first + i)).is_ok()) {
            return Ok(first);
        }
    }
    bail!("no four free UDP ports in a row on 127.0.0.1")
}
