//! `cargo xtask`: the README's two commands (`demo`, `test`) and the `setup` they both run first; `rehearsal`
//! runs the whole-election rehearsal (R-SYS-6) for people, printing each step and the result table; `bench`
//! measures the figures the project promises beside their limits and writes the README's Performance table;
//! `fuzz` runs the cargo-fuzz targets of `fuzz/` for minutes each (issue 10); `release` makes the reproducible
//! release build and its hashes (issue 21); `a11y-report` the accessibility reviewers' report (issue 22).
//!
//! Everything a fresh machine of this project's kind needs is installed by `setup` (TOOLCHAIN.md): nothing else
//! may be assumed, because CI runs on a clean checkout.

mod a11y_report;
mod app;
mod bench;
mod crew;
mod demo;
mod fuzz;
mod release;
mod run;
mod setup;
mod test;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Project tasks: setup, demo, test, rehearsal, bench, fuzz, release, a11y-report")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install every tool the build and the tests need (idempotent).
    Setup,
    /// Build the voter app and run the verifier on a demo election until Ctrl-C.
    Demo(demo::Args),
    /// fmt, clippy (host and wasm32), native tests, wasm tests in headless Chromium, end-to-end tests.
    Test,
    /// The whole election, scripted and headless (R-SYS-6): key ceremony to count, printing each step.
    Rehearsal {
        /// How many voters (at least 4, so that every layout gets a vote).
        #[arg(long, default_value_t = 4)]
        voters: usize,
    },
    /// Cast throughput and latency, RSA and SQLite limits, wasm size, verifier memory, in-browser encryption and
    /// time to first render: README's Performance table.
    Bench(bench::Args),
    /// The release build, reproducible from the same source anywhere: programs, voter app, SHA256SUMS, the
    /// zero-vote check's build-hashes.json and BUILDINFO (issue 21).
    Release(release::Args),
    /// Run every cargo-fuzz target (ballot bytes, cast envelope, certificates, JSON bodies) for minutes each.
    Fuzz(fuzz::Args),
    /// The failover rehearsal on loopback (issue 24): a PostgreSQL primary and its synchronous standby, two
    /// front-ends casting, the standby stalled and the primary killed with SIGKILL, the standby promoted; prints the
    /// timeline and checks every receipt against the box: the store driven directly (verifier/tests/voting_store.rs),
    /// then two real `verifier serve` processes driven over HTTP (verifier/tests/front_ends.rs: the failover and a
    /// planned switchover), then three nodes losing two machines in turn (verifier/tests/third_node.rs).
    Failover,
    /// The accessibility reviewers' report, target/a11y/report.html: screenshots of every layout, both rule
    /// engines' results, what a screen reader hears, and the cost of each layout.
    A11yReport,
}

fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Command::Setup => setup::run(),
        Command::Demo(args) => demo::run(args),
        Command::Test => test::run(),
        Command::Rehearsal { voters } => rehearsal(voters),
        Command::Bench(args) => bench::run(args),
        Command::Fuzz(args) => fuzz::run(args),
        Command::Release(args) => release::run(args),
        Command::A11yReport => a11y_report::run(),
        Command::Failover => failover(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Sets up, builds the voter app and the binaries, then runs the rehearsal binary of the e2e crate.
fn failover() -> anyhow::Result<()> {
    setup::run()?;
    for (file, test) in [
        ("voting_store", "killing_the_primary_under_load_loses_no_receipted_ballot"),
        ("front_ends", "killing_the_primary_under_http_load_loses_no_receipted_ballot"),
        ("front_ends", "a_planned_switchover_under_http_load_fails_no_cast_and_stays_synchronous"),
        ("third_node", "two_machines_lost_in_turn_lose_no_receipted_ballot"),
    ] {
        let args = ["test", "--locked", "-p", "verifier", "--test", file, "--", "--exact", test, "--nocapture"];
        run::sh(run::cmd("cargo").args(args))?;
    }
    Ok(())
}

fn rehearsal(voters: usize) -> anyhow::Result<()> {
    setup::run()?;
    let dist = app::build_voter_app()?;
    let bin = app::build_binaries()?;
    run::sh(
        run::cmd(bin.join("rehearsal"))
            .arg(voters.to_string())
            .env("E2E_WEB_DIST", &dist)
            .env("E2E_BIN_DIR", &bin)
            .env("CHROMEDRIVER", "/usr/bin/chromedriver"),
    )
}
