//! Time to first render of the voter app (tracker issue 10): the start page loaded in real headless Chromium from
//! the real verifier, read back from the page's own timing entries, all relative to navigation start:
//! the app's User Timing marks (`ivote:first-render` once its first render is in the DOM, `ivote:election-shown`
//! once the election read from the verifier is on screen), the browser's first contentful paint (the page's HTML
//! has no visible text, so that is the app's first render painted), and the navigation and `.wasm` resource timing
//! beside them. Each cold load is a new browser with a new profile (empty HTTP cache, no compiled-wasm cache); a
//! warm load of the same page follows in the same browser.
//!
//! `cargo xtask bench` runs the `first_render` binary, which prints [`measure`]'s report as JSON. It reports;
//! nothing here compares a time with a limit.

use std::time::Duration;

use anyhow::bail;
use serde_json::{Value, json};

use crate::Browser;

/// The mark the app sets after its first render (`web::FIRST_RENDER_MARK`; the voter app is another workspace).
pub const FIRST_RENDER_MARK: &str = "ivote:first-render";
/// The mark the start screen sets when it first shows the election (`web::ELECTION_SHOWN_MARK`).
pub const ELECTION_SHOWN_MARK: &str = "ivote:election-shown";

/// One page load's timing entries, in milliseconds from navigation start (`None`: the browser has no such entry).
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    /// The app's first render is in the DOM ([`FIRST_RENDER_MARK`]).
    pub first_render_ms: Option<f64>,
    /// The election read from the verifier is on screen ([`ELECTION_SHOWN_MARK`]).
    pub election_shown_ms: Option<f64>,
    /// The browser's first contentful paint.
    pub first_contentful_paint_ms: Option<f64>,
    /// The HTML page's last byte arrived.
    pub response_end_ms: Option<f64>,
    /// `DOMContentLoaded` handlers finished.
    pub dom_content_loaded_ms: Option<f64>,
    /// The `.wasm` file's last byte arrived.
    pub wasm_response_end_ms: Option<f64>,
    /// The `.wasm` file's bytes on the wire (0 when it came from the cache).
    pub wasm_transfer_bytes: Option<f64>,
}

impl Load {
    fn from_json(v: &Value) -> Load {
        let f = |k: &str| v.get(k).and_then(Value::as_f64);
        Load {
            first_render_ms: f("first_render_ms"),
            election_shown_ms: f("election_shown_ms"),
            first_contentful_paint_ms: f("first_contentful_paint_ms"),
            response_end_ms: f("response_end_ms"),
            dom_content_loaded_ms: f("dom_content_loaded_ms"),
            wasm_response_end_ms: f("wasm_response_end_ms"),
            wasm_transfer_bytes: f("wasm_transfer_bytes"),
        }
    }

    /// Returns the load as JSON, with the keys of the page's script.
    pub fn to_json(&self) -> Value {
        json!({
            "first_render_ms": self.first_render_ms,
            "election_shown_ms": self.election_shown_ms,
            "first_contentful_paint_ms": self.first_contentful_paint_ms,
            "response_end_ms": self.response_end_ms,
            "dom_content_loaded_ms": self.dom_content_loaded_ms,
            "wasm_response_end_ms": self.wasm_response_end_ms,
            "wasm_transfer_bytes": self.wasm_transfer_bytes,
        })
    }
}

/// Reads the entries; `null` until both marks exist.
const READ: &str = r#"
const mark = n => { const e = performance.getEntriesByName(n, 'mark')[0]; return e ? e.startTime : null; };
const first = mark(arguments[0]), shown = mark(arguments[1]);
if (first === null || shown === null) { return null; }
const nav = performance.getEntriesByType('navigation')[0] || {};
const fcp = performance.getEntriesByName('first-contentful-paint')[0];
const wasm = performance.getEntriesByType('resource').find(r => r.name.endsWith('.wasm'));
return {
  first_render_ms: first, election_shown_ms: shown, first_contentful_paint_ms: fcp ? fcp.startTime : null,
  response_end_ms: nav.responseEnd ?? null, dom_content_loaded_ms: nav.domContentLoadedEventEnd ?? null,
  wasm_response_end_ms: wasm ? wasm.responseEnd : null, wasm_transfer_bytes: wasm ? wasm.transferSize : null,
};
"#;

