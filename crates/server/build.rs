//! Embeds the built frontend (Trunk's `dist/`) into the binary, precompressed.
//!
//! For every file it writes gzip and brotli copies into `OUT_DIR` (only when they are smaller)
//! and generates a static table the server serves from, so compression costs nothing per
//! request. It also hashes every inline `<script>` of `index.html` so the Content-Security-Policy
//! can allow exactly Trunk's loader (and the desk loader beside it) and nothing else. Without a
//! built frontend the table is empty and the server says so on `/`.
//!
//! Trunk leaves the desk module (`data-type="worker"` in `index.html`: built, not loaded) and
//! the desk's style sheets (`copy-file`) without a hash in their names; here they get one
//! (`dialdeck-desk-<hash>.js`, `…_bg.wasm`, `desk-<hash>.css`) and `index.html` is rewritten to
//! match, so they are cached as immutably as the login page's files and a new build is never
//! mixed with an old one.

use std::{
    env, fs,
    io::Write,
    path::{Path, PathBuf},
};

use base64::Engine;
use sha2::{Digest, Sha256};

fn main() {
    println!("cargo:rerun-if-env-changed=DIALDECK_DIST_DIR");
    // `sqlx::migrate!` embeds these: rebuild when one is added or changed.
    println!("cargo:rerun-if-changed=migrations");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let dist = env::var_os("DIALDECK_DIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../target/dist"));
    println!("cargo:rerun-if-changed={}", dist.display());
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());

    let mut files = Vec::new();
    if dist.join("index.html").is_file() {
        collect(&dist, &dist, &mut files);
    }
    files.sort();

    let renames: Vec<(String, String)> = files
        .iter()
        .filter_map(|rel| {
            let url = format!("/{}", rel.replace('\\', "/"));
            let raw = fs::read(dist.join(rel)).unwrap();
            content_hashed(&url, &raw).map(|new| (url, new))
        })
        .collect();

    let mut table = String::from("&[\n");
    let mut script_hashes = Vec::new();
    for (i, rel) in files.iter().enumerate() {
        let mut src = dist.join(rel);
        println!("cargo:rerun-if-changed={}", src.display());
        let mut raw = fs::read(&src).unwrap();
        let mut url = format!("/{}", rel.replace('\\', "/"));
        if let Some((_, new)) = renames.iter().find(|(old, _)| *old == url) {
            url = new.clone();
        }
        if url == "/index.html" {
            let mut html = String::from_utf8(raw).expect("index.html is UTF-8");
            for (old, new) in &renames {
                html = html.replace(old.as_str(), new);
            }
            script_hashes = inline_script_hashes(&html);
            raw = html.into_bytes();
            src = out.join("index.html");
            fs::write(&src, &raw).unwrap();
        }
        let compressible = is_compressible(&url);
        let gz = compressible
            .then(|| gzip(&raw))
            .filter(|c| c.len() < raw.len());
        let br = compressible
            .then(|| brotli(&raw))
            .filter(|c| c.len() < raw.len());
        let variant = |data: Option<Vec<u8>>, ext: &str| match data {
            Some(bytes) => {
                let p = out.join(format!("asset{i}.{ext}"));
                fs::write(&p, bytes).unwrap();
                format!("Some(include_bytes!({:?}))", p.display().to_string())
            }
            None => "None".to_string(),
        };
        let etag = format!("\"{}\"", &hex(&Sha256::digest(&raw))[..20]);
        table.push_str(&format!(
            "    Asset {{ path: {url:?}, content_type: {ct:?}, raw: include_bytes!({src:?}), gzip: {gz}, br: {br}, immutable: {imm}, etag: {etag:?} }},\n",
            ct = content_type(&url),
            src = src.canonicalize().unwrap().display().to_string(),
            gz = variant(gz, "gz"),
            br = variant(br, "br"),
            imm = is_hashed(&url),
        ));
    }
    table.push(']');

    let mut f = fs::File::create(out.join("assets_table.rs")).unwrap();
    writeln!(f, "/// Every file of the built frontend.").unwrap();
    writeln!(f, "pub static ASSETS: &[Asset] = {table};").unwrap();
    writeln!(
        f,
        "/// CSP sources (`'sha256-…'`) for the inline scripts of `index.html`."
    )
    .unwrap();
    writeln!(
        f,
        "pub static INLINE_SCRIPT_HASHES: &[&str] = &{script_hashes:?};"
    )
    .unwrap();
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            files.push(
                path.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn is_compressible(path: &str) -> bool {
    matches!(
        path.rsplit('.').next().unwrap_or(""),
        "html" | "js" | "mjs" | "css" | "wasm" | "svg" | "json" | "map" | "txt" | "ico"
    )
}

/// Trunk names built assets `name-<hash>[_bg].ext`, the hash a u64 in hex without leading
/// zeros (so 16 digits only 15 times in 16): those never change content. Eight or more hex
/// digits is a hash (fewer happens once in 4 billion builds; then the file is revalidated,
/// which is slower but never wrong).
fn is_hashed(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split('.').next().unwrap_or(file);
    stem.split(['-', '_'])
        .any(|part| part.len() >= 8 && part.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The content-hashed URL for a JavaScript, wasm or CSS file Trunk left unhashed (`name.js`
/// becomes `name-<hash>.js`, `name_bg.wasm` becomes `name-<hash>_bg.wasm`, `name.css`
/// `name-<hash>.css`), `None` for other files.
fn content_hashed(url: &str, raw: &[u8]) -> Option<String> {
    if is_hashed(url) {
        return None;
    }
    let hash = &hex(&Sha256::digest(raw))[..16];
    if let Some(stem) = url.strip_suffix("_bg.wasm") {
        Some(format!("{stem}-{hash}_bg.wasm"))
    } else {
        let (stem, ext) = url.rsplit_once('.')?;
        matches!(ext, "js" | "css").then(|| format!("{stem}-{hash}.{ext}"))
    }
}

fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        rest = &rest[start..];
        let Some(tag_end) = rest.find('>') else { break };
        let tag = &rest[..tag_end];
        let body_start = tag_end + 1;
        let Some(close) = rest[body_start..].find("</script>") else {
            break;
        };
        let body = &rest[body_start..body_start + close];
        if !tag.contains(" src=") && !body.trim().is_empty() {
            let digest = Sha256::digest(body.as_bytes());
            hashes.push(format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ));
        }
        rest = &rest[body_start + close..];
    }
    hashes
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &data[..], &mut out, &params).unwrap();
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
