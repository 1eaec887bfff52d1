//! The built voter app (Trunk's `dist/`), served from the verifier's own origin with a strict
//! Content-Security-Policy: scripts only from this origin plus the hashes of the inline loader that Trunk writes,
//! WebAssembly allowed, no framing, no plug-ins.

use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::HeaderValue;
use warp::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use warp::reply::Response;

/// The voter app's files and the headers they are served with.
#[derive(Clone)]
pub struct WebApp {
    dir: PathBuf,
    index_html: String,
    csp: String,
}

impl WebApp {
    /// Loads a Trunk `dist/` folder (its `index.html` must exist); `connect` are the other origins the app may
    /// call (the card helper on the voter's PC).
    pub fn load(dir: &Path, connect: &[String]) -> anyhow::Result<WebApp> {
        let index = dir.join("index.html");
        let index_html = std::fs::read_to_string(&index).map_err(|e| {
            anyhow::anyhow!("cannot read {}: {e}; build the voter app first (cargo xtask demo does)", index.display())
        })?;
        let csp = content_security_policy(&index_html, connect);
        Ok(WebApp { dir: dir.to_path_buf(), index_html, csp })
    }

    /// Returns the Content-Security-Policy sent with every file.
    pub fn csp(&self) -> &str {
        &self.csp
    }

    /// Serves the files, and `index.html` for any other path without a file extension (the app's own routes).
    pub fn filter(self) -> BoxedFilter<(Response,)> {
        let files = get_or_head().and(warp::fs::dir(self.dir.clone())).map(|f: warp::fs::File| {
            use warp::Reply;
            f.into_response()
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
        files.or(index).unify().map(move |r: Response| with_security_headers(r, &csp)).boxed()
    }

    fn index_response(&self) -> Response {
        let mut r = Response::new(self.index_html.clone().into());
        r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        r
    }
}

fn get_or_head() -> BoxedFilter<()> {
    warp::get().or(warp::head()).unify().boxed()
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
    use super::*;

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
