//! The `dialdeck` binary: parse configuration, set up logging, run the server.

use clap::Parser;
use dialdeck_server::config::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    if let Err(err) = config.validate() {
        eprintln!("dialdeck: {err}");
        std::process::exit(2);
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&config.log)?)
        .init();
    dialdeck_server::run(config).await
}
