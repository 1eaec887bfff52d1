//! The built voter app (Trunk's `dist/`), served from the verifier's own origin with a strict
//! Content-Security-Policy: scripts only from this origin plus the hashes of the inline loader that Trunk writes,
//! WebAssembly allowed, no framing, no plug-ins.
//!
//! Every file is read once at start and only that copy is ever served (issue 21: the zero check proves the app as
//! served; an edit of the folder afterwards changes nothing any client gets). The app's `.wasm`, scripts and styles
//! are also compressed once at start (gzip, best level) and sent compressed to browsers that accept gzip: the `.wasm` goes from about 840 KB to 340 KB, which matters to a voter abroad on a
//! slow line. Files whose names carry Trunk's content hash (`web-<16 hex>_bg.wasm`) are cached for a year as
//! immutable (a new build has new names); everything else, `index.html` first, is revalidated on each load
//! (`no-cache`). Over the benchmark's slow line the warm reload no longer downloads the `.wasm` again.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use sha2::{Digest, Sha256};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::HeaderValue;
use warp::http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, VARY};
use warp::reply::Response;

/// The voter app's files and the headers they are served with.
#[derive(Clone)]
pub struct WebApp {
    index_html: String,
    csp: String,
    files: Arc<HashMap<String, Stored>>,
}

/// A file of the app as read at start, and its compressed copy when worth one.
struct Stored {
    plain: bytes::Bytes,
    gzipped: Option<bytes::Bytes>,
    content_type: String,
}

/// The files worth compressing, by extension, with their content type.
const COMPRESSED_TYPES: [(&str, &str); 3] =
    [("wasm", "application/wasm"), ("js", "text/javascript"), ("css", "text/css")];

impl WebApp {
    /// Loads a Trunk `dist/` folder (its `index.html` must exist); `connect` are the other origins the app may
    /// call (the card helper on the voter's PC).
    pub fn load(dir: &Path, connect: &[String]) -> anyhow::Result<WebApp> {
        let index = dir.join("index.html");
        let index_html = std::fs::read_to_string(&index).map_err(|e| {
            anyhow::anyhow!("cannot read {}: {e}; build the voter app first (cargo xtask demo does)", index.display())
        })?;
        let csp = content_security_policy(&index_html, connect);
        let mut files = read_files(dir)?;
        if let Some(index) = files.get_mut("/index.html") {
            // The same text as `/`, whatever the file held a moment after it was read.
            index.plain = bytes::Bytes::from(index_html.clone());
        }
        Ok(WebApp { index_html, csp, files: Arc::new(files) })
    }

    /// Returns the Content-Security-Policy sent with every file.
    pub fn csp(&self) -> &str {
        &self.csp
    }

    /// Serves the files, and `index.html` for any other path without a file extension (the app's own routes).
    pub fn filter(self) -> BoxedFilter<(Response,)> {
        let stored = self.files.clone();
        let files = get_or_head()
            .and(warp::path::full())
            .and(warp::header::optional::<String>("accept-encoding"))
            .and_then(move |path: warp::path::FullPath, accept: Option<String>| {
                let reply = stored.get(path.as_str()).map(|f| {
                    let gzip = f.gzipped.as_ref().filter(|_| accepts_gzip(accept.as_deref()));
                    let mut r = Response::new(gzip.unwrap_or(&f.plain).clone().into());
                    let h = r.headers_mut();
                    if let Ok(v) = HeaderValue::from_str(&f.content_type) {
                        h.insert(CONTENT_TYPE, v);
                    }
                    if gzip.is_some() {
                        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                    }
                    if f.gzipped.is_some() {
                        h.insert(VARY, HeaderValue::from_static("accept-encoding"));
                    }
                    r
                });
                async move { reply.ok_or_else(warp::reject::not_found) }
            });
        let this = self.clone();
        let index = get_or_head().and(warp::path::full()).and_then(move |path: warp::path::FullPath| {
            let this = this.clone();
            async move {
                let last = path.as_str().rsplit('/').next().unwrap_or("");
                if last.contains('.') { Err(warp::reject::not_found()) } else { Ok(this.index_response()) }
            }
        });
        let csp = self.csp.clone();
        let served = files.or(index).unify();
        warp::path::full()
            .and(served)
            .map(move |path: warp::path::FullPath, r: Response| {
                with_security_headers(with_caching(r, path.as_str()), &csp)
            })
            .boxed()
    }

