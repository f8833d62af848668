//! The SIP lab for the softphone's end-to-end tests and the demo: Kamailio (registrar + proxy,
//! SIP over WebSocket), rtpengine (WebRTC <-> plain RTP) and SIPp (a plain-RTP party with
//! scripted behaviour, and [`EchoRoom`], VICIdial's conference rooms), all from Debian, with the
//! project's own configuration (`crates/e2e/lab/`).
//!
//! Every softphone test runs in a network namespace of its own that has only `lo`
//! ([`run_in_netns`]): the test binary re-executes itself inside it with `nsenter`, so the
//! lab's fixed ports ([`LabConfig::fixed`]), the real dialdeck server, chromedriver and Chromium
//! all live on that namespace's 127.0.0.1 and ICE never sees a real interface. The namespace is
//! deleted afterwards; every process is stopped by its own [`Guard`]. The demo stack
//! ([`crate::stack`]) runs the same lab on free loopback ports ([`LabConfig::free_ports`]), so
//! it also runs beside other services outside a namespace.

use std::{
    net::{IpAddr, Ipv4Addr, TcpListener, TcpStream, UdpSocket},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};

use crate::process::Guard;

/// Kamailio's configuration (see its header for the defines).
pub const KAMAILIO_CFG: &str = include_str!("../lab/kamailio.cfg");
/// The SIP domain and digest realm of the lab.
pub const DOMAIN: &str = "siplab.test";
/// Kamailio's WebSocket listener inside the namespace ([`LabConfig::fixed`]).
pub const WS_URL: &str = "ws://127.0.0.1:8080";
/// Where calls to `sipp` and `9xxx` go: the SIPp party ([`LabConfig::fixed`]).
pub const SIPP_PORT: u16 = 5090;
/// The default [`LabConfig::room_grace`].
pub const ROOM_GRACE: Duration = Duration::from_secs(15);
/// SIPp's scenario for VICIdial's conference rooms ([`EchoRoom`]).
pub const ROOM_SCENARIO: &str = include_str!("../lab/sipp/uas-room.xml");

/// The environment variable that marks the process running inside the namespace.
const INSIDE: &str = "DIALDECK_LAB_NETNS";

/// A lab user: (user, password). The same accounts as VICIdial's seed (phones
/// `cc1001`/`cc1002` with their `conf_secret`).
pub const USERS: &[(&str, &str)] = &[("cc1001", "sip-secret-1001"), ("cc1002", "sip-secret-1002")];

/// Runs the test `name` (its full path as libtest prints it) inside a fresh network
/// namespace that has only `lo`. Returns `None` in the outer process (after the inner run
/// passed; it panics if the inner run failed) and `Some(namespace)` inside, where the
/// caller runs the test body.
pub fn run_in_netns(name: &str) -> Option<String> {
    if let Ok(ns) = std::env::var(INSIDE) {
        return Some(ns);
    }
    static N: AtomicU32 = AtomicU32::new(0);
    let ns = format!(
        "dd{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let netns = Netns::create(&ns).unwrap_or_else(|e| {
        panic!("cannot create network namespace {ns} (the lab needs root and iproute2): {e:#}")
    });
    let exe = std::env::current_exe().expect("test binary path");
    let status = Command::new("nsenter")
        .arg(format!("--net=/var/run/netns/{}", netns.name))
        .arg("--")
        .arg(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, &netns.name)
        .status()
        .expect("nsenter");
    drop(netns);
    assert!(
        status.success(),
        "{name} failed inside its network namespace: {status}"
    );
    None
}

/// A network namespace with only `lo` (up), deleted on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn create(name: &str) -> anyhow::Result<Netns> {
        run("ip", &["netns", "add", name])?;
        let ns = Netns {
            name: name.to_string(),
        };
        run("ip", &["-n", name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run("ip", &["netns", "delete", &self.name]);
    }
}

fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Waits until something accepts TCP connections on `127.0.0.1:port`.
pub fn wait_tcp(port: u16, timeout: Duration, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("{what} not listening on 127.0.0.1:{port} after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// rtpengine's addresses.
#[derive(Clone, Debug)]
pub struct RtpengineConfig {
    /// The address its media ports bind to and that it offers in SDP and ICE.
    pub interface: IpAddr,
    /// Its ng control port (UDP, 127.0.0.1).
    pub ng_port: u16,
    /// The range its media ports come from.
    pub ports: (u16, u16),
}

/// Where the lab's parts listen (Kamailio on 127.0.0.1 only) and who may register.
#[derive(Clone, Debug)]
pub struct LabConfig {
    /// Plain SIP, UDP and TCP.
    pub sip_port: u16,
    /// SIP over WebSocket.
    pub ws_port: u16,
    /// JSON-RPC over HTTP (`/RPC`), for the telephony stand-in; none when `None`.
    pub rpc_port: Option<u16>,
    /// rtpengine for calls between WebRTC and plain RTP; none when `None`.
    pub rtpengine: Option<RtpengineConfig>,
    /// The per-test SIPp party (calls to `sipp` and `9xxx`).
    pub gw_port: u16,
    /// The conference rooms' SIPp ([`EchoRoom`]; calls to 86000xx, 9600xxx, 29600xxx).
    pub room_port: u16,
    /// How long a phone's room dialog outlives its closed WebSocket (a closed tab sends no
    /// BYE) before Kamailio ends it, unless the phone reconnects and re-INVITEs.
    pub room_grace: Duration,
    /// SIP accounts: (user, password).
    pub users: Vec<(String, String)>,
}

impl LabConfig {
    /// The fixed ports of a test's own namespace: ws://127.0.0.1:8080, udp/tcp 5060, the
    /// SIPp party on 5090, rtpengine (when `with_rtpengine`) on ng 2223 and media 30000-30999
    /// at 127.0.0.1, the [`USERS`].
    pub fn fixed(with_rtpengine: bool) -> LabConfig {
        LabConfig {
            sip_port: 5060,
            ws_port: 8080,
            rpc_port: None,
            rtpengine: with_rtpengine.then_some(RtpengineConfig {
                interface: IpAddr::V4(Ipv4Addr::LOCALHOST),
                ng_port: 2223,
                ports: (30000, 30999),
            }),
            gw_port: SIPP_PORT,
            room_port: 5092,
            room_grace: ROOM_GRACE,
            users: USERS
                .iter()
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .collect(),
        }
    }

    /// Free loopback ports for everything, JSON-RPC on, rtpengine on `rtp_interface` with
    /// media ports from `rtp_ports`, and `users`.
    pub fn free_ports(
        rtp_interface: IpAddr,
        rtp_ports: (u16, u16),
        users: Vec<(String, String)>,
    ) -> anyhow::Result<LabConfig> {
        Ok(LabConfig {
            sip_port: free_udp_and_tcp_port()?,
            ws_port: crate::free_port(),
            rpc_port: Some(crate::free_port()),
            rtpengine: Some(RtpengineConfig {
                interface: rtp_interface,
                ng_port: free_udp_port()?,
                ports: rtp_ports,
            }),
            gw_port: free_udp_port()?,
            room_port: free_udp_port()?,
            room_grace: ROOM_GRACE,
            users,
        })
    }
}

/// A UDP port free on 127.0.0.1 now.
pub fn free_udp_port() -> anyhow::Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A port free on 127.0.0.1 for both UDP and TCP (SIP listens on both).
fn free_udp_and_tcp_port() -> anyhow::Result<u16> {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0")?;
        let port = udp.local_addr()?.port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no port free for both UDP and TCP on 127.0.0.1")
}

/// Kamailio (and rtpengine when asked), running in the current namespace.
pub struct Lab {
    /// Per-run folder: configuration, user table, SIP dumps, logs.
    pub dir: tempfile::TempDir,
    /// Where everything listens.
    pub config: LabConfig,
    kamailio: Option<Guard>,
    rtpengine: Option<Guard>,
}

impl Lab {
    /// Starts Kamailio on ws://127.0.0.1:8080 (and udp/tcp 5060) with the [`USERS`], plus
    /// rtpengine for calls to the SIPp gateway when `with_rtpengine` ([`LabConfig::fixed`]).
    pub fn start(with_rtpengine: bool) -> anyhow::Result<Lab> {
        Lab::start_with(LabConfig::fixed(with_rtpengine))
    }

    /// Starts the lab as `config` says, in a fresh folder.
    pub fn start_with(config: LabConfig) -> anyhow::Result<Lab> {
        let dir = tempfile::Builder::new().prefix("dialdeck-lab").tempdir()?;
        let db = dir.path().join("kamailio-db");
        std::fs::create_dir_all(&db)?;
        std::fs::create_dir_all(dir.path().join("sipdump"))?;
        std::fs::write(
            db.join("version"),
            "id(int,auto) table_name(string) table_version(int) \n0:version:1\n0:subscriber:7\n",
        )?;
        let mut subscriber =
            String::from("id(int,auto) username(string) domain(string) password(string) ha1(string) ha1b(string) \n");
        for (i, (user, pass)) in config.users.iter().enumerate() {
            // db_text splits on ':' and has no escaping: refuse what it would misread.
            if [user, pass]
                .iter()
                .any(|v| v.is_empty() || v.contains([':', '\n', '\\']))
            {
                bail!("SIP account {user:?} cannot be written to db_text (empty, ':', newline or '\\')");
            }
            // db_text reads an empty column as NULL: ha1/ha1b get a placeholder, since
            // calculate_ha1 uses the plain password anyway.
            subscriber.push_str(&format!("{}:{user}:{DOMAIN}:{pass}:x:x\n", i + 1));
        }
        std::fs::write(db.join("subscriber"), subscriber)?;
        std::fs::write(dir.path().join("kamailio.cfg"), KAMAILIO_CFG)?;
        let rtpengine = match &config.rtpengine {
            Some(rtp) => Some(start_rtpengine(dir.path(), rtp)?),
            None => None,
        };
        let mut lab = Lab {
            dir,
            config,
            kamailio: None,
            rtpengine,
        };
        lab.start_kamailio()?;
        Ok(lab)
    }

    /// `ws://127.0.0.1:<ws port>`, the phones' SIP over WebSocket URL.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.config.ws_port)
    }

    /// Kamailio's JSON-RPC URL, when it has one.
    pub fn rpc_url(&self) -> Option<String> {
        self.config
            .rpc_port
            .map(|p| format!("http://127.0.0.1:{p}/RPC"))
    }

    /// Calls Kamailio's JSON-RPC `method` with `params` (needs [`LabConfig::rpc_port`]);
    /// returns its `result`.
    pub async fn rpc(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let url = self.rpc_url().context("this lab has no JSON-RPC port")?;
        // xhttp closes each connection after its reply: never reuse one.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()?;
        let answer: serde_json::Value = http
            .post(url)
            .json(
                &serde_json::json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1}),
            )
            .send()
            .await?
            .json()
            .await?;
        if let Some(err) = answer.get("error") {
            bail!("Kamailio's {method} failed: {err}");
        }
        Ok(answer.get("result").cloned().unwrap_or_default())
    }

    /// Kamailio closes every WebSocket connection (`ws.close`, as when the network drops the
    /// phones); returns how many it closed.
    pub async fn drop_websockets(&self) -> anyhow::Result<usize> {
        let dump = self.rpc("ws.dump", serde_json::json!([])).await?;
        // Each connection is a line "<id>: ws:<ip>:<port> -> ws:<ip>:<port> (state: ...)".
        let ids: Vec<i64> = dump["connections"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str()?.split(':').next()?.trim().parse().ok())
            .collect();
        for id in &ids {
            self.rpc("ws.close", serde_json::json!([id])).await?;
        }
        Ok(ids.len())
    }

    /// Fails if Kamailio or rtpengine has exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        for guard in [&mut self.kamailio, &mut self.rtpengine]
            .into_iter()
            .flatten()
        {
            guard.check_running()?;
        }
        Ok(())
    }

    /// The processes running now: (name, PID).
    pub fn pids(&self) -> Vec<(&'static str, u32)> {
        let mut pids = Vec::new();
        if let Some(k) = &self.kamailio {
            pids.push(("kamailio", k.pid()));
        }
        if let Some(r) = &self.rtpengine {
            pids.push(("rtpengine", r.pid()));
        }
        pids
    }

    fn start_kamailio(&mut self) -> anyhow::Result<()> {
        let d = self.dir.path();
        let c = &self.config;
        let define = |k: &str, v: &Path| format!("{k}=\"{}\"", v.display());
        let mut cmd = Command::new("kamailio");
        cmd.args(["-DD", "-E", "-f"])
            .arg(d.join("kamailio.cfg"))
            .arg("-w")
            .arg(d)
            .arg("-A")
            .arg(format!(
                "DBURL=\"text://{}\"",
                d.join("kamailio-db").display()
            ))
            .arg("-A")
            .arg(define("DUMP_DIR", &d.join("sipdump")))
            .arg("-A")
            .arg(define("RPC_FIFO", &d.join("kamailio_rpc.fifo")))
            .arg("-A")
            .arg(format!(
                "CTL_SOCK=\"unix:{}\"",
                d.join("kamailio_ctl").display()
            ));
        for (k, v) in [
            ("SIP_PORT", c.sip_port),
            ("WS_PORT", c.ws_port),
            ("GW_PORT", c.gw_port),
            ("ROOM_PORT", c.room_port),
        ] {
            cmd.arg("-A").arg(format!("{k}={v}"));
        }
        cmd.arg("-A")
            .arg(format!("ROOM_GRACE=\"{}\"", c.room_grace.as_secs().max(1)))
            .arg("-A")
            .arg(format!("GW_ADDR=\"sip:127.0.0.1:{}\"", c.gw_port))
            .arg("-A")
            .arg(format!("ROOM_ADDR=\"sip:127.0.0.1:{}\"", c.room_port));
        if let Some(port) = c.rpc_port {
            cmd.arg("-A").arg(format!("RPC_PORT={port}"));
        }
        if let Some(rtp) = &c.rtpengine {
            cmd.args(["-A", "WITH_RTPENGINE", "-A"])
                .arg(format!("RTPE_NG=\"udp:127.0.0.1:{}\"", rtp.ng_port));
        }
        let ports: Vec<u16> = [Some(c.ws_port), c.rpc_port]
            .into_iter()
            .flatten()
            .collect();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("kamailio.log"))?;
        cmd.stdout(Stdio::null()).stderr(log);
        let mut guard = Guard::spawn("kamailio", &mut cmd)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while ports
            .iter()
            .any(|p| TcpStream::connect(("127.0.0.1", *p)).is_err())
        {
            if guard.check_running().is_err() || Instant::now() > deadline {
                bail!("kamailio did not start; its log:\n{}", self.kamailio_log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kamailio = Some(guard);
        Ok(())
    }

    /// Kills Kamailio (every WebSocket drops at once) and starts it again after `down`.
    pub fn restart_kamailio(&mut self, down: Duration) -> anyhow::Result<()> {
        drop(self.kamailio.take());
        std::thread::sleep(down);
        self.start_kamailio()
    }

    /// Kamailio's log so far.
    pub fn kamailio_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kamailio.log")).unwrap_or_default()
    }

    /// Every SIP message Kamailio saw, in and out (its sipdump files).
    pub fn sip_dump(&self) -> String {
        let mut all = String::new();
        if let Ok(entries) = std::fs::read_dir(self.dir.path().join("sipdump")) {
            let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            files.sort();
            for f in files {
                all.push_str(&std::fs::read_to_string(f).unwrap_or_default());
            }
        }
        all
    }
}

