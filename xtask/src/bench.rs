//! `cargo xtask bench` (tracker issue 10): each figure the project promises, measured beside its limit in the same
//! run — cast throughput and latency against the release verifier, `openssl speed` RSA-2048 verifies and SQLite
//! durable commits, the voter app's wasm size, the verifier's memory at 100,000 voters, the count of 100,000
//! ballots in SoftHSM2 beside `openssl speed` RSA-3072 private operations, and in headless Chromium the app's
//! ballot encryption against WebCrypto and its time to first render ([`browser`]); `--soak` runs the hour-long soak
//! alone and adds its row; the voting store on PostgreSQL with its synchronous standby has its own row (`pg_bench`,
//! issue 24). Writes target/bench/bench.json and bench.md, and replaces README.md's Performance table
//! between its markers. It reports; it never fails a target.
//!
//! Map: the options, the runs and the targets are here; `report`: bench.json assembled from the runs' figures
//! beside their targets, and written with bench.md and the README's table; `table`: that table in Markdown;
//! [`browser`]: the figures measured in headless Chromium.

mod browser;
mod report;
mod table;

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::app;
use crate::run::{cmd, root, sh, target_dir};
use report::{add_hostile, add_memory_run, add_postgres, add_tally, assemble, write_report};

const START: &str = "<!-- bench:start -->";
const END: &str = "<!-- bench:end -->";
/// Ballots per second the project promises.
const TARGET_BALLOTS_PER_S: f64 = 2000.0;
/// …and at least this share of the smaller of the two limits.
const TARGET_SHARE_OF_LIMIT: f64 = 0.5;
/// The voter app's compressed size limit.
const TARGET_WASM_GZIP_BYTES: u64 = 400 * 1024;
/// The verifier's memory limit, for 100,000 voters and ballots: 100 MB in decimal units (10^8 bytes, 97,656 KiB),
/// the stricter reading of "100 MB".
const TARGET_RSS_KIB: f64 = 1e8 / 1024.0;
/// The count's share of OpenSSL's RSA-3072 private operations per second on all cores.
const TARGET_TALLY_SHARE: f64 = 0.7;
/// Legitimate casts per second while the attack mix runs (issue 19).
const TARGET_UNDER_ATTACK_PER_S: f64 = 1000.0;
/// …with at most this 99th percentile, in ms.
const TARGET_UNDER_ATTACK_P99_MS: f64 = 100.0;
/// The databases may grow by at most this many bytes from the attack alone.
const TARGET_ATTACK_GROWTH_BYTES: f64 = 1e6;
/// "RSS flat" over the soak: over its last third, the resident memory grows by at most this share (the caches
/// — sessions live 20 minutes, certificate checks 10, SQLite's pages — fill during the first two thirds).
const TARGET_SOAK_GROWTH: f64 = 0.05;

/// Options of `cargo xtask bench`.
#[derive(clap::Args)]
pub struct Args {
    /// How many voters the load generator prepares; each casts the demo election's two contests.
    #[arg(long, default_value_t = 2000)]
    voters: usize,
    /// Concurrent HTTP connections in the throughput phase.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Offered ballots/s of the fixed-rate latency phase.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Ballots counted by `tally count` in SoftHSM2 (0 skips the count benchmark).
    #[arg(long, default_value_t = 100_000)]
    tally_ballots: usize,
    /// Voters of the memory run (each casts two contests, so twice as many ballots); 0 skips it.
    #[arg(long, default_value_t = 100_000)]
    memory_voters: usize,
    /// Only the soak: one hour of logins and casts spread evenly (`--voters` of them, two contests each, default
    /// 24,000 for about 20 ballots/s), the verifier's memory sampled every ten seconds. Its row joins the table.
    #[arg(long)]
    soak: bool,
    /// The soak's length in seconds (default 3600), for a shorter trial.
    #[arg(long, requires = "soak")]
    soak_seconds: Option<u64>,
    /// Cold loads of the start page for the time to first render (each in a new browser, then one warm load).
    #[arg(long, default_value_t = 10)]
    render_runs: usize,
    /// Measure only these figures, merge them into target/bench/bench.json and replace only their rows of
    /// README.md's table (`browser`: in-browser encryption against WebCrypto and time to first render).
    #[arg(long, value_enum)]
    only: Option<Only>,
}

