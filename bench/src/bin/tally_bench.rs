//! `tally_bench`: counts N ballots with the release `tally` in SoftHSM2 and prints the JSON report.

use clap::Parser;

fn main() -> std::process::ExitCode {
    match bench::tally::run(&bench::tally::TallyArgs::parse()) {
        Ok(report) => {
            println!("{report:#}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tally_bench: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
