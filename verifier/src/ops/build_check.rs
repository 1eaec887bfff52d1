//! The zero-vote check's proof of *which program* runs (R-SYS-2, R-SYS-3, issue 21 part 4): the audited build's
//! hashes ([`BuildHashes`], made by `verifier build-hashes` from that build and published) compared with the
//! verifier binary of this command, the binary of the running server (`/proc/PID/exe`), and every file of the
//! voter app as the running server serves it (fetched over HTTP as a browser asks, gzip accepted: what voters get,
//! which the server compressed into memory at start, not what is on disk now).
//!
//! Must never: pass a program, or a served file, whose hash differs from the published one; or read the served
//! app from disk instead of from the server.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hashes file's format tag.
pub const BUILD_HASHES_FORMAT: &str = "jp-ivote-build-hashes/1";

/// The published hashes of an audited build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildHashes {
    /// Always [`BUILD_HASHES_FORMAT`].
    pub format: String,
    /// SHA-256 of the `verifier` binary (hex).
    pub verifier: String,
    /// SHA-256 of each file of the voter app (Trunk's `dist/`), by path relative to it (hex).
    pub web: BTreeMap<String, String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn file_hash(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    Ok(sha256_hex(&bytes))
}

impl BuildHashes {
    /// Hashes a build: the verifier binary and every file under the voter app's folder.
    pub fn of_build(verifier: &Path, web_dir: &Path) -> anyhow::Result<BuildHashes> {
        let mut web = BTreeMap::new();
        let mut stack = vec![web_dir.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))? {
                let path = entry?.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let name = path.strip_prefix(web_dir)?.to_string_lossy().replace('\\', "/");
                    web.insert(name, file_hash(&path)?);
                }
            }
        }
        anyhow::ensure!(web.contains_key("index.html"), "{} has no index.html: build the voter app", web_dir.display());
        Ok(BuildHashes { format: BUILD_HASHES_FORMAT.into(), verifier: file_hash(verifier)?, web })
    }

    /// Reads a published hashes file.
    pub fn read(path: &Path) -> anyhow::Result<BuildHashes> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let hashes: BuildHashes = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not a build hashes file: {e}", path.display()))?;
        anyhow::ensure!(hashes.format == BUILD_HASHES_FORMAT, "{}: format {:?}", path.display(), hashes.format);
        Ok(hashes)
    }
}

/// What the build check compared, for the signed zero-check report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildCheck {
    /// SHA-256 of the hashes file compared against.
    pub expected_hashes_sha256: String,
    /// The running server's process id and its binary's hash.
    pub server_pid: u32,
    /// The server's voter origin, from which the app was fetched.
    pub server: String,
    /// The verifier binary's hash (this command's and the server's, equal to the published one).
    pub verifier_sha256: String,
    /// Each served file and its hash, equal to the published one.
    pub served: BTreeMap<String, String>,
}

/// `BUILD_MISMATCH`: a program or a served file is not the audited build; nothing was signed.
fn mismatch(what: &str, got: &str, want: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "BUILD_MISMATCH: {what} has SHA-256 {got}, the audited build's is {want}. Stop and find out why before \
         voting opens: run the audited build, and serve its voter app; nothing was signed"
    )
}

/// Compares this command's binary, the running server's binary and the served voter app with the published
/// hashes; refuses with `BUILD_MISMATCH` naming the first that differs.
pub fn check(expected_path: &Path, server: &str, server_pid: u32) -> anyhow::Result<BuildCheck> {
    let expected = BuildHashes::read(expected_path)?;
    let own = file_hash(&std::env::current_exe()?)?;
    if own != expected.verifier {
        return Err(mismatch("this verifier binary", &own, &expected.verifier));
    }
    let exe = format!("/proc/{server_pid}/exe");
    let running = file_hash(Path::new(&exe)).map_err(|e| {
        anyhow::anyhow!("cannot read the running server's binary ({exe}): {e}; is {server_pid} its pid?")
    })?;
    if running != expected.verifier {
        return Err(mismatch(&format!("the running server's binary (pid {server_pid})"), &running, &expected.verifier));
    }
    let base = server.trim_end_matches('/').to_string();
    let fetched = tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
        let client = reqwest::Client::builder().build()?;
        let mut served = BTreeMap::new();
        for name in expected.web.keys() {
            let url = if name == "index.html" { format!("{base}/") } else { format!("{base}/{name}") };
            // As a browser asks: gzip accepted, so the in-memory copy made at start is what comes back.
            let answer = client.get(&url).header("accept-encoding", "gzip").send().await?;
            anyhow::ensure!(answer.status().is_success(), "the server answered {} for {url}", answer.status());
            let gzipped = answer.headers().get("content-encoding").is_some_and(|v| v == "gzip");
            let body = answer.bytes().await?;
            let body = if gzipped {
                let mut plain = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut plain)?;
                plain
            } else {
                body.to_vec()
            };
            served.insert(name.clone(), sha256_hex(&body));
        }
        Ok::<_, anyhow::Error>(served)
    })?;
    for (name, want) in &expected.web {
        let got = fetched.get(name).map(String::as_str).unwrap_or_default();
        if got != want {
            return Err(mismatch(&format!("the served {name}"), got, want));
        }
    }
    Ok(BuildCheck {
        expected_hashes_sha256: file_hash(expected_path)?,
        server_pid,
        server: base,
        verifier_sha256: own,
        served: fetched,
    })
}
