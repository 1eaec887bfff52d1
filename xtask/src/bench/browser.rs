//! The bench's two figures measured in headless Chromium (tracker issue 10): one RSA-OAEP-3072 ballot encryption by
//! the voter app's wasm against WebCrypto's RSA-OAEP on the same key (web/tests/encrypt_bench.rs, release build,
//! its `BENCH {…}` line), and the voter app's time to first render (the e2e crate's `first_render` binary against
//! the release verifier with the release app). `--only browser` runs just these and merges them into the report.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::{END, utc_now, wasm_sizes};
use crate::app;
use crate::run::{cmd, root, sh, target_dir, web_cmd};

/// The app's encryption may take at most this many times WebCrypto's, median against median.
pub(super) const TARGET_ENCRYPT_RATIO: f64 = 3.0;
/// The start of each row this module writes into README.md's table, so that `--only browser` replaces just those.
const ROW_PREFIXES: [&str; 5] = [
    "| RSA-OAEP-3072 ballot encryption",
    "| checking an encryption",
    "| voter app time to first render",
    "| voter app warm reload",
    "| voter app first load over a slow line",
];
/// The election on screen over a slow line abroad, from a cold cache, at most this many ms (issue 19).
pub(super) const TARGET_SLOW_LINE_MS: f64 = 5000.0;
/// Cold loads over the slow line (each takes seconds).
const SLOW_LINE_RUNS: usize = 5;

/// Measures the figures: `{"browser_encrypt": …, "first_render": …, "slow_line": …}`.
pub(super) fn figures(dist: &Path, render_runs: usize) -> anyhow::Result<Value> {
    Ok(json!({
        "browser_encrypt": encrypt()?,
        "first_render": first_render(dist, render_runs, false)?,
        "slow_line": first_render(dist, SLOW_LINE_RUNS, true)?,
    }))
}

/// Runs web/tests/encrypt_bench.rs in release (the app's optimisation: opt-level z, LTO) with the project's wasm
/// test environment and returns its `BENCH` report.
fn encrypt() -> anyhow::Result<Value> {
    let mut c = web_cmd("cargo");
    crate::test::wasm_runner(&mut c)
        .args(["test", "--release", "--locked", "--test", "encrypt_bench", "--", "--nocapture"])
        .stderr(Stdio::inherit());
    let out = run_capturing(&mut c)?;
    parse_bench_line(&out).with_context(|| format!("no `BENCH {{…}}` line in the wasm test's output:\n{out}"))
}

/// Builds the release verifier, card helper, test authority (the voters' cards) and e2e binaries, then loads the start page `runs` times cold (over
/// the emulated slow line abroad when `slow`).
fn first_render(dist: &Path, runs: usize, slow: bool) -> anyhow::Result<Value> {
    sh(cmd("cargo")
        .args(["build", "--release", "--locked", "-p", "verifier", "-p", "card-helper", "-p", "test-pki", "-p", "e2e"])
        .args(["--bin", "verifier", "--bin", "card-helper", "--bin", "test-pki", "--bin", "first_render"])
        .current_dir(root()))?;
    let bin = target_dir().join("release");
    let mut c = cmd(bin.join("first_render"));
    c.arg(runs.to_string())
        .args(slow.then_some("slow"))
        .env("E2E_WEB_DIST", dist)
        .env("E2E_BIN_DIR", &bin)
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
        .stderr(Stdio::inherit());
    let out = run_capturing(&mut c)?;
    serde_json::from_str(out.trim()).context("reading the first_render binary's report")
}