fn start_rtpengine(dir: &Path, rtp: &RtpengineConfig) -> anyhow::Result<Guard> {
    let log = std::fs::File::create(dir.join("rtpengine.log"))?;
    let ng = format!("127.0.0.1:{}", rtp.ng_port);
    let mut cmd = Command::new("rtpengine");
    cmd.args(["--foreground", "--log-stderr", "--table=-1"])
        .arg(format!("--interface={}", rtp.interface))
        .arg(format!("--listen-ng={ng}"))
        .arg(format!("--port-min={}", rtp.ports.0))
        .arg(format!("--port-max={}", rtp.ports.1))
        .arg("--log-level=6")
        .arg(format!("--pidfile={}", dir.join("rtpengine.pid").display()))
        .stdout(Stdio::null())
        .stderr(log);
    let mut guard = Guard::spawn("rtpengine", &mut cmd)?;
    // Ready when its ng control port answers a ping.
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 256];
    loop {
        guard.check_running()?;
        let _ = sock.send_to(b"ping1 d7:command4:pinge", ng.as_str());
        if let Ok(n) = sock.recv(&mut buf) {
            if String::from_utf8_lossy(&buf[..n]).contains("pong") {
                return Ok(guard);
            }
        }
        if Instant::now() > deadline {
            bail!("rtpengine did not answer its ng ping within 10 s");
        }
    }
}

