//! A slow network line for Chromium's emulation, so that a test can load the app as a voter abroad would.

use anyhow::Context;

use crate::Browser;

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
