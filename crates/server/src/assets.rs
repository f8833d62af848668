//! The frontend embedded at build time (see `build.rs`): lookup, content negotiation between
//! brotli, gzip and identity, and the cache policy (hashed assets immutable, `index.html`
//! revalidated on every load).

use axum::{
    body::Body,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

/// One embedded file of the built frontend.
#[derive(Debug)]
pub struct Asset {
    /// URL path, starting with `/`.
    pub path: &'static str,
    /// `Content-Type` to send.
    pub content_type: &'static str,
    /// The file as built.
    pub raw: &'static [u8],
    /// gzip copy, when smaller than `raw`.
    pub gzip: Option<&'static [u8]>,
    /// brotli copy, when smaller than `raw`.
    pub br: Option<&'static [u8]>,
    /// Hashed file name: its content never changes, so browsers may cache it forever.
    pub immutable: bool,
    /// Strong validator derived from the content.
    pub etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/assets_table.rs"));

/// Finds the embedded file for a URL path.
pub fn find(path: &str) -> Option<&'static Asset> {
    let path = if path == "/" { "/index.html" } else { path };
    ASSETS.iter().find(|a| a.path == path)
}

/// Answers a GET for `asset`, choosing the smallest encoding the client accepts.
pub fn respond(asset: &'static Asset, request_headers: &HeaderMap) -> Response {
    let cache = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));

    let not_modified = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == asset.etag || t.trim() == "*")
        });
    if not_modified {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }

    let accepted = request_headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (body, encoding) = match (asset.br, asset.gzip) {
        (Some(br), _) if accepts(accepted, "br") => (br, Some("br")),
        (_, Some(gz)) if accepts(accepted, "gzip") => (gz, Some("gzip")),
        _ => (asset.raw, None),
    };
    if let Some(encoding) = encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    (StatusCode::OK, headers, Body::from(body)).into_response()
}

/// Whether an `Accept-Encoding` value accepts `coding` (a `q=0` entry refuses it).
fn accepts(accept_encoding: &str, coding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        name.eq_ignore_ascii_case(coding) && !refused
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_parsing() {
        assert!(accepts("gzip, deflate, br, zstd", "br"));
        assert!(accepts("gzip;q=0.5", "gzip"));
        assert!(!accepts("gzip;q=0", "gzip"));
        assert!(!accepts("deflate", "gzip"));
        assert!(!accepts("", "br"));
    }

    #[test]
    fn every_compressed_variant_is_smaller_and_hashed_assets_are_immutable() {
        for asset in ASSETS {
            for v in [asset.gzip, asset.br].into_iter().flatten() {
                assert!(v.len() < asset.raw.len(), "{}", asset.path);
            }
            if asset.path == "/index.html" {
                assert!(!asset.immutable);
            }
        }
    }

    /// The desk module and its style sheets, which Trunk leaves unhashed, are embedded under
    /// content-hashed names (cached forever like the login page's files), and `index.html`
    /// names exactly those.
    #[test]
    fn both_modules_and_every_style_sheet_are_hashed_and_named_by_index_html() {
        let Some(index) = find("/index.html") else {
            return; // built without a frontend: nothing embedded
        };
        let html = std::str::from_utf8(index.raw).unwrap();
        let code: Vec<&Asset> = ASSETS
            .iter()
            .filter(|a| [".js", ".wasm", ".css"].iter().any(|e| a.path.ends_with(e)))
            .collect();
        for prefix in [
            "/dialdeck-frontend-",
            "/dialdeck-desk-",
            "/login-",
            "/desk-",
            "/phone-",
        ] {
            assert!(
                code.iter().any(|a| a.path.starts_with(prefix)),
                "{prefix}* embedded: {:?}",
                code.iter().map(|a| a.path).collect::<Vec<_>>()
            );
        }
        for asset in code {
            assert!(asset.immutable, "{} is not content-hashed", asset.path);
            let quoted = html.contains(&format!("\"{}\"", asset.path))
                || html.contains(&format!("'{}'", asset.path))
                || html.contains(&format!("={} ", asset.path))
                || html.contains(&format!("={}>", asset.path));
            assert!(quoted, "index.html does not name {}", asset.path);
        }
    }
}
