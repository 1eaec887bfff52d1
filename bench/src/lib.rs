//! The cast load generator behind `cargo xtask bench` (tracker issue 10): N voters with test cards are registered
//! through the verifier's own commands, logged in over HTTP, and their ballots, encrypted and signed beforehand,
//! are cast at the real `verifier serve` binary on loopback; beside it, SQLite's durable commit rate with the
//! verifier's settings, and the verifier's memory after the run.
//!
//! It measures; it never judges: targets are compared by the caller, and nothing here is a pass/fail test.

mod attack;
mod load;
pub mod pg;
mod prepare;
mod server;
mod sqlite_limit;
pub mod tally;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

/// The origin the voters' login signatures are bound to (the verifier is told it is its public origin).
pub const ORIGIN: &str = "http://127.0.0.1:8080";
/// The same with `--tls`.
pub const TLS_ORIGIN: &str = "https://localhost:8443";
/// The demo election's contests, all on the ballot of a voter registered for both districts.
pub const CONTESTS: [&str; 2] = ["tokyo", "national-pr"];

/// The load generator's options.
#[derive(Parser, Debug)]
#[command(about = "Cast load against the release verifier; prints a JSON report")]
pub struct Args {
    /// The `verifier` binary to run (the release build).
    #[arg(long)]
    pub verifier: PathBuf,
    /// How many voters; each casts the demo election's two contests.
    #[arg(long, default_value_t = 2000)]
    pub voters: usize,
    /// Concurrent HTTP connections in the throughput phase.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// The fixed offered rate (ballots/s) of the latency phase.
    #[arg(long, default_value_t = 1000)]
    pub rate: u32,
    /// Seconds of single-row durable SQLite commits for the storage limit.
    #[arg(long, default_value_t = 3)]
    pub sqlite_seconds: u64,
    /// How many of the demo election's contests each voter casts (its two: a House of Councillors election holds
    /// no review): all but the last in the throughput phase, the last at the fixed rate.
    #[arg(long, default_value_t = 2)]
    pub contests: usize,
    /// Instead of the two phases: the soak, this many seconds of logins and casts spread evenly, with the
    /// verifier's memory sampled every ten seconds.
    #[arg(long, default_value_t = 0)]
    pub soak_seconds: u64,
    /// The verifier terminates TLS itself (a self-signed certificate for `localhost`), and every cast goes over a
    /// new TLS connection, handshake included, as a voter's browser opening the site would.
    #[arg(long)]
    pub tls: bool,
    /// Run the attack mix ([`attack`]) from other loopback addresses: alone for `--attack-seconds` (the
    /// database's growth), then beside both phases of legitimate casts.
    #[arg(long)]
    pub attack: bool,
    /// Seconds of the attack alone.
    #[arg(long, default_value_t = 20)]
    pub attack_seconds: u64,
}

impl Args {
    /// The public origin the verifier is given and the logins are bound to.
    pub fn origin(&self) -> &'static str {
        if self.tls { TLS_ORIGIN } else { ORIGIN }
    }
}

/// Runs the benchmark and prints its JSON report on standard output.
pub fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(report) => {
            println!("{report:#}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(
        args.voters > 0 && args.concurrency > 0 && args.rate > 0,
        "voters, concurrency and rate must be > 0"
    );
    anyhow::ensure!(
        (2..=CONTESTS.len()).contains(&args.contests),
        "--contests must be 2 (the demo election's contests)"
    );
    let dir = tempfile::tempdir().context("creating the benchmark's temporary folder")?;
    let prepared = prepare::prepare(args, dir.path())?;
    // The disk is shared with whatever else the machine does, so the storage limit is measured right before and
    // right after the load; the higher of the two is the limit (the ratio is never flattered by a slow moment).
    let seconds = Duration::from_secs(args.sqlite_seconds);
    let sqlite_before = sqlite_limit::commits_per_second(&dir.path().join("before.sqlite"), seconds)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (load, memory) = runtime.block_on(async {
        let server = server::Server::start(args, &prepared.db, &prepared.trust_dir, dir.path())?;
        let load = if args.soak_seconds > 0 {
            load::soak(args, &server, &prepared).await?
        } else {
            load::run(args, &server, &prepared).await?
        };
        let memory = server.memory()?;
        anyhow::Ok((load, memory))
    })?;
    let (voters, ballots) = prepare::counts(&prepared.db)?;
    let sqlite_after = sqlite_limit::commits_per_second(&dir.path().join("after.sqlite"), seconds)?;
    Ok(serde_json::json!({
        "contests_per_voter": args.contests,
        "tls": args.tls,
        "voters": voters,
        "ballots_stored": ballots,
        "load": load,
        "verifier_memory": memory,
        "sqlite_commits_per_s": sqlite_before.max(sqlite_after),
        "sqlite_commits_per_s_before_and_after": [sqlite_before, sqlite_after],
    }))
}

/// Returns the p-th percentile (0..=100) of sorted latencies in milliseconds, or 0 for none.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_ranked_latency() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&d, 50.0), 51.0);
        assert_eq!(percentile_ms(&d, 99.0), 99.0);
        assert_eq!(percentile_ms(&[], 99.0), 0.0);
    }
}
