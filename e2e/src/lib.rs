//! `e2e`: the harness for end-to-end tests: the real `verifier` binary and the built voter app, driven in real
//! headless Chromium over WebDriver (chromedriver from Debian, fantoccini). Every process is started on a free
//! loopback port and killed when its guard drops, also when a test panics.
//!
//! The tests read `E2E_BIN_DIR` (the built binaries) and `E2E_WEB_DIST` (Trunk's dist/), which
//! `cargo xtask test` sets; without them they use the folder cargo built them into (so `CARGO_TARGET_DIR` is
//! followed) and web/dist, and say what to build when those are missing.
//!
//! Map: this file (processes, the browser, a live election on loopback), [`axe`] (axe-core injected into the real
//! page, its reports saved), [`smtp`] (a real SMTP server on
//! loopback), [`rehearsal`] (the whole election, R-SYS-6, run by tests/rehearsal.rs and `cargo xtask rehearsal`),
//! [`first_render`] (the voter app's time to first render, run by `cargo xtask bench`), [`ace`] (IBM's engine),
//! [`wcag22`] (target size and focus not obscured), [`cost`] (key presses and pointer travel per layout), [`screen_reader`] (what a screen reader hears: Chromium's
//! accessibility tree as a transcript, the live regions' announcements, the Tab order against the visual order).
#![allow(clippy::expect_used)]

pub mod ace;
pub mod axe;
pub mod committee;
pub mod cost;
pub mod first_render;
pub mod rehearsal;
pub mod screen_reader;
pub mod smtp;
pub mod wcag22;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

/// Returns the repository root.
pub fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// Returns the folder of the built binaries: `E2E_BIN_DIR`, or else the folder cargo built this program into
/// (a test runs from `<target>/<profile>/deps`, a binary from `<target>/<profile>`), so that it follows
/// `CARGO_TARGET_DIR` and build profiles (issue 17).
pub fn bin_dir() -> PathBuf {
    std::env::var_os("E2E_BIN_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let exe = std::env::current_exe().ok();
        let dir =
            exe.as_deref().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_else(|| root().join("target/debug"));
        if dir.ends_with("deps") { dir.parent().map(Path::to_path_buf).unwrap_or(dir) } else { dir }
    })
}

/// The 16 layouts of the candidate screen, as the reviewer's gallery names them: (selection, display, drum start),
/// each selection mode with one screen, scroll, and the drum roll from the first entry and from a rotated one.
pub fn gallery_layouts() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut out = Vec::new();
    for sel in ["list", "free_word_search", "initial_letter_input", "initial_letter_select"] {
        for (disp, drum) in
            [("one_screen", "first"), ("scroll", "first"), ("drum_roll", "first"), ("drum_roll", "rotated")]
        {
            out.push((sel, disp, drum));
        }
    }
    out
}

/// Returns the target directory the binaries were built in (the parent of [`bin_dir`]).
pub fn target_dir() -> PathBuf {
    let bin = bin_dir();
    bin.parent().map(Path::to_path_buf).unwrap_or(bin)
}

/// Returns the built voter app.
pub fn web_dist() -> anyhow::Result<PathBuf> {
    let dist = std::env::var_os("E2E_WEB_DIST").map(PathBuf::from).unwrap_or_else(|| root().join("web/dist"));
    if !dist.join("index.html").exists() {
        bail!("{} has no index.html: build the voter app first (cargo xtask test does)", dist.display());
    }
    Ok(dist)
}

/// Returns where screenshots for reviewers are saved.
pub fn screenshot_dir() -> PathBuf {
    target_dir().join("e2e-screenshots")
}

/// Returns a free loopback port.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A child process in its own process group, killed with its whole group on drop.
pub struct ProcessGroup(Child);

impl ProcessGroup {
    /// Starts a command in a new process group.
    pub fn spawn(mut cmd: Command) -> anyhow::Result<ProcessGroup> {
        cmd.process_group(0);
        let child = cmd.spawn().with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
        Ok(ProcessGroup(child))
    }

