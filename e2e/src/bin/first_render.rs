//! `cargo xtask bench`'s time to first render of the voter app: a live election on loopback (the verifier serving
//! the built app), the start page loaded cold in a new headless Chromium RUNS times (default 10), each followed by
//! one warm load; prints the report as JSON on stdout and one line per run on stderr. `first_render RUNS slow`
//! loads over an emulated slow line abroad ([`e2e::Line::SLOW_ABROAD`]).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let runs = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(10);
    let line = (std::env::args().nth(2).as_deref() == Some("slow")).then_some(e2e::Line::SLOW_ABROAD);
    let result = async {
        let election = e2e::LiveElection::start()?;
        e2e::first_render::measure(&election.base_url, runs, line, &mut |l| eprintln!("first_render: {l}")).await
    }
    .await;
    match result {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("first_render: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
