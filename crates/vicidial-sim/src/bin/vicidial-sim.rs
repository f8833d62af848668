//! `vicidial-sim`: a MariaDB with VICIdial's schema and seed plus the VICIdial simulator, for
//! local development. Prints the simulator's base URL and the database URL, runs until
//! Ctrl-C. The seed's agents, passwords and API user are documented in
//! `dialdeck_vicidial_sim::seed`.
//!
//! `vicidial-sim [PORT] [--kamailio-rpc URL [--server-ip IP]]`: PORT on 127.0.0.1 (default: a
//! random port). With `--kamailio-rpc` (Kamailio's JSON-RPC over HTTP, e.g.
//! `http://127.0.0.1:5071/RPC`) the telephony stand-in for `AST_update.pl` runs too
//! (`dialdeck_vicidial_sim::telephony`), keeping `live_sip_channels` equal to Kamailio's dialogs
//! to the conference rooms for the server `--server-ip` (default: the one active server).

use std::time::Duration;

use anyhow::{bail, Context};
use dialdeck_vicidial_sim::{
    mariadb::MariaDb,
    seed,
    telephony::{Telephony, TelephonyOptions},
    SimOptions, VicidialSim,
};
use sqlx::{mysql::MySqlPoolOptions, ConnectOptions};

const USAGE: &str = "usage: vicidial-sim [PORT] [--kamailio-rpc URL [--server-ip IP]]";

/// The command line.
#[derive(Debug, Default, PartialEq, Eq)]
struct Args {
    port: u16,
    kamailio_rpc: Option<String>,
    server_ip: Option<String>,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> anyhow::Result<Args> {
    let mut out = Args::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--kamailio-rpc" => {
                let url = args.next().context(USAGE)?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    bail!("--kamailio-rpc {url:?}: expected an http:// URL\n{USAGE}");
                }
                out.kamailio_rpc = Some(url);
            }
            "--server-ip" => out.server_ip = Some(args.next().context(USAGE)?),
            port if !port.starts_with('-') => {
                out.port = port
                    .parse()
                    .with_context(|| format!("{port:?} is not a port\n{USAGE}"))?;
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if out.server_ip.is_some() && out.kamailio_rpc.is_none() {
        bail!("--server-ip needs --kamailio-rpc\n{USAGE}");
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args(std::env::args().skip(1))?;
    let db = MariaDb::start()?;
    let name = db.fresh_database().await?;
    let mut conn = db.options(&name).connect().await?;
    seed::seed(&mut conn, false).await?;
    let pool = MySqlPoolOptions::new()
        .max_connections(8)
        .connect_with(db.options(&name))
        .await?;
    let opts = SimOptions {
        poll_interval: Duration::from_secs(1),
        ..SimOptions::default()
    };
    let sim = VicidialSim::start_on(pool.clone(), opts, ([127, 0, 0, 1], args.port).into()).await?;
    let telephony = match &args.kamailio_rpc {
        Some(url) => {
            let server_ip = match args.server_ip {
                Some(ip) => ip,
                None => {
                    let ips: Vec<String> =
                        sqlx::query_scalar("SELECT server_ip FROM servers WHERE active = 'Y'")
                            .fetch_all(&pool)
                            .await?;
                    match ips.as_slice() {
                        [one] => one.clone(),
                        _ => bail!("{} active servers: choose one with --server-ip", ips.len()),
                    }
                }
            };
            Some((
                Telephony::start(
                    pool.clone(),
                    TelephonyOptions::new(url.clone(), server_ip.clone()),
                ),
                format!("{url} (dialogs) -> live_sip_channels of {server_ip}"),
            ))
        }
        None => None,
    };
    println!("vicidial-sim: {}", sim.base_url());
    println!("  agent API      {}/agc/api.php", sim.base_url());
    println!(
        "  non-agent API  {}/vicidial/non_agent_api.php",
        sim.base_url()
    );
    println!("  agent screen   {}/agc/vicidial.php", sim.base_url());
    println!("  database       {}", db.url(&name));
    println!(
        "  tcp            mysql://root@127.0.0.1:{}/{name}",
        db.port()
    );
    if let Some((_, what)) = &telephony {
        println!("  telephony      {what}");
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<Args> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn the_telephony_stand_in_is_asked_for_by_kamailios_rpc_url() {
        assert_eq!(parse(&[]).unwrap(), Args::default());
        assert_eq!(
            parse(&["8000", "--kamailio-rpc", "http://127.0.0.1:5071/RPC"]).unwrap(),
            Args {
                port: 8000,
                kamailio_rpc: Some("http://127.0.0.1:5071/RPC".into()),
                server_ip: None,
            }
        );
        let with_ip = parse(&[
            "--kamailio-rpc",
            "http://127.0.0.1:5071/RPC",
            "--server-ip",
            "siplab.test",
        ])
        .unwrap();
        assert_eq!(with_ip.server_ip.as_deref(), Some("siplab.test"));
        for bad in [
            &["--kamailio-rpc"][..],
            &["--kamailio-rpc", "127.0.0.1:5071"],
            &["--server-ip", "siplab.test"],
            &["eighty"],
            &["--verbose"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} is refused");
        }
    }
}
