//! `cargo xtask rehearsal`: the whole-election rehearsal (R-SYS-6) for a public demonstration, headless, printing
//! each step and the final result table. Exits non-zero if the count differs from the votes.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let voters = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(4);
    let started = std::time::Instant::now();
    let mut step = 0;
    let result = e2e::rehearsal::run(voters, &mut |s| {
        step += 1;
        println!("{step:>3}. [{:>5.1} s] {s}", started.elapsed().as_secs_f64());
    })
    .await;
    match result {
        Ok(outcome) => {
            println!("\n{}", outcome.table());
            println!("layouts voted in: {}", outcome.layouts.len());
            println!("second attempt: {}", outcome.second_attempt);
            if outcome.passed() {
                println!("rehearsal PASSED: the totals counted in the HSM equal the votes cast in the browsers");
                ExitCode::SUCCESS
            } else {
                println!("rehearsal FAILED: see the lines marked DIFFERS");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("rehearsal: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
