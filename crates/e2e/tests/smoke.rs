//! The single binary, as a browser and an HTTP client see it.

use std::time::Duration;

use dialdeck_e2e::{ChromeDriver, DialdeckServer};
use reqwest::header;

/// Headless Chromium loads the app from the real binary: the login form's first step is
/// rendered, the status line shows the server's answer, and the console has no errors.
#[tokio::test]
async fn login_screen_renders_without_console_errors() -> anyhow::Result<()> {
    let server = DialdeckServer::start(&[]).await?;
    let driver = ChromeDriver::start().await?;
    let browser = driver.browser(&[]).await?;
    browser.goto(&server.url).await?;

    browser
        .wait_for(
            "document.querySelector('#login-form')",
            Duration::from_secs(15),
            "the login form",
        )
        .await?;
    let status = browser
        .wait_for(
            "(document.querySelector('#connection-status')||{}).textContent.includes('Server connected') \
             && document.querySelector('#connection-status').textContent",
            Duration::from_secs(10),
            "the connection-status line",
        )
        .await?;
    assert!(
        status.as_str().unwrap().contains(env!("CARGO_PKG_VERSION")),
        "{status}"
    );

    let fields = browser
        .execute(
            "return [...document.querySelectorAll('#login-form input')].map(i => i.id + ':' + i.type)",
            serde_json::json!([]),
        )
        .await?;
    assert_eq!(
        fields,
        serde_json::json!(["login-user:text", "login-password:password"])
    );
    // Without a VICIdial connection the form says so instead of pretending it can log in.
    let button_disabled = browser
        .execute(
            "return document.querySelector('#login-continue').disabled",
            serde_json::json!([]),
        )
        .await?;
    assert_eq!(button_disabled, serde_json::json!(true));
    let notice = browser
        .execute(
            "return document.querySelector('#login-form .notice').textContent",
            serde_json::json!([]),
        )
        .await?;
    assert!(
        notice.as_str().unwrap().contains("no VICIdial connection"),
        "{notice}"
    );

    let errors: Vec<_> = browser
        .console()
        .await?
        .into_iter()
        .filter(|e| e.level == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await?;
    Ok(())
}

/// The first load is the login page alone (html, its style sheet, its module's JS and wasm: what
/// Chromium fetched), within 104 KB at the server's gzip; the desk module and its style sheets
/// come only when the loader asks for them, allowed by the CSP, without console errors.
#[tokio::test]
async fn the_first_load_is_the_login_page_within_104_kb_gzip() -> anyhow::Result<()> {
    const BUDGET: usize = 104_000;
    let server = DialdeckServer::start(&[]).await?;
    let driver = ChromeDriver::start().await?;
    let browser = driver.browser(&[]).await?;
    browser.goto(&server.url).await?;
    browser
        .wait_for(
            "document.querySelector('#login-form') \
             && (document.querySelector('#connection-status')||{}).textContent.includes('Server connected')",
            Duration::from_secs(15),
            "the login form",
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fetched = browser
        .execute(
            "return performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)",
            serde_json::json!([]),
        )
        .await?;
    let mut paths: Vec<String> = fetched
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .filter(|p| !p.starts_with("/api/"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 3, "login css, js and wasm only: {paths:?}");
    for (prefix, suffix) in [
        ("/login-", ".css"),
        ("/dialdeck-frontend-", ".js"),
        ("/dialdeck-frontend-", "_bg.wasm"),
    ] {
        assert!(
            paths
                .iter()
                .any(|p| p.starts_with(prefix) && p.ends_with(suffix)),
            "{prefix}*{suffix} in {paths:?}"
        );
    }
    let http = reqwest::Client::new();
    let mut total = 0;
    for path in std::iter::once("/".to_string()).chain(paths) {
        let res = http
            .get(format!("{}{path}", server.url.trim_end_matches('/')))
            .header(header::ACCEPT_ENCODING, "gzip")
            .send()
            .await?;
        assert_eq!(res.status(), 200, "{path}");
        total += res.bytes().await?.len();
    }
    assert!(total <= BUDGET, "first load {total} bytes gzip > {BUDGET}");

    browser
        .execute("window.dialdeckDesk.prefetch()", serde_json::json!([]))
        .await?;
    browser
        .wait_for(
            "(() => { const p = performance.getEntriesByType('resource').map(e => new URL(e.name).pathname); \
             return [/^\\/dialdeck-desk-[0-9a-f]{16}\\.js$/, /^\\/dialdeck-desk-[0-9a-f]{16}_bg\\.wasm$/, \
                     /^\\/desk-[0-9a-f]{16}\\.css$/, /^\\/phone-[0-9a-f]{16}\\.css$/] \
               .every(r => p.some(x => r.test(x))) \
               && document.querySelectorAll('link[rel=stylesheet]').length === 3; })()",
            Duration::from_secs(15),
            "the desk module and its style sheets",
        )
        .await?;
    let errors: Vec<_> = browser
        .console()
        .await?
        .into_iter()
        .filter(|e| e.level == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await?;
    Ok(())
}

/// Hashed assets are immutable and precompressed; index.html is revalidated; unknown app routes
/// fall back to index.html; missing files are 404.
#[tokio::test]
async fn serves_embedded_assets_with_cache_and_compression() -> anyhow::Result<()> {
    let server = DialdeckServer::start(&[]).await?;
    let http = reqwest::Client::new();

    let index = http.get(&server.url).send().await?;
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()[header::CACHE_CONTROL], "no-cache");
    let html = index.text().await?;
    let wasm_path = html
        .split('"')
        .find(|s| s.ends_with("_bg.wasm"))
        .expect("index.html references the wasm module")
        .to_string();

    let br = http
        .get(format!("{}{wasm_path}", server.url))
        .header(header::ACCEPT_ENCODING, "gzip, deflate, br")
        .send()
        .await?;
    assert_eq!(br.status(), 200);
    assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
    assert_eq!(br.headers()[header::CONTENT_TYPE], "application/wasm");
    assert!(br.headers()[header::CACHE_CONTROL]
        .to_str()?
        .contains("immutable"));
    let etag = br.headers()[header::ETAG].clone();
    let br_len = br.bytes().await?.len();

    let gz = http
        .get(format!("{}{wasm_path}", server.url))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await?;
    assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
    let gz_len = gz.bytes().await?.len();

    let plain = http
        .get(format!("{}{wasm_path}", server.url))
        .send()
        .await?;
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    let raw = plain.bytes().await?;
    assert_eq!(
        &raw[..4],
        b"\0asm",
        "identity body is the wasm module itself"
    );
    assert!(
        br_len < gz_len && gz_len < raw.len(),
        "br {br_len} < gzip {gz_len} < raw {}",
        raw.len()
    );

    let revalidated = http
        .get(format!("{}{wasm_path}", server.url))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await?;
    assert_eq!(revalidated.status(), 304);

    let spa = http
        .get(format!("{}/agent/call/42", server.url))
        .send()
        .await?;
    assert_eq!(spa.status(), 200);
    assert!(spa.text().await?.contains("<title>dialdeck</title>"));
    assert_eq!(
        http.get(format!("{}/missing.js", server.url))
            .send()
            .await?
            .status(),
        404
    );
    let api_missing = http
        .get(format!("{}/api/nothing-here", server.url))
        .send()
        .await?;
    assert_eq!(api_missing.status(), 404);
    let body: serde_json::Value = api_missing.json().await?;
    assert_eq!(body["code"], "not_found");
    Ok(())
}

/// Every response carries the security headers; the CSP allows `wss:` and the configured
/// VICIdial origin as the only frame source, and Trunk's inline loader by hash only.
#[tokio::test]
async fn security_headers_and_health() -> anyhow::Result<()> {
    let server =
        DialdeckServer::start(&[("DIALDECK_VICIDIAL_WEB_ORIGIN", "https://dialer.example")])
            .await?;
    let http = reqwest::Client::new();
    for path in ["/", "/api/config", "/healthz"] {
        let res = http.get(format!("{}{path}", server.url)).send().await?;
        let h = res.headers();
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str()?;
        assert!(csp.contains("connect-src 'self' wss:"), "{path}: {csp}");
        assert!(
            csp.contains("frame-src https://dialer.example;"),
            "{path}: {csp}"
        );
        assert!(
            csp.contains("'sha256-"),
            "{path}: inline loader allowed by hash: {csp}"
        );
        assert!(!csp.contains("'unsafe-inline'"));
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
    }
    let cfg: serde_json::Value = http
        .get(format!("{}/api/config", server.url))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(cfg["vicidial_web_origin"], "https://dialer.example");
    let ready = http.get(format!("{}/readyz", server.url)).send().await?;
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await?;
    assert_eq!(ready["checks"][0]["name"], "store");
    assert!(server.data_dir.path().join("dialdeck.sqlite3").is_file());
    Ok(())
}

/// Bad configuration stops the binary at start-up with a message naming the variable;
/// SIGTERM stops it cleanly.
#[tokio::test]
async fn config_errors_name_the_variable_and_sigterm_is_graceful() -> anyhow::Result<()> {
    let out = std::process::Command::new(DialdeckServer::binary())
        .env("DIALDECK_VICIDIAL_WEB_ORIGIN", "dialer.example/agc")
        .output()?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DIALDECK_VICIDIAL_WEB_ORIGIN"), "{stderr}");

    let mut server = DialdeckServer::start(&[]).await?;
    let status = server.process.terminate(Duration::from_secs(10))?;
    assert!(status.success(), "exit status after SIGTERM: {status}");
    Ok(())
}