/// One SIPp run (a scenario for one call) on the lab's SIPp party port ([`SIPP_PORT`] in a
/// test's namespace).
pub struct Sipp {
    process: Guard,
    /// SIPp's message trace file.
    pub trace: PathBuf,
    /// SIPp's error trace file.
    pub errors: PathBuf,
}

impl Sipp {
    /// Starts SIPp as a UAS with `scenario` (XML text) for one call; with `echo`, it echoes
    /// RTP back (`-rtp_echo`).
    pub fn start(lab: &Lab, name: &str, scenario: &str, echo: bool) -> anyhow::Result<Sipp> {
        let d = lab.dir.path();
        let file = d.join(format!("{name}.xml"));
        std::fs::write(&file, scenario)?;
        let trace = d.join(format!("{name}_messages.log"));
        let errors = d.join(format!("{name}_errors.log"));
        let port = lab.config.gw_port;
        let mut cmd = Command::new("sipp");
        cmd.arg("-sf")
            .arg(&file)
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-mi", "127.0.0.1", "-mp", "6000"])
            .args(["-m", "1", "-nostdin", "-timeout", "60s"])
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(&trace)
            .arg("-trace_err")
            .arg("-error_file")
            .arg(&errors)
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if echo {
            cmd.arg("-rtp_echo");
        }
        let process = Guard::spawn("sipp", &mut cmd)?;
        // Ready when its UDP port is taken.
        let deadline = Instant::now() + Duration::from_secs(5);
        while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            if Instant::now() > deadline {
                bail!("sipp did not bind 127.0.0.1:{port}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Sipp {
            process,
            trace,
            errors,
        })
    }

