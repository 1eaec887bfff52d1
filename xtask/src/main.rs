//! `cargo xtask`: the README's two commands (`demo`, `test`) and the `setup` they both run first.
//!
//! Everything a fresh machine of this project's kind needs is installed by `setup` (TOOLCHAIN.md): nothing else
//! may be assumed, because CI runs on a clean checkout.

mod app;
mod demo;
mod run;
mod setup;
mod test;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Project tasks: setup, demo, test")]
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
}

fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Command::Setup => setup::run(),
        Command::Demo(args) => demo::run(args),
        Command::Test => test::run(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
