//! Real `verifier serve` processes driven over HTTP (crash recovery, front-ends on one voting store): the election
//! and roll made through the real commands, a server started on a random port, and a voter's login and cast.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use shared::api::{CastReceipt, Challenge};
use shared::crypto::ElectionPublicKey;
use shared::election::{Choice, Election};

use super::{ELECTION_PUB, ORIGIN, TestVoter, cast_body, login_body};

/// A `verifier serve` process, killed on drop.
pub struct Server {
    /// The process.
    pub child: Child,
    /// Its voter API's base URL.
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `verifier serve` on a random port of 127.0.0.1 with the database, the trust directory, its log appended
/// to `log` (RUST_LOG=debug), and `extra` arguments.
pub fn start(db: &Path, trust: &Path, log: &Path, extra: &[&str]) -> Server {
    start_on(db, trust, log, "127.0.0.1:0", extra)
}

/// [`start`] on a given address (a front-end restarted on its port).
pub fn start_on(db: &Path, trust: &Path, log: &Path, listen: &str, extra: &[&str]) -> Server {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_verifier"))
        .args(["serve", "--listen", listen, "--public-origin", ORIGIN])
        .arg("--db")
        .arg(db)
        .arg("--trust-dir")
        .arg(trust)
        .args(extra)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("verifier: listening on ").expect("started").trim_end_matches('/').to_string();
    Server { child, base }
}

/// Election and voters through the real commands: the election created by two admins, the roll imported (every
/// voter in municipality 13101). Returns the database.
pub fn election_and_voters_through_the_real_commands(dir: &Path, voters: &[Arc<TestVoter>]) -> PathBuf {
    let key_file = dir.join("election.pub.pem");
    std::fs::write(&key_file, ELECTION_PUB).unwrap();
    let db = dir.join("verifier.sqlite");
    let toml_file = dir.join("election.toml");
    std::fs::write(&toml_file, verifier::demo::DEMO_TOML).unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_verifier"));
    let crew = verifier::operators::crew::Crew::bootstrap(bin, &db, &dir.join("operator-ca"), dir).unwrap();
    let (toml_s, key_s) = (toml_file.to_str().unwrap(), key_file.to_str().unwrap());
    crew.four_eyes(&["election", "create", toml_s, "--public-key", key_s, "--redate-for-demo"]).unwrap();
    let lines: String = voters
        .iter()
        .map(|v| {
            serde_json::json!({
                "person_id": v.person_id, "municipality": "13101", "districts": ["tokyo", "national"],
                "auth_certificates": [B64.encode(&v.card.auth_cert_der)],
                "sign_certificates": [B64.encode(&v.card.sign_cert_der)],
            })
            .to_string()
                + "\n"
        })
        .collect();
    let voters_file = dir.join("voters.jsonl");
    std::fs::write(&voters_file, lines).unwrap();
    let trust = dir.join("ca");
    crew.run(&["voters", "import", voters_file.to_str().unwrap(), "--trust-dir", trust.to_str().unwrap()]).unwrap();
    db
}

/// A ballot encrypted as the voter app does.
pub fn encrypt_for(e: &Election, key: &ElectionPublicKey, contest: &str, choice: Choice) -> Vec<u8> {
    let plain = shared::ballot::encode(e, e.contest(contest).unwrap(), &choice).unwrap();
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    shared::crypto::encrypt_ballot(&mut rng, key, e.id.as_str(), contest, &plain).unwrap()
}

/// An HTTP client that keeps its cookies (a voter's browser), with a 10 s timeout.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).timeout(Duration::from_secs(10)).build().unwrap()
}

/// Logs the voter in at `base` with the browser: the status, or `None` if the server could not be reached.
pub async fn log_in(http: &reqwest::Client, base: &str, v: &TestVoter) -> Option<u16> {
    let c: Challenge = http.post(format!("{base}/api/v1/session/challenge")).send().await.ok()?.json().await.ok()?;
    let r = http.post(format!("{base}/api/v1/session")).json(&login_body(v, &c.nonce.0, ORIGIN)).send().await.ok()?;
    Some(r.status().as_u16())
}

/// Casts one contest's blank ballot at `base` with the browser's session: the tracker on a 201 (checked against
/// the ciphertext), else the status and the refusal's code; `Err((0, ..))` if the server could not be reached.
pub async fn cast_at(
    http: &reqwest::Client,
    base: &str,
    v: &TestVoter,
    e: &Election,
    key: &ElectionPublicKey,
    contest: &str,
) -> Result<String, (u16, String)> {
    send_cast(http, base, &signed_cast(v, e, key, contest)).await
}

/// A blank ballot for the contest, encrypted and signed as the app and the helper make it: the request's body and
/// the ciphertext's tracker.
pub fn signed_cast(v: &TestVoter, e: &Election, key: &ElectionPublicKey, contest: &str) -> (serde_json::Value, String) {
    let ct = encrypt_for(e, key, contest, Choice::Blank);
    (cast_body(v, e.id.as_str(), contest, &ct), shared::crypto::tracker(&ct))
}

/// Sends a signed cast (the same body again, for a retry): as [`cast_at`].
pub async fn send_cast(
    http: &reqwest::Client,
    base: &str,
    (body, tracker): &(serde_json::Value, String),
) -> Result<String, (u16, String)> {
    let r = http.post(format!("{base}/api/v1/ballots")).json(body).send().await.map_err(|e| (0, e.to_string()))?;
    let status = r.status().as_u16();
    let bytes = r.bytes().await.map_err(|e| (0, e.to_string()))?;
    if status != 201 {
        let code = serde_json::from_slice::<shared::api::ApiError>(&bytes).map(|e| e.code);
        return Err((status, code.unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned())));
    }
    let receipt: CastReceipt = serde_json::from_slice(&bytes).map_err(|e| (status, e.to_string()))?;
    assert_eq!(&receipt.tracker, tracker);
    Ok(receipt.tracker)
}

/// Logs in and casts one contest; returns the tracker on a 201, None on any failure (e.g. the server died).
pub async fn vote(base: &str, v: &TestVoter, e: &Election, key: &ElectionPublicKey, contest: &str) -> Option<String> {
    let http = browser();
    if log_in(&http, base, v).await? != 201 {
        return None;
    }
    cast_at(&http, base, v, e, key, contest).await.ok()
}