    /// Waits for SIPp to finish its one call; Ok if the scenario passed (exit status 0).
    pub fn wait(mut self, timeout: Duration) -> anyhow::Result<String> {
        let status = self.process.wait_timeout(timeout)?;
        let messages = std::fs::read_to_string(&self.trace).unwrap_or_default();
        if !status.success() {
            bail!(
                "sipp scenario failed ({status}); errors:\n{}\nmessages:\n{messages}",
                std::fs::read_to_string(&self.errors).unwrap_or_default()
            );
        }
        Ok(messages)
    }
}

/// VICIdial's conference rooms for the lab: one long-running SIPp UAS on the lab's room port
/// ([`ROOM_SCENARIO`]) that answers every call Kamailio routes to a room and echoes its RTP,
/// so a phone in its session conference hears itself. Stopped on drop.
pub struct EchoRoom {
    process: Guard,
    /// SIPp's error trace (unexpected messages, aborted calls).
    pub errors: PathBuf,
}

impl EchoRoom {
    /// Starts the rooms with RTP on 127.0.0.1:`media_port` (SIPp also uses the next port up
    /// for RTCP).
    pub fn start(lab: &Lab, media_port: u16) -> anyhow::Result<EchoRoom> {
        let d = lab.dir.path();
        let file = d.join("uas-room.xml");
        std::fs::write(&file, ROOM_SCENARIO)?;
        let errors = d.join("rooms_errors.log");
        let port = lab.config.room_port;
        let log = std::fs::File::create(d.join("rooms.log"))?;
        let mut cmd = Command::new("sipp");
        cmd.arg("-sf")
            .arg(&file)
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-mi", "127.0.0.1", "-mp", &media_port.to_string()])
            // no -m: every call until stopped; -aa: in-dialog INFO/OPTIONS/UPDATE get a 200
            .args(["-rtp_echo", "-aa", "-nostdin", "-trace_err", "-error_file"])
            .arg(&errors)
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(log);
        let mut process = Guard::spawn("sipp (conference rooms)", &mut cmd)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            process.check_running()?;
            if Instant::now() > deadline {
                bail!("the rooms' sipp did not bind 127.0.0.1:{port}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(EchoRoom { process, errors })
    }

    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Fails if SIPp has exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        self.process.check_running()
    }
}
