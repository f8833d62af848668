//! Opens the app in headless Chromium and prints the console and a screenshot path (debug aid).
use dialdeck_e2e::{ChromeDriver, DialdeckServer};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = DialdeckServer::start(&[]).await?;
    let driver = ChromeDriver::start().await?;
    let browser = driver.browser(&[]).await?;
    browser.goto(&server.url).await?;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    for e in browser.console().await? {
        println!("{}: {}", e.level, e.message);
    }
    let html = browser
        .execute("return document.body.outerHTML", serde_json::json!([]))
        .await?;
    println!("{html}");
    browser
        .screenshot(std::path::Path::new("/tmp/dialdeck.png"))
        .await?;
    Ok(())
}
