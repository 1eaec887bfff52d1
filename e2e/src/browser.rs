//! Headless Chromium driven over WebDriver (chromedriver from Debian, fantoccini): starting it, reading what it
//! logged, screenshots for reviewers, waiting for a text, and playing the voter at the login and at the card
//! helper's confirmation page.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

use crate::{ProcessGroup, free_port, screenshot_dir};

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

    /// Logs in from the start page: the login button (once the app has drawn it: on a loaded machine the app's
    /// wasm and first answers can arrive after the page's load event), the PIN on the helper's page, then the
    /// voter's contests.
    pub async fn log_in(&self, pin: &str) -> anyhow::Result<()> {
        self.client.wait().for_element(fantoccini::Locator::Css("#login")).await?.click().await?;
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
