//! `cargo xtask fuzz` (issue 10): runs every cargo-fuzz target in `fuzz/` for a while (5 minutes each by default);
//! `cargo xtask test` runs each briefly through [`brief`]. A crash, a panic, a timeout or running out of memory
//! fails the run with the input libFuzzer saved and the command that replays it.
//!
//! The targets build on rustup's stable toolchain: `--sanitizer none` is the only thing cargo-fuzz would otherwise
//! need nightly for (`-Zsanitizer=address`), so no `RUSTC_BOOTSTRAP` is set. New inputs go to
//! `fuzz/target/fuzz-corpus/<target>/` and the committed seeds in `fuzz/corpus/<target>/` are only read, so a run
//! never dirties the work tree.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::run::{cmd, root, sh};
use crate::setup;

/// The fuzz targets, each a file in fuzz/fuzz_targets/.
pub const TARGETS: &[&str] = &["ballot_decode", "signed_envelope", "certificate", "json_bodies"];

/// How long `cargo xtask test` runs each target.
pub const BRIEF_SECONDS: u64 = 20;

/// Longest time one input may take before libFuzzer calls it a hang (its default is 20 minutes).
const TIMEOUT_SECONDS: u64 = 10;

/// Options of `cargo xtask fuzz`.
#[derive(clap::Args)]
pub struct Args {
    /// Seconds of fuzzing per target.
    #[arg(long, default_value_t = 300)]
    seconds: u64,
    /// Run only this target (ballot_decode, signed_envelope, certificate or json_bodies).
    #[arg(long)]
    target: Option<String>,
}

/// Installs cargo-fuzz if missing, builds the targets and runs each for `--seconds`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let targets: Vec<&str> = match args.target.as_deref() {
        None => TARGETS.to_vec(),
        Some(t) if TARGETS.contains(&t) => vec![t],
        Some(t) => bail!("no fuzz target {t}; the targets are {}", TARGETS.join(", ")),
    };
    setup::cargo_fuzz()?;
    fuzz(&targets, args.seconds)
}

/// Builds every target and runs each for [`BRIEF_SECONDS`] (the step of `cargo xtask test`, after setup).
pub fn brief() -> anyhow::Result<()> {
    fuzz(TARGETS, BRIEF_SECONDS)
}

fn fuzz(targets: &[&str], seconds: u64) -> anyhow::Result<()> {
    sh(&mut fuzz_cmd("build"))?;
    let mut summary = Vec::new();
    for target in targets {
        summary.push(run_target(target, seconds)?);
    }
    for line in &summary {
        println!("fuzz: {line}");
    }
    Ok(())
}

fn fuzz_dir() -> PathBuf {
    root().join("fuzz")
}

/// `cargo fuzz <sub> --sanitizer none`, run from the repository root (cargo-fuzz finds fuzz/ from there).
fn fuzz_cmd(sub: &str) -> Command {
    let mut c = cmd("cargo");
    // The instrumented build stays in fuzz/target: a CARGO_TARGET_DIR meant for the workspace would mix it in there.
    c.args(["fuzz", sub, "--sanitizer", "none"]).current_dir(root()).env_remove("CARGO_TARGET_DIR");
    c
}