/// The parts of the bench that `--only` can run alone.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    /// In-browser encryption against WebCrypto, and the voter app's time to first render, in headless Chromium.
    Browser,
    /// Nothing measured: the table rewritten from target/bench/bench.json and the latest soak.json.
    Table,
    /// The voting store on PostgreSQL with a synchronous standby (issue 24), merged into target/bench/bench.json.
    Postgres,
}

/// Builds, measures, and writes the report and the README table.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.only == Some(Only::Browser) {
        return browser::run_only(args.render_runs);
    }
    if args.only == Some(Only::Table) {
        let dir = target_dir().join("bench");
        let report = serde_json::from_slice(&std::fs::read(dir.join("bench.json")).context("no bench.json yet")?)?;
        return write_report(&dir, report);
    }
    if args.only == Some(Only::Postgres) {
        sh(cmd("cargo").args(["build", "--release", "--locked", "-p", "bench", "--bins"]).current_dir(root()))?;
        let dir = target_dir().join("bench");
        let mut report = serde_json::from_slice(&std::fs::read(dir.join("bench.json")).context(
            "the PostgreSQL row joins the table of an earlier full run: run `cargo xtask bench` once first",
        )?)?;
        add_postgres(&mut report, &json_report(&target_dir().join("release"), "pg_bench", &[])?);
        return write_report(&dir, report);
    }
    let dist = app::build_voter_app()?;
    sh(cmd("cargo")
        .args(["build", "--release", "--locked", "-p", "verifier", "-p", "tally", "-p", "bench", "--bins"])
        .current_dir(root()))?;
    let bin = target_dir().join("release");
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    if args.soak {
        let seconds = args.soak_seconds.unwrap_or(3600);
        let voters = if args.voters == 2000 { 24_000 } else { args.voters };
        let soak = load_generator(&bin, &["--voters", &voters.to_string(), "--soak-seconds", &seconds.to_string()])?;
        std::fs::write(dir.join("soak.json"), serde_json::to_string_pretty(&soak)? + "\n")?;
        let report: Value = serde_json::from_slice(
            &std::fs::read(dir.join("bench.json"))
                .context("the soak's row joins the table of an earlier full run: run `cargo xtask bench` once first")?,
        )?;
        return write_report(&dir, report);
    }
    let wasm = wasm_sizes(&dist)?;
    let verify_per_s = openssl_verify_per_s()?;
    let browser = browser::figures(&dist, args.render_runs)?;
    let load = load_generator(
        &bin,
        &["--voters", &args.voters.to_string(), "--concurrency", &args.concurrency.to_string()]
            .into_iter()
            .chain(["--rate", &args.rate.to_string()])
            .collect::<Vec<_>>(),
    )?;
    // Issue 19: the same casts over TLS, each on a new connection; and beside an attack mix.
    let two = ["--contests", "2", "--voters", &args.voters.to_string(), "--rate", &args.rate.to_string()];
    let tls = load_generator(&bin, &[&two[..], &["--tls", "--concurrency", &args.concurrency.to_string()]].concat())?;
    let attack =
        load_generator(&bin, &[&two[..], &["--attack", "--concurrency", &args.concurrency.to_string()]].concat())?;
    let memory = if args.memory_voters > 0 {
        let voters = args.memory_voters.to_string();
        let (concurrency, rate) = (args.concurrency.to_string(), args.rate.to_string());
        let run = ["--voters", &voters, "--contests", "2", "--concurrency", &concurrency, "--rate", &rate];
        load_generator(&bin, &run)?
    } else {
        Value::Null
    };
    let tally = tally_bench(&bin, args.tally_ballots)?;
    let postgres = json_report(&bin, "pg_bench", &[])?;
    let mut report = assemble(&load, verify_per_s, &wasm)?;
    add_postgres(&mut report, &postgres);
    add_hostile(&mut report, &tls, &attack);
    browser::merge(&mut report, browser);
    add_tally(&mut report, &tally);
    add_memory_run(&mut report, &memory);
    write_report(&dir, report)
}