/// Opens `url` and waits (up to 30 s) until the app has set both marks and the first paint is recorded.
pub async fn load(b: &Browser, url: &str) -> anyhow::Result<Load> {
    b.client.goto(url).await?;
    let args = vec![json!(FIRST_RENDER_MARK), json!(ELECTION_SHOWN_MARK)];
    let mut last = None;
    for _ in 0..600 {
        let v = b.client.execute(READ, args.clone()).await?;
        if !v.is_null() {
            let l = Load::from_json(&v);
            // The paint entry can follow the marks by a frame.
            if l.first_contentful_paint_ms.is_some() {
                return Ok(l);
            }
            last = Some(l);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    match last {
        Some(l) => Ok(l),
        None => bail!("{url}: the app never set {FIRST_RENDER_MARK} and {ELECTION_SHOWN_MARK}"),
    }
}

/// Loads `url` cold `runs` times (a new browser each time), each followed by one warm load, and returns the
/// report: median, 90th percentile, minimum and maximum of every figure, and every sample. With `line`, every
/// load goes over that emulated line ([`crate::Line`]).
pub async fn measure(
    url: &str,
    runs: usize,
    line: Option<crate::Line>,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Value> {
    anyhow::ensure!(runs > 0, "at least one run");
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let b = Browser::start(None).await?;
        if let Some(line) = line {
            b.throttle(line).await?;
        }
        let c = load(&b, url).await?;
        let w = load(&b, url).await?;
        b.finish(&[crate::NO_HELPER]).await?;
        progress(&format!(
            "run {}/{runs}: cold first render {:.0} ms, warm {:.0} ms",
            i + 1,
            c.first_render_ms.unwrap_or(f64::NAN),
            w.first_render_ms.unwrap_or(f64::NAN)
        ));
        cold.push(c);
        warm.push(w);
    }
    let what = match line {
        None => "start page load in headless Chromium from the verifier on loopback, ms from navigation start".into(),
        Some(l) => format!(
            "start page load in headless Chromium from the verifier on loopback over an emulated line ({} kbit/s \
             down, {} kbit/s up, {} ms added to each request), ms from navigation start",
            l.down_bytes_per_s * 8 / 1000,
            l.up_bytes_per_s * 8 / 1000,
            l.latency_ms
        ),
    };
    Ok(json!({
        "what": what,
        "line": line.map(|l| json!({ "latency_ms": l.latency_ms, "down_bytes_per_s": l.down_bytes_per_s,
                                       "up_bytes_per_s": l.up_bytes_per_s })),
        "runs": runs,
        "cold": summary(&cold),
        "warm": summary(&warm),
        "samples": {
            "cold": cold.iter().map(Load::to_json).collect::<Vec<_>>(),
            "warm": warm.iter().map(Load::to_json).collect::<Vec<_>>(),
        },
    }))
}

fn summary(loads: &[Load]) -> Value {
    let figure = |f: fn(&Load) -> Option<f64>| stats(&loads.iter().filter_map(f).collect::<Vec<_>>());
    json!({
        "first_render_ms": figure(|l| l.first_render_ms),
        "election_shown_ms": figure(|l| l.election_shown_ms),
        "first_contentful_paint_ms": figure(|l| l.first_contentful_paint_ms),
        "response_end_ms": figure(|l| l.response_end_ms),
        "dom_content_loaded_ms": figure(|l| l.dom_content_loaded_ms),
        "wasm_response_end_ms": figure(|l| l.wasm_response_end_ms),
        "wasm_transfer_bytes": figure(|l| l.wasm_transfer_bytes),
    })
}

/// Median, 90th percentile (nearest rank), minimum, maximum and count; `null` figures for no samples.
pub fn stats(xs: &[f64]) -> Value {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        return json!({ "n": 0, "median": null, "p90": null, "min": null, "max": null });
    }
    let median = if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 };
    // Nearest rank: the smallest sample with at least 90 % of the samples at or below it.
    let p90 = s[(n * 9).div_ceil(10) - 1];
    json!({ "n": n, "median": median, "p90": p90, "min": s[0], "max": s[n - 1] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_take_the_median_and_the_nearest_rank_90th_percentile() {
        let xs: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        let s = stats(&xs);
        assert_eq!((s["median"].as_f64(), s["p90"].as_f64()), (Some(5.5), Some(9.0)));
        assert_eq!((s["min"].as_f64(), s["max"].as_f64(), s["n"].as_u64()), (Some(1.0), Some(10.0), Some(10)));
        let one = stats(&[7.0]);
        assert_eq!((one["median"].as_f64(), one["p90"].as_f64()), (Some(7.0), Some(7.0)));
        assert!(stats(&[])["median"].is_null());
    }
}