    /// Returns the child.
    pub fn child(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl ProcessGroup {
    /// Kills the group now and waits for the child.
    pub fn stop(&mut self) {
        if let Ok(pgid) = i32::try_from(self.0.id()) {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), nix::sys::signal::Signal::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

impl ProcessGroup {
    /// Stops the process as an operator would (SIGTERM to its group) and waits for it to finish.
    pub fn terminate(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        let pgid = i32::try_from(self.0.id())?;
        nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), nix::sys::signal::Signal::SIGTERM)?;
        Ok(self.0.wait()?)
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // The group was created by `process_group(0)` for this child alone, so only its processes are signalled
        // (chromedriver and the Chromium it started, which would otherwise outlive a failed test).
        if let Ok(pgid) = i32::try_from(self.0.id()) {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), nix::sys::signal::Signal::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// A running verifier on a free port.
pub struct Verifier {
    _process: ProcessGroup,
    /// `http://127.0.0.1:PORT/`.
    pub base_url: String,
}

impl Verifier {
    /// Starts `verifier serve --demo` with the built voter app.
    pub fn start_demo() -> anyhow::Result<Verifier> {
        let mut cmd = Command::new(bin_dir().join("verifier"));
        cmd.args(["serve", "--demo", "--listen", "127.0.0.1:0"])
            .arg("--web-dir")
            .arg(web_dist()?)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut process = ProcessGroup::spawn(cmd)?;
        let stdout = process.child().stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        Ok(Verifier { _process: process, base_url: listening_url(&line)? })
    }
}

/// The voter address from the first line `verifier serve` prints, `verifier: listening on http://ADDR/`.
pub(crate) fn listening_url(line: &str) -> anyhow::Result<String> {
    line.trim()
        .strip_prefix("verifier: listening on ")
        .filter(|url| url.starts_with("http://"))
        .map(str::to_string)
        .with_context(|| format!("the verifier did not start: {line:?}"))
}

/// Headless Chromium driven over WebDriver.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    _driver: ProcessGroup,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile; `tz` sets the browser's time zone (to
    /// prove the app never takes election times from it).
    pub async fn start(tz: Option<&str>) -> anyhow::Result<Browser> {
        let port = free_port()?;
        let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let mut cmd = Command::new(driver);
        cmd.arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null());
        if let Some(tz) = tz {
            cmd.env("TZ", tz);
        }
        let driver = ProcessGroup::spawn(cmd)?;
        let profile = tempfile::tempdir()?;
        let caps = serde_json::json!({
            // Every console message, uncaught exception and failed load, read by `Browser::finish`.
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        });
        let caps = caps.as_object().cloned().context("capabilities")?;
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            match ClientBuilder::new(HttpConnector::new()).capabilities(caps.clone()).connect(&url).await {
                Ok(client) => {
                    // The profile folder must outlive the browser; it is removed with the temp dir at exit.
                    std::mem::forget(profile);
                    return Ok(Browser { client, _driver: driver });
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("chromedriver did not start on port {port}: {last:?}")
    }

    /// Takes what the browser logged at level SEVERE since the last call: `console.error`, uncaught exceptions
    /// (a wasm panic is `RuntimeError: unreachable`), unhandled rejections, and resources that failed to load.
    pub async fn console_errors(&self) -> anyhow::Result<Vec<String>> {
        let log = self.client.issue_cmd(BrowserLog).await.context("reading the browser log")?;
        let entries = log.as_array().cloned().unwrap_or_default();
        Ok(entries
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect())
    }

    /// Fails on anything the browser logged at level SEVERE that is not one of `expected`, then closes the
    /// browser. Every end-to-end test ends with this (issue 17): a panic in the app does not fail a test by
    /// itself.
    pub async fn finish(self, expected: &[Expected]) -> anyhow::Result<()> {
        let checked = self.check_console(expected).await;
        self.client.close().await?;
        checked
    }

    /// Fails on anything the browser logged at level SEVERE since the last read that is not one of `expected`.
    pub async fn check_console(&self, expected: &[Expected]) -> anyhow::Result<()> {
        let errors = self.console_errors().await?;
        let mut unexpected: Vec<&String> = Vec::new();
        for m in &errors {
            match expected.iter().find(|e| m.contains(e.contains)) {
                Some(e) => {
                    println!("browser log, expected ({}): {}", e.reason, m.chars().take(200).collect::<String>())
                }
                None => unexpected.push(m),
            }
        }
        if !unexpected.is_empty() {
            bail!(
                "the browser logged {} unexpected error(s):\n{}",
                unexpected.len(),
                unexpected
                    .iter()
                    .map(|m| format!("  {}", m.chars().take(400).collect::<String>()))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        Ok(())
    }

    /// Saves a screenshot under target/e2e-screenshots/NAME.png for reviewers.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await?)?;
        Ok(path)
    }

    /// Waits until an element's text satisfies a condition, returning the text.
    pub async fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> anyhow::Result<String> {
        let mut last = String::new();
        for _ in 0..100 {
            if let Ok(el) = self.client.find(fantoccini::Locator::Css(css)).await {
                last = el.text().await.unwrap_or_default();
                if ok(&last) {
                    return Ok(last);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("{css}: text never satisfied the condition; last seen {last:?}")
    }
}

/// A network line for Chromium's emulation (chromedriver's `network_conditions`, DevTools'
/// `Network.emulateNetworkConditions`): each request waits `latency_ms` before its answer, and the bytes flow at
/// most at these rates.
#[derive(Clone, Copy, Debug)]
pub struct Line {
    /// Added to every request, in milliseconds (Chromium adds it once per request, not per TCP round trip).
    pub latency_ms: u32,
    /// Bytes a second, down.
    pub down_bytes_per_s: u32,
    /// Bytes a second, up.
    pub up_bytes_per_s: u32,
}

impl Line {
    /// A slow line abroad (issue 19): 1.6 Mbit/s down, 768 kbit/s up, 300 ms round trip.
    pub const SLOW_ABROAD: Line = Line { latency_ms: 300, down_bytes_per_s: 200_000, up_bytes_per_s: 96_000 };
}

impl Browser {
    /// Emulates `line` for every request from now on, in this browser.
    pub async fn throttle(&self, line: Line) -> anyhow::Result<()> {
        self.client.issue_cmd(NetworkConditions(line)).await.context("setting the network conditions")?;
        Ok(())
    }
}

/// chromedriver's `POST /session/{id}/chromium/network_conditions`.
#[derive(Debug)]
struct NetworkConditions(Line);

impl fantoccini::wd::WebDriverCompatibleCommand for NetworkConditions {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/chromium/network_conditions", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let l = self.0;
        let body = serde_json::json!({ "network_conditions": {
            "offline": false, "latency": l.latency_ms,
            "download_throughput": l.down_bytes_per_s, "upload_throughput": l.up_bytes_per_s,
        }});
        (http::Method::POST, Some(body.to_string()))
    }
}

/// A message a test expects in the browser's log, and why; see [`Browser::finish`].
pub struct Expected {
    /// A part of the message.
    pub contains: &'static str,
    /// Why the test causes it.
    pub reason: &'static str,
}

/// The app looks for the card helper on every page; a test that runs none sees the browser log the refused
/// connection.
pub const NO_HELPER: Expected = Expected {
    contains: "/api/v1/status - Failed to load resource: net::ERR_CONNECTION_REFUSED",
    reason: "no card helper runs in this test; the app asks for it on each page and says how to start it",
};

/// chromedriver's `POST /session/{id}/se/log` for the `browser` log: its entries since the last read.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

/// A whole small election on loopback: a JPKI-like test authority with one registered voter's soft card, the
/// card helper holding it, and the verifier (with the built voter app) on a database with the demo election open
/// now. Everything is set up through the binaries' own commands, as an operator would.
pub struct LiveElection {
    /// The verifier's base URL, `http://127.0.0.1:PORT/`.
    pub base_url: String,
    /// The voter's authentication PIN.
    pub auth_pin: &'static str,
    /// The voter's signing password.
    pub sign_password: &'static str,
    /// The verifier's database (operator commands run against it).
    pub db: PathBuf,
    /// The committee of municipality 13101 on the operator API, when started with one.
    pub committee: Option<Committee>,
    /// The host's named operators (two admins, and a counting officer once needed), logged in.
    pub crew: verifier::operators::crew::Crew,
    verifier: ProcessGroup,
    helper: ProcessGroup,
    helper_port: u16,
    origin: String,
    cards: Vec<PathBuf>,
    _dir: tempfile::TempDir,
}

/// A municipal committee's clerk and approver on the running verifier's operator API.
pub struct Committee {
    /// The operator API, `https://127.0.0.1:PORT`.
    pub url: String,
    /// The clerk (事務担当).
    pub clerk: committee::Operator,
    /// The approver (決裁者).
    pub approver: committee::Operator,
}

pub(crate) fn start_helper(port: u16, origin: &str, card: &Path) -> anyhow::Result<ProcessGroup> {
    let mut h = Command::new(bin_dir().join("card-helper"));
    h.args(["serve", "--port", &port.to_string(), "--allowed-origin", origin, "--soft-card"])
        .arg(card)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut helper = ProcessGroup::spawn(h)?;
    let mut line = String::new();
    BufReader::new(helper.child().stdout.take().context("no stdout")?).read_line(&mut line)?;
    if !line.contains("listening") {
        bail!("the card helper did not start: {line:?}");
    }
    Ok(helper)
}

impl LiveElection {
    /// Stops the verifier gracefully (SIGTERM), as at the end of a lab session: it writes what it still holds.
    pub fn stop_verifier(&mut self) -> anyhow::Result<()> {
        let status = self.verifier.terminate()?;
        anyhow::ensure!(status.success(), "the verifier stopped with {status}");
        Ok(())
    }

    /// The card helper's origin, `http://127.0.0.1:PORT`.
    pub fn helper_origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.helper_port)
    }

    /// Runs a `verifier` operator command against this election's database (e.g. `pause --reason …`) as the crew's
    /// first admin; pause, resume and export are approved by a second person (four eyes).
    pub fn verifier_command(&self, args: &[&str]) -> anyhow::Result<()> {
        if ["pause", "resume", "export"].contains(&args[0]) {
            self.crew.four_eyes(args)?;
        } else {
            self.crew.run(args)?;
        }
        Ok(())
    }

    /// Puts voter `i`'s card in the reader: the helper restarts on the same port with that card.
    pub fn use_card(&mut self, i: usize) -> anyhow::Result<()> {
        let card = self.cards.get(i).context("no such voter")?.clone();
        // Stop the old helper first: the port is reused.
        self.helper = start_helper_after(&mut self.helper, self.helper_port, &self.origin, &card)?;
        Ok(())
    }

    /// Sets up and starts everything with one registered voter.
    pub fn start() -> anyhow::Result<LiveElection> {
        LiveElection::start_with_voters(1)
    }

    /// Sets up and starts everything with `n` registered voters (the helper holds voter 0's card).
    pub fn start_with_voters(n: usize) -> anyhow::Result<LiveElection> {
        LiveElection::start_with(n, &[])
    }

    /// As [`LiveElection::start_with_voters`], with extra `verifier serve` arguments (e.g. a short session).
    pub fn start_with(n: usize, serve_args: &[&str]) -> anyhow::Result<LiveElection> {
        LiveElection::start_election(n, serve_args, "verifier/elections/demo.toml", &["tokyo", "national"], 0)
    }

    /// The demo election filed as a real one (`practice = false`), with one voter: what a practice-only feature
    /// must refuse.
    pub fn start_real() -> anyhow::Result<LiveElection> {
        let demo = std::fs::read_to_string(root().join("verifier/elections/demo.toml"))?;
        anyhow::ensure!(demo.contains("practice = true"), "demo.toml no longer says practice = true");
        LiveElection::start_toml(&demo.replace("practice = true", "practice = false"), &["tokyo", "national"])
    }

    /// An election written as TOML (e.g. `e2e::cost::election_toml`), re-dated to be open now, with one voter of
    /// these districts.
    pub fn start_toml(election: &str, districts: &[&str]) -> anyhow::Result<LiveElection> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("election.toml");
        std::fs::write(&file, election)?;
        LiveElection::start_election(1, &[], file.to_str().context("path")?, districts, 0)
    }

    /// As [`LiveElection::start_with_voters`], with `applicants` more cards that are not registered (voters
    /// `n..n + applicants`) and the committee of municipality 13101 on the operator API (a clerk and an approver
    /// with client certificates and TOTP secrets).
    pub fn start_with_committee(n: usize, applicants: usize) -> anyhow::Result<LiveElection> {
        LiveElection::start_election(n, &[], "verifier/elections/demo.toml", &["tokyo", "national"], applicants)
    }

    /// As [`LiveElection::start_with_voters`] for the rehearsal's House of Representatives general election
    /// (`verifier/elections/rehearsal-hor.toml`, open now): Tokyo 1st district, the Tokyo PR block and the Supreme
    /// Court review, which only a House of Representatives general election holds.
    pub fn start_hor(n: usize) -> anyhow::Result<LiveElection> {
        LiveElection::start_election(
            n,
            &[],
            "verifier/elections/rehearsal-hor.toml",
            &["tokyo-1", "tokyo-block", "national"],
            0,
        )
    }

    /// Starts an election file (of the repository, or an absolute path), re-dated to be open now, with `n` voters of
    /// these districts.
    fn start_election(
        n: usize,
        serve_args: &[&str],
        election_file: &str,
        districts: &[&str],
        applicants: usize,
    ) -> anyhow::Result<LiveElection> {
        let dir = tempfile::tempdir()?;
        let bin = bin_dir();
        let run = |cmd: &mut Command| -> anyhow::Result<()> {
            let out = cmd.output().with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
            if !out.status.success() {
                bail!("{:?} failed: {}", cmd.get_program(), String::from_utf8_lossy(&out.stderr));
            }
            Ok(())
        };
        let test_pki = bin.join("test-pki");
        let verifier_bin = bin.join("verifier");
        let pki = dir.path().join("pki");
        let (auth_pin, sign_password) = ("1234", "HANAKO1");
        run(Command::new(&test_pki).args(["init", "--dir"]).arg(&pki))?;
        let mut cards = Vec::new();
        for i in 0..n.max(1) + applicants {
            let card = dir.path().join(format!("card{i}.json"));
            let name = if i == 0 { "在外 花子".to_string() } else { format!("在外 利用者{i}") };
            run(Command::new(&test_pki)
                .args(["issue", "--dir"])
                .arg(&pki)
                .args(["--name", &name, "--address", "ニューヨーク", "--birth-date", "1990-04-01", "--sex", "female"])
                .args(["--auth-pin", auth_pin, "--sign-password", sign_password, "--out"])
                .arg(&card))?;
            cards.push(card);
        }
        let db = dir.path().join("verifier.sqlite");
        let committee_dir = dir.path().join("operator-ca");
        // The host's named operators (issue 21): two admins, who create the election under four eyes.
        let crew =
            verifier::operators::crew::Crew::bootstrap(&verifier_bin, &db, &committee_dir, &dir.path().join("crew"))?;
        let (file, key) = (root().join(election_file), root().join("shared/tests/data/test-election-key.pub.pem"));
        let (file, key) = (file.to_str().context("path")?, key.to_str().context("path")?);
        crew.four_eyes(&["election", "create", file, "--public-key", key, "--redate-for-demo"])?;
        let mut lines = String::new();
        for (i, card) in cards.iter().enumerate().take(n.max(1)) {
            let card_json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(card)?)?;
            let voter = serde_json::json!({
                "person_id": format!("13101:E-{}", i + 1), "municipality": "13101", "districts": districts,
                "auth_certificates": [card_json["auth"]["certificate"]],
                "sign_certificates": [card_json["sign"]["certificate"]],
            });
            lines.push_str(&format!("{voter}\n"));
        }
        let voters = dir.path().join("voters.jsonl");
        std::fs::write(&voters, lines)?;
        crew.run(&[
            "voters",
            "import",
            voters.to_str().context("path")?,
            "--trust-dir",
            pki.to_str().context("path")?,
        ])?;

        let operator_port = free_port()?;
        let committee = if applicants > 0 {
            run(Command::new(&verifier_bin)
                .args(["operators", "server-cert", "--host", "127.0.0.1", "--ca"])
                .arg(&committee_dir))?;
            let issue = |name: &str, role: &str| committee::Operator::issue(&crew, &committee_dir, name, role, "13101");
            Some(Committee {
                url: format!("https://127.0.0.1:{operator_port}"),
                clerk: issue("Kei Clerk", "clerk")?,
                approver: issue("Aya Approver", "approver")?,
            })
        } else {
            None
        };
        let helper_port = free_port()?;
        let verifier_port = free_port()?;
        let origin = format!("http://127.0.0.1:{verifier_port}");
        let mut v = Command::new(&verifier_bin);
        v.args(["serve", "--listen", &format!("127.0.0.1:{verifier_port}"), "--public-origin", &origin])
            .arg("--card-helper-origin")
            .arg(format!("http://127.0.0.1:{helper_port}"))
            .arg("--db")
            .arg(&db)
            .arg("--trust-dir")
            .arg(&pki)
            .arg("--web-dir")
            .arg(web_dist()?)
            .args(serve_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if committee.is_some() {
            v.args(["--operator-listen", &format!("127.0.0.1:{operator_port}")])
                .arg("--operator-ca")
                .arg(&committee_dir);
        }
        let mut verifier = ProcessGroup::spawn(v)?;
        let mut line = String::new();
        let mut out = BufReader::new(verifier.child().stdout.take().context("no stdout")?);
        out.read_line(&mut line)?;
        listening_url(&line)?;
        // Keep reading: the verifier prints more (the operator API's address), and a closed pipe would stop it.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let helper = start_helper(helper_port, &origin, &cards[0])?;
        if committee.is_some() {
            let operators = format!("127.0.0.1:{operator_port}");
            let up = (0..100).any(|_| {
                std::thread::sleep(Duration::from_millis(50));
                std::net::TcpStream::connect(&operators).is_ok()
            });
            anyhow::ensure!(up, "the operator API did not start on {operators}");
        }
        Ok(LiveElection {
            base_url: format!("{origin}/"),
            auth_pin,
            sign_password,
            db,
            committee,
            crew,
            verifier,
            helper,
            helper_port,
            origin,
            cards,
            _dir: dir,
        })
    }
}

/// Stops a helper and starts another on the same port, retrying while the port is released.
pub(crate) fn start_helper_after(
    old: &mut ProcessGroup,
    port: u16,
    origin: &str,
    card: &Path,
) -> anyhow::Result<ProcessGroup> {
    old.stop();
    let mut last = None;
    for _ in 0..50 {
        match start_helper(port, origin, card) {
            Ok(h) => return Ok(h),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("the card helper did not restart")))
}

impl Browser {
    /// Logs in from the start page: the login button, the PIN on the helper's page, then the voter's contests.
    pub async fn log_in(&self, pin: &str) -> anyhow::Result<()> {
        self.client.find(fantoccini::Locator::Css("#login")).await?.click().await?;
        self.confirm_on_helper_page(pin).await?;
        self.wait_text("#contests-h", |t| !t.is_empty()).await?;
        Ok(())
    }

    /// Plays the voter at the card helper's confirmation page: finds the popup the app opened (skipping a popup of
    /// an earlier step that is still closing), types the PIN, confirms, waits for the helper's answer, and returns
    /// to the voting page.
    pub async fn confirm_on_helper_page(&self, pin: &str) -> anyhow::Result<()> {
        let main = self.client.window().await?;
        for _ in 0..100 {
            for handle in self.client.windows().await? {
                if handle == main || self.client.switch_to_window(handle).await.is_err() {
                    continue;
                }
                if let Ok(field) = self.client.find(fantoccini::Locator::Css("#pin")).await {
                    field.send_keys(pin).await?;
                    self.client.find(fantoccini::Locator::Css("button[value=confirm]")).await?.click().await?;
                    // The helper answers on its own page, unless the voting page has closed the popup already.
                    let answer = self.client.wait().at_most(Duration::from_secs(10));
                    if let Ok(el) = answer.for_element(fantoccini::Locator::Css("#result")).await
                        && let Ok(text) = el.text().await
                        && !text.contains("完了")
                    {
                        self.client.switch_to_window(main).await?;
                        bail!("the helper refused: {text}");
                    }
                    self.client.switch_to_window(main).await?;
                    return Ok(());
                }
            }
            self.client.switch_to_window(main.clone()).await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the card helper's page never opened")
    }
}