fn run_capturing(c: &mut Command) -> anyhow::Result<String> {
    println!("$ {}", crate::run::describe(c));
    let out = c.output().with_context(|| format!("could not start {:?}", c.get_program()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("{:?} failed ({}):\n{stdout}", c.get_program(), out.status);
    }
    Ok(stdout)
}

fn parse_bench_line(text: &str) -> Option<Value> {
    let line = text.lines().rev().find_map(|l| l.trim().strip_prefix("BENCH "))?;
    serde_json::from_str(line).ok()
}

/// Puts the browser figures and the encryption target into the report.
pub(super) fn merge(report: &mut Value, browser: Value) {
    let ratio = browser.pointer("/browser_encrypt/ratio").and_then(Value::as_f64).unwrap_or(f64::NAN);
    report["browser_encrypt"] = browser["browser_encrypt"].clone();
    report["first_render"] = browser["first_render"].clone();
    report["slow_line"] = browser["slow_line"].clone();
    let slow = browser.pointer("/slow_line/cold/election_shown_ms/median").and_then(Value::as_f64);
    report["targets"]["slow_line_election_shown_ms"] = json!({
        "target": TARGET_SLOW_LINE_MS, "measured": slow.unwrap_or(f64::NAN),
        "met": slow.is_some_and(|ms| ms <= TARGET_SLOW_LINE_MS),
        "note": "cold cache, Chromium's emulated line of 1.6 Mbit/s down and 300 ms per request, election on screen",
    });
    report["targets"]["browser_encrypt_ratio"] = json!({
        "target": TARGET_ENCRYPT_RATIO, "measured": ratio, "met": ratio <= TARGET_ENCRYPT_RATIO,
        "note": "median time of one encryption by the app's wasm over WebCrypto's, same key, same Chromium",
    });
    let reseal = browser.pointer("/browser_encrypt/challenge_reseal_ratio_to_limit").and_then(Value::as_f64);
    report["targets"]["challenge_reseal"] = json!({
        "target": 1.0, "measured": reseal.unwrap_or(f64::NAN), "met": reseal.is_some_and(|r| r <= 1.0),
        "note": "a Benaloh challenge (reveal the opening) plus the fresh seal, over the 50 ms the voter may wait",
    });
}

/// The table rows of the browser figures (empty if the report has none).
pub(super) fn rows(r: &Value) -> String {
    if r.get("browser_encrypt").is_none() {
        return String::new();
    }
    let n = |p: &str| r.pointer(p).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let i = |p: &str| r.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let met = if r.pointer("/targets/browser_encrypt_ratio/met").and_then(Value::as_bool) == Some(true) {
        "met"
    } else {
        "**not met**"
    };
    let when = r
        .get("browser_measured_at")
        .and_then(Value::as_str)
        .map(|d| format!("; measured {d} by `--only browser`"))
        .unwrap_or_default();
    let mut s = format!(
        "| RSA-OAEP-3072 ballot encryption in headless Chromium: one encryption by the app's wasm (release) vs \
         WebCrypto on the same key{when} | wasm median {:.2} ms, WebCrypto median {:.2} ms ({} samples × {}, \
         both warmed up); the `rsa` crate's own OAEP encryption in the same wasm {:.2} ms (its constant-time \
         window for secret exponents); the app's key parse {:.2} ms once per cast | target ≤ \
         {TARGET_ENCRYPT_RATIO:.0}× WebCrypto | {:.1}× | {met} |\n",
        n("/browser_encrypt/wasm_median_ms"),
        n("/browser_encrypt/webcrypto_median_ms"),
        i("/browser_encrypt/samples"),
        i("/browser_encrypt/encryptions_per_sample"),
        n("/browser_encrypt/wasm_rsa_crate_encrypt_median_ms"),
        n("/browser_encrypt/wasm_key_parse_median_ms"),
        n("/browser_encrypt/ratio"),
    );
    let reseal_met = if r.pointer("/targets/challenge_reseal/met").and_then(Value::as_bool) == Some(true) {
        "met"
    } else {
        "**not met**"
    };
    s.push_str(&format!(
        "| checking an encryption (「暗号化を確認する」): reveal the sealed ballot's opening and seal the choice \
         afresh, the app's wasm (release) in headless Chromium{when} | median {:.2} ms | ≤ {:.0} ms added for the \
         voter (issue 18) | {:.3} of it | {reseal_met} |\n",
        n("/browser_encrypt/challenge_reseal_median_ms"),
        n("/browser_encrypt/challenge_reseal_limit_ms"),
        n("/browser_encrypt/challenge_reseal_ratio_to_limit"),
    ));
    let f = |phase: &str, fig: &str, stat: &str| n(&format!("/first_render/{phase}/{fig}/{stat}"));
    s.push_str(&format!(
        "| voter app time to first render: start page from the release verifier on loopback, {} cold loads each in \
         a new Chromium profile, ms from navigation start | first render median {:.0} ms, p90 {:.0} ms (page HTML \
         in {:.0} ms, `.wasm` of {:.0} KB raw / {:.0} KB `gzip -9` in {:.0} ms; first paint {:.0} ms; election \
         on screen {:.0} ms) | no target; reference: Web Vitals' \"good\" first contentful paint ≤ 1800 ms, a \
         field figure over real networks | {:.2} of it | |\n",
        i("/first_render/runs"),
        f("cold", "first_render_ms", "median"),
        f("cold", "first_render_ms", "p90"),
        f("cold", "response_end_ms", "median"),
        n("/wasm/raw_bytes") / 1024.0,
        n("/wasm/gzip9_bytes") / 1024.0,
        f("cold", "wasm_response_end_ms", "median"),
        f("cold", "first_contentful_paint_ms", "median"),
        f("cold", "election_shown_ms", "median"),
        f("cold", "first_contentful_paint_ms", "median") / 1800.0,
    ));
    s.push_str(&format!(
        "| voter app warm reload (same browser, HTTP cache filled) | first render median {:.0} ms, p90 {:.0} ms; \
         election on screen {:.0} ms | | | |\n",
        f("warm", "first_render_ms", "median"),
        f("warm", "first_render_ms", "p90"),
        f("warm", "election_shown_ms", "median"),
    ));
    if r.get("slow_line").is_some_and(|v| !v.is_null()) {
        let g = |phase: &str, fig: &str, stat: &str| n(&format!("/slow_line/{phase}/{fig}/{stat}"));
        let ratio = g("cold", "election_shown_ms", "median") / TARGET_SLOW_LINE_MS;
        let slow_met = if ratio <= 1.0 { "met" } else { "**not met**" };
        s.push_str(&format!(
            "| voter app first load over a slow line abroad: Chromium's network emulation at 1.6 Mbit/s down, \
             768 kbit/s up and 300 ms added to each request, {} cold loads each in a new profile (issue 19) | \
             election on screen median {:.0} ms, p90 {:.0} ms (page HTML in {:.0} ms; `.wasm`, {:.0} KB on the \
             wire, arrived at {:.0} ms; first render {:.0} ms); warm reload {:.0} ms | ≤ {TARGET_SLOW_LINE_MS:.0} \
             ms | {ratio:.2} of it | {slow_met} |\n",
            i("/slow_line/runs"),
            g("cold", "election_shown_ms", "median"),
            g("cold", "election_shown_ms", "p90"),
            g("cold", "response_end_ms", "median"),
            g("cold", "wasm_transfer_bytes", "median") / 1024.0,
            g("cold", "wasm_response_end_ms", "median"),
            g("cold", "first_render_ms", "median"),
            g("warm", "election_shown_ms", "median"),
        ));
    }
    s
}

/// `cargo xtask bench --only browser`: builds the app, measures the browser figures, merges them (and the wasm
/// size) into target/bench/bench.json, and replaces only their rows of README.md's table.
pub(super) fn run_only(render_runs: usize) -> anyhow::Result<()> {
    let dist = app::build_voter_app()?;
    let wasm = wasm_sizes(&dist)?;
    let browser = figures(&dist, render_runs)?;
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("bench.json");
    let mut report: Value = match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?,
        Err(_) => json!({ "targets": {} }),
    };
    report["wasm"] = wasm;
    report["browser_measured_at"] = json!(utc_now());
    merge(&mut report, browser);
    let table = rows(&report);
    std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")?;
    let readme = root().join("README.md");
    let text = std::fs::read_to_string(&readme)?;
    std::fs::write(&readme, replace_rows(&text, &table)?)?;
    println!("\n{table}\nmerged into {} and replaced these rows of README.md's Performance table", path.display());
    Ok(())
}

