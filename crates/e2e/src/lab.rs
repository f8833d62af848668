//! The SIP lab for the softphone's end-to-end tests: Kamailio (registrar + proxy, SIP over
//! WebSocket), rtpengine (WebRTC <-> plain RTP) and SIPp (a plain-RTP party with scripted
//! behaviour), all from Debian, with the project's own configuration (`crates/e2e/lab/`).
//!
//! Every test runs in a network namespace of its own that has only `lo`
//! ([`run_in_netns`]): the test binary re-executes itself inside it with `nsenter`, so the
//! lab's fixed ports, the real dialdeck server, chromedriver and Chromium all live on that
//! namespace's 127.0.0.1 and ICE never sees a real interface. The namespace is deleted
//! afterwards; every process is stopped by its own [`Guard`].

use std::{
    net::{TcpStream, UdpSocket},
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
/// Kamailio's WebSocket listener inside the namespace.
pub const WS_URL: &str = "ws://127.0.0.1:8080";
/// Where calls to `sipp` and `9xxx` go: the SIPp party.
pub const SIPP_PORT: u16 = 5090;

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

/// Kamailio (and rtpengine when asked), running in the current namespace.
pub struct Lab {
    /// Per-run folder: configuration, user table, SIP dumps, logs.
    pub dir: tempfile::TempDir,
    kamailio: Option<Guard>,
    _rtpengine: Option<Guard>,
    with_rtpengine: bool,
}

impl Lab {
    /// Starts Kamailio on ws://127.0.0.1:8080 (and udp/tcp 5060) with the [`USERS`], plus
    /// rtpengine for calls to the SIPp gateway when `with_rtpengine`.
    pub fn start(with_rtpengine: bool) -> anyhow::Result<Lab> {
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
        for (i, (user, pass)) in USERS.iter().enumerate() {
            // db_text reads an empty column as NULL: ha1/ha1b get a placeholder, since
            // calculate_ha1 uses the plain password anyway.
            subscriber.push_str(&format!("{}:{user}:{DOMAIN}:{pass}:x:x\n", i + 1));
        }
        std::fs::write(db.join("subscriber"), subscriber)?;
        std::fs::write(dir.path().join("kamailio.cfg"), KAMAILIO_CFG)?;
        let rtpengine = if with_rtpengine {
            Some(start_rtpengine(dir.path())?)
        } else {
            None
        };
        let mut lab = Lab {
            dir,
            kamailio: None,
            _rtpengine: rtpengine,
            with_rtpengine,
        };
        lab.start_kamailio()?;
        Ok(lab)
    }

    fn start_kamailio(&mut self) -> anyhow::Result<()> {
        let d = self.dir.path();
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
        if self.with_rtpengine {
            cmd.args(["-A", "WITH_RTPENGINE"]);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("kamailio.log"))?;
        cmd.stdout(Stdio::null()).stderr(log);
        let mut guard = Guard::spawn("kamailio", &mut cmd)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", 8080)).is_err() {
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

fn start_rtpengine(dir: &Path) -> anyhow::Result<Guard> {
    let log = std::fs::File::create(dir.join("rtpengine.log"))?;
    let mut cmd = Command::new("rtpengine");
    cmd.args([
        "--foreground",
        "--log-stderr",
        "--table=-1",
        "--interface=127.0.0.1",
        "--listen-ng=127.0.0.1:2223",
        "--port-min=30000",
        "--port-max=30999",
        "--log-level=6",
    ])
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
        let _ = sock.send_to(b"ping1 d7:command4:pinge", "127.0.0.1:2223");
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

/// One SIPp run (a scenario for one call) on 127.0.0.1:[`SIPP_PORT`].
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
        let mut cmd = Command::new("sipp");
        cmd.arg("-sf")
            .arg(&file)
            .args(["-i", "127.0.0.1", "-p", &SIPP_PORT.to_string()])
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
        while UdpSocket::bind(("127.0.0.1", SIPP_PORT)).is_ok() {
            if Instant::now() > deadline {
                bail!("sipp did not bind 127.0.0.1:{SIPP_PORT}");
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