/// Runs one target for `seconds` with its output in fuzz/target/fuzz-logs/; returns a one-line summary.
fn run_target(target: &str, seconds: u64) -> anyhow::Result<String> {
    let grown = fuzz_dir().join("target/fuzz-corpus").join(target);
    let seeds = fuzz_dir().join("corpus").join(target);
    let logs = fuzz_dir().join("target/fuzz-logs");
    fs::create_dir_all(&grown).with_context(|| format!("create {}", grown.display()))?;
    fs::create_dir_all(&logs).with_context(|| format!("create {}", logs.display()))?;
    let log_path = logs.join(format!("{target}.log"));
    let log = fs::File::create(&log_path).with_context(|| format!("create {}", log_path.display()))?;

    let mut c = fuzz_cmd("run");
    // The first folder receives new inputs; the committed seeds are only read.
    c.arg(target).arg(&grown).arg(&seeds).arg("--");
    c.arg(format!("-max_total_time={seconds}")).arg(format!("-timeout={TIMEOUT_SECONDS}"));
    c.arg("-print_final_stats=1");
    println!(
        "$ cargo fuzz run --sanitizer none {target} {} {} -- -max_total_time={seconds} (log: {})",
        grown.display(),
        seeds.display(),
        log_path.display()
    );
    let started = Instant::now();
    let status = c
        .stdout(log.try_clone()?)
        .stderr(Stdio::from(log))
        .status()
        .with_context(|| format!("could not start cargo fuzz run {target}"))?;
    let text = fs::read_to_string(&log_path).unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        for line in tail.iter().rev() {
            eprintln!("  | {line}");
        }
        let artifact = artifact_path(&text);
        let input = artifact.as_deref().map_or_else(
            || format!("see {} (no saved input was named in the log)", log_path.display()),
            |p| p.display().to_string(),
        );
        bail!(
            "fuzz target {target} failed ({status}): the input is {input}. Reproduce it with \
             `cargo fuzz run --sanitizer none {target} {input}` from the repository root, fix the bug, add a \
             regression test with that input to the owning crate, and copy the input into fuzz/corpus/{target}/. \
             Full log: {}",
            log_path.display()
        );
    }
    let stats = Stats::parse(&text);
    Ok(format!(
        "{target}: {:.0} s, {} runs, {} exec/s, {} inputs in {}",
        started.elapsed().as_secs_f64(),
        stats.runs.map_or("?".into(), |n| n.to_string()),
        stats.exec_per_sec.map_or("?".into(), |n| n.to_string()),
        fs::read_dir(&grown).map(|d| d.count()).unwrap_or(0),
        grown.display()
    ))
}

/// Returns the input libFuzzer saved when a target failed (`Test unit written to PATH`).
fn artifact_path(log: &str) -> Option<PathBuf> {
    log.lines()
        .rev()
        .find_map(|l| l.split_once("Test unit written to ").map(|(_, p)| p.trim()))
        .map(|p| Path::new(p).to_path_buf())
}

/// libFuzzer's final statistics (`-print_final_stats=1`).
#[derive(Debug, Default, PartialEq, Eq)]
struct Stats {
    runs: Option<u64>,
    exec_per_sec: Option<u64>,
}

impl Stats {
    fn parse(log: &str) -> Stats {
        let stat = |name: &str| {
            log.lines()
                .rev()
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().trim_start_matches(':').trim().parse().ok()))
        };
        Stats { runs: stat("stat::number_of_executed_units"), exec_per_sec: stat("stat::average_exec_per_sec") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRASH_LOG: &str = "\
INFO: Seed: 123
#2\tINITED cov: 10 ft: 10 corp: 1/1b exec/s: 0 rss: 30Mb
thread '<unnamed>' panicked at shared/src/ballot.rs:10:5:
attempt to shift right with overflow
==1234== ERROR: libFuzzer: deadly signal
MS: 1 ChangeBit-; base unit: 0000
artifact_prefix='/repo/fuzz/artifacts/ballot_decode/'; Test unit written to /repo/fuzz/artifacts/ballot_decode/crash-abc
Base64: AAAA
";

    #[test]
    fn finds_the_saved_input_of_a_crash() {
        assert_eq!(artifact_path(CRASH_LOG), Some(PathBuf::from("/repo/fuzz/artifacts/ballot_decode/crash-abc")));
        assert_eq!(artifact_path("Done 100 runs in 1 second(s)\n"), None);
    }

    #[test]
    fn reads_the_final_stats() {
        let log = "Done 5000 runs in 20 second(s)\nstat::number_of_executed_units: 5000\n\
                   stat::average_exec_per_sec:     250\nstat::new_units_added:         3\n";
        assert_eq!(Stats::parse(log), Stats { runs: Some(5000), exec_per_sec: Some(250) });
        assert_eq!(Stats::parse(CRASH_LOG), Stats::default());
    }

    #[test]
    fn every_target_has_a_source_and_seeds() {
        for t in TARGETS {
            assert!(fuzz_dir().join("fuzz_targets").join(format!("{t}.rs")).is_file(), "{t} has no source");
            let seeds = fs::read_dir(fuzz_dir().join("corpus").join(t)).map(|d| d.count()).unwrap_or(0);
            assert!(seeds > 0, "{t} has no committed seeds");
        }
    }
}