/// Replaces this module's rows between the README's markers (or adds them before the end marker).
fn replace_rows(text: &str, rows: &str) -> anyhow::Result<String> {
    let Some(end) = text.find(END) else {
        bail!("README.md lacks the {END} marker");
    };
    let (before, after) = text.split_at(end);
    let kept: String =
        before.split_inclusive('\n').filter(|l| !ROW_PREFIXES.iter().any(|p| l.starts_with(p))).collect();
    Ok(format!("{kept}{rows}{after}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_last_bench_line() {
        let out = "running 1 test\nBENCH {\"ratio\": 1.5}\ntest … ok\n   BENCH {\"ratio\": 2.5}\n";
        assert_eq!(parse_bench_line(out), Some(json!({ "ratio": 2.5 })));
        assert_eq!(parse_bench_line("BENCH not json"), None);
        assert_eq!(parse_bench_line("nothing"), None);
    }

    #[test]
    fn replaces_only_the_browser_rows() {
        let text = "x\n<!-- bench:start -->\n| a | b |\n| voter app time to first render old | 1 |\n| c | d |\n<!-- bench:end -->\ny\n";
        let out = replace_rows(text, "| voter app time to first render new | 2 |\n").unwrap();
        assert_eq!(
            out,
            "x\n<!-- bench:start -->\n| a | b |\n| c | d |\n| voter app time to first render new | 2 |\n<!-- bench:end -->\ny\n"
        );
        assert!(replace_rows("no markers", "").is_err());
    }
}