    fn index_response(&self) -> Response {
        let mut r = Response::new(self.index_html.clone().into());
        r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        r
    }
}

/// Reads every file under `dir`, keyed by its URL path, compressing each `.wasm`, `.js` and `.css` file.
fn read_files(dir: &Path) -> anyhow::Result<HashMap<String, Stored>> {
    let mut out = HashMap::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            let Some(url) = path.strip_prefix(dir).ok().and_then(|p| p.to_str()) else { continue };
            let plain = bytes::Bytes::from(std::fs::read(&path)?);
            let compressed = COMPRESSED_TYPES.iter().find(|(e, _)| *e == ext);
            let gzipped = match compressed {
                Some(_) => {
                    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                    gz.write_all(&plain)?;
                    Some(gz.finish()?.into())
                }
                None => None,
            };
            let content_type = match compressed {
                Some((_, t)) => (*t).to_string(),
                None => mime_guess::from_path(&path).first_or_octet_stream().to_string(),
            };
            let key = format!("/{}", url.replace(std::path::MAIN_SEPARATOR, "/"));
            out.insert(key, Stored { plain, gzipped, content_type });
        }
    }
    Ok(out)
}

/// Whether an `Accept-Encoding` header allows gzip (`gzip` or `*`, unless with `q=0`).
fn accepts_gzip(header: Option<&str>) -> bool {
    header.is_some_and(|h| {
        h.split(',').any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let refused = parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0)));
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
    })
}

fn get_or_head() -> BoxedFilter<()> {
    warp::get().or(warp::head()).unify().boxed()
}

/// A year for a file named by its content hash, else revalidation on every load; an answer's own choice stays.
fn with_caching(mut r: Response, path: &str) -> Response {
    let value = if fingerprinted(path) { "public, max-age=31536000, immutable" } else { "no-cache" };
    r.headers_mut().entry(CACHE_CONTROL).or_insert(HeaderValue::from_static(value));
    r
}

/// Whether the file's name carries Trunk's content hash: 16 hex digits after its last `-`.
fn fingerprinted(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or("");
    name.rsplit_once('-').is_some_and(|(_, tail)| {
        tail.len() > 16 && tail.as_bytes()[..16].iter().all(u8::is_ascii_hexdigit) && !tail[16..].contains('-')
    })
}

fn with_security_headers(mut r: Response, csp: &str) -> Response {
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(csp) {
        h.insert(CONTENT_SECURITY_POLICY, v);
    }
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin-allow-popups"));
    h.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=()"));
    r
}

/// Builds the policy, allowing each inline `<script>` of the page by its SHA-256 hash.
pub fn content_security_policy(index_html: &str, connect: &[String]) -> String {
    let hashes: Vec<String> = inline_scripts(index_html)
        .map(|s| format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s))))
        .collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' {}; style-src 'self'; img-src 'self' data:; \
         connect-src 'self' {}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
        hashes.join(" "),
        connect.join(" ")
    )
}

