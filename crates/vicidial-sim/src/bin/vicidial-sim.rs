//! `vicidial-sim`: a MariaDB with VICIdial's schema and seed plus the VICIdial simulator, for
//! local development. Prints the simulator's base URL and the database URL, runs until
//! Ctrl-C. `vicidial-sim [PORT]` (default: a random port) on 127.0.0.1; the seed's agents,
//! passwords and API user are documented in `dialdeck_vicidial_sim::seed`.

use std::time::Duration;

use dialdeck_vicidial_sim::{mariadb::MariaDb, seed, SimOptions, VicidialSim};
use sqlx::{mysql::MySqlPoolOptions, ConnectOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p
            .parse()
            .map_err(|_| anyhow::anyhow!("usage: vicidial-sim [PORT]"))?,
        None => 0,
    };
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
    let sim = VicidialSim::start_on(pool, opts, ([127, 0, 0, 1], port).into()).await?;
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
    tokio::signal::ctrl_c().await?;
    Ok(())
}
