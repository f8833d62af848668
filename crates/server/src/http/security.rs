//! Security headers on every response: a strict Content-Security-Policy (our own scripts, Trunk's
//! hashed inline loader, WebAssembly, `wss:` for SIP, and the configured VICIdial origin as the
//! only frame source), `X-Content-Type-Options`, `Referrer-Policy`, and a Permissions-Policy
//! that grants the microphone to this origin only.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{header, HeaderValue},
    middleware::Next,
    response::Response,
};

use crate::assets::INLINE_SCRIPT_HASHES;

/// Header values computed once at start-up.
#[derive(Clone)]
pub struct SecurityHeaders {
    csp: Arc<HeaderValue>,
}

impl SecurityHeaders {
    /// Builds the policy; `vicidial_web_origin` is the only origin allowed in a frame, and
    /// `phone_ws_origins` are the SIP WebSocket servers the phone may connect to.
    pub fn new(vicidial_web_origin: Option<&str>, phone_ws_origins: &[String]) -> SecurityHeaders {
        let csp = content_security_policy(vicidial_web_origin, phone_ws_origins);
        SecurityHeaders {
            csp: Arc::new(HeaderValue::from_str(&csp).expect("CSP is ASCII")),
        }
    }
}

/// The Content-Security-Policy text.
pub fn content_security_policy(
    vicidial_web_origin: Option<&str>,
    phone_ws_origins: &[String],
) -> String {
    let mut script_src = vec!["'self'", "'wasm-unsafe-eval'"];
    script_src.extend(INLINE_SCRIPT_HASHES.iter().copied());
    let frame_src = vicidial_web_origin.unwrap_or("'none'");
    let form_extra = vicidial_web_origin
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    let connect_extra: String = phone_ws_origins
        .iter()
        .map(|o| format!(" {o}"))
        .chain(std::iter::once(form_extra.clone()))
        .collect();
    format!(
        "default-src 'self'; script-src {}; style-src 'self'; img-src 'self' data:; \
         media-src 'self' blob: mediastream:; connect-src 'self' wss:{connect_extra}; \
         frame-src {frame_src}; object-src 'none'; base-uri 'none'; form-action 'self'{form_extra}; \
         frame-ancestors 'none'",
        script_src.join(" ")
    )
}

/// Middleware adding the headers to every response.
pub async fn apply(State(sec): State<SecurityHeaders>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, (*sec.csp).clone());
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("microphone=(self), camera=(), geolocation=()"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_allows_wss_and_only_the_configured_frame_origin() {
        let csp = content_security_policy(Some("https://dialer.example"), &[]);
        assert!(csp.contains("connect-src 'self' wss: https://dialer.example"));
        assert!(csp.contains("frame-src https://dialer.example;"));
        assert!(csp.contains("'wasm-unsafe-eval'"));
        assert!(!csp.contains("unsafe-inline"));
    }

    #[test]
    fn csp_without_vicidial_forbids_frames() {
        assert!(content_security_policy(None, &[]).contains("frame-src 'none'"));
    }

    #[test]
    fn csp_allows_the_configured_phone_websocket_origins_only() {
        let csp = content_security_policy(None, &["ws://127.0.0.1:8080".to_string()]);
        assert!(
            csp.contains("connect-src 'self' wss: ws://127.0.0.1:8080;"),
            "{csp}"
        );
        assert!(!content_security_policy(None, &[]).contains("ws:/"));
    }
}