/// Yields the text of every `<script>` element without a `src` attribute.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    let mut rest = html;
    std::iter::from_fn(move || {
        loop {
            let start = rest.find("<script")?;
            let after = &rest[start..];
            let open_end = after.find('>')?;
            let tag = &after[..open_end];
            let body_start = open_end + 1;
            let close = after[body_start..].find("</script>")?;
            let body = &after[body_start..body_start + close];
            rest = &after[body_start + close + "</script>".len()..];
            if !tag.contains("src=") {
                return Some(body);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn only_files_named_by_their_hash_are_cached_for_long() {
        assert!(fingerprinted("/web-cc137b9ed10ef50d_bg.wasm"));
        assert!(fingerprinted("/style-f1f00456a4f4ea1f.css"));
        assert!(!fingerprinted("/index.html"));
        assert!(!fingerprinted("/"));
        assert!(!fingerprinted("/vote"));
        assert!(!fingerprinted("/web-cc137b9ed10e.js"), "too short a hash");
        assert!(!fingerprinted("/web-cc137b9ed10ef50zz.js"), "not hex");
    }

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        assert!(accepts_gzip(Some("gzip, deflate, br")));
        assert!(accepts_gzip(Some("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(Some("*")));
        assert!(!accepts_gzip(Some("gzip;q=0, br")));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(None));
    }

    /// Issue 21's zero check proves the app as the server read it at start. An insider who edits `dist/` after the
    /// check must change nothing that any client gets, gzip or not.
    #[tokio::test]
    async fn every_answer_is_the_copy_read_at_start_whatever_the_folder_holds_later() {
        let dir = tempfile::tempdir().unwrap();
        let files = [("index.html", "<html>audited</html>"), ("app-1a2b.js", "audited();"), ("icon.svg", "<svg/>")];
        for (name, body) in files {
            std::fs::write(dir.path().join(name), body).unwrap();
        }
        let app = WebApp::load(dir.path(), &[]).unwrap().filter();
        for (name, _) in files {
            std::fs::write(dir.path().join(name), "changed on disk after the zero check").unwrap();
        }
        for (name, body) in files {
            for accept in ["gzip", "identity"] {
                let r =
                    warp::test::request().path(&format!("/{name}")).header("accept-encoding", accept).reply(&app).await;
                assert_eq!(r.status(), 200, "{name}");
                let got = if r.headers().get("content-encoding").is_some_and(|v| v == "gzip") {
                    let mut plain = Vec::new();
                    flate2::read::GzDecoder::new(&r.body()[..]).read_to_end(&mut plain).unwrap();
                    plain
                } else {
                    r.body().to_vec()
                };
                assert_eq!(String::from_utf8_lossy(&got), body, "/{name} ({accept}) came from the disk, not the start");
            }
        }
    }

    #[tokio::test]
    async fn wasm_goes_gzipped_to_browsers_that_accept_it_and_plain_to_others() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<html></html>").unwrap();
        let wasm: Vec<u8> = (0..100_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        std::fs::write(dir.path().join("app-1a2b.wasm"), &wasm).unwrap();
        std::fs::create_dir(dir.path().join("snippets")).unwrap();
        std::fs::write(dir.path().join("snippets/x.js"), "export const x = 1;").unwrap();
        let app = WebApp::load(dir.path(), &[]).unwrap().filter();

        let gz = warp::test::request().path("/app-1a2b.wasm").header("accept-encoding", "gzip, br").reply(&app).await;
        assert_eq!(gz.status(), 200);
        assert_eq!(gz.headers()["content-encoding"], "gzip");
        assert_eq!(gz.headers()["content-type"], "application/wasm");
        assert_eq!(gz.headers()["vary"], "accept-encoding");
        assert!(gz.headers().contains_key("content-security-policy"), "security headers on compressed files too");
        assert!(gz.body().len() < wasm.len() / 4);
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&gz.body()[..]).read_to_end(&mut unzipped).unwrap();
        assert_eq!(unzipped, wasm);

        let plain = warp::test::request().path("/app-1a2b.wasm").reply(&app).await;
        assert_eq!(plain.status(), 200);
        assert!(!plain.headers().contains_key("content-encoding"));
        assert_eq!(plain.body().as_ref(), &wasm[..]);
        let refused =
            warp::test::request().path("/app-1a2b.wasm").header("accept-encoding", "gzip;q=0").reply(&app).await;
        assert_eq!(refused.body().as_ref(), &wasm[..]);

        let js = warp::test::request().path("/snippets/x.js").header("accept-encoding", "gzip").reply(&app).await;
        assert_eq!((js.status().as_u16(), &js.headers()["content-encoding"]), (200, &HeaderValue::from_static("gzip")));
        let missing = warp::test::request().path("/nope.wasm").header("accept-encoding", "gzip").reply(&app).await;
        assert_eq!(missing.status(), 404);
        let route = warp::test::request().path("/vote").header("accept-encoding", "gzip").reply(&app).await;
        assert_eq!(route.body().as_ref(), b"<html></html>");
    }

    #[test]
    fn inline_scripts_are_hashed_and_external_ones_are_not() {
        let html = r#"<script src="/a.js"></script><script type="module">boot()</script>"#;
        let csp = content_security_policy(html, &["http://127.0.0.1:24190".to_string()]);
        assert!(csp.contains("connect-src 'self' http://127.0.0.1:24190;"), "{csp}");
        let expected = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"boot()"));
        assert!(csp.contains(&format!("'sha256-{expected}'")), "{csp}");
        assert_eq!(csp.matches("'sha256-").count(), 1);
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"));
    }
}