/// Runs the `bench` load generator against the release verifier and returns its JSON report.
fn load_generator(bin: &Path, args: &[&str]) -> anyhow::Result<Value> {
    let verifier = bin.join("verifier");
    let verifier = verifier.to_str().context("the target folder's path is not UTF-8")?;
    json_report(bin, "bench", &[&["--verifier", verifier], args].concat())
}

/// Runs one of the bench crate's release binaries, its progress on our stderr, and reads the JSON it prints.
fn json_report(bin: &Path, name: &str, args: &[&str]) -> anyhow::Result<Value> {
    println!("$ {name} {}", args.join(" "));
    let out = Command::new(bin.join(name))
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("could not start {name}"))?;
    if !out.status.success() {
        bail!("{name} failed ({})", out.status);
    }
    serde_json::from_slice(&out.stdout).with_context(|| format!("reading {name}'s report"))
}

/// Runs the count benchmark (`tally_bench`: key ceremony, N ballots, `tally count` in SoftHSM2, OpenSSL's
/// RSA-3072 private operations beside it); `Value::Null` when skipped.
fn tally_bench(bin: &Path, ballots: usize) -> anyhow::Result<Value> {
    if ballots == 0 {
        return Ok(Value::Null);
    }
    let tally = bin.join("tally");
    let tally = tally.to_str().context("the target folder's path is not UTF-8")?;
    json_report(bin, "tally_bench", &["--tally", tally, "--ballots", &ballots.to_string()])
}

/// Raw and `gzip -9` sizes of the voter app's .wasm files.
fn wasm_sizes(dist: &Path) -> anyhow::Result<Value> {
    let mut raw = 0;
    let mut gzip = 0;
    for entry in std::fs::read_dir(dist)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            raw += std::fs::metadata(&path)?.len();
            let out = Command::new("gzip").args(["-9", "-c"]).arg(&path).output().context("running gzip")?;
            anyhow::ensure!(out.status.success(), "gzip -9 {} failed", path.display());
            gzip += out.stdout.len() as u64;
        }
    }
    anyhow::ensure!(raw > 0, "no .wasm in {}", dist.display());
    Ok(json!({ "raw_bytes": raw, "gzip9_bytes": gzip }))
}

/// RSA-2048 verifies per second on all cores: `openssl speed -seconds 3 -multi 2 rsa2048`, its summary line
/// `rsa 2048 bits <sign s> <verify s> <sign/s> <verify/s>`.
fn openssl_verify_per_s() -> anyhow::Result<f64> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).to_string();
    println!("$ openssl speed -seconds 3 -multi {cores} rsa2048");
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "3", "-multi", &cores, "rsa2048"])
        .output()
        .context("running openssl speed")?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_openssl_verify(&text).with_context(|| format!("no `rsa 2048 bits` line in openssl's output:\n{text}"))
}

fn parse_openssl_verify(text: &str) -> Option<f64> {
    let line = text.lines().rev().find(|l| l.starts_with("rsa 2048 bits"))?;
    line.split_whitespace().last()?.parse().ok()
}

/// The UTC date of the run (from `date`, so xtask needs no time crate).
fn utc_now() -> String {
    crate::run::output(Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_verify_per_second_from_openssl_speed() {
        let text = "                  sign    verify    sign/s verify/s\n\
                    rsa 2048 bits 0.000745s 0.000049s   1342.0  20281.9\n";
        assert_eq!(parse_openssl_verify(text), Some(20281.9));
        assert_eq!(parse_openssl_verify("nothing"), None);
    }
}
