//! `pg_bench`: cast load on the voting store on PostgreSQL with a synchronous standby; prints the JSON report.

use clap::Parser;

fn main() -> std::process::ExitCode {
    match bench::pg::run(&bench::pg::PgArgs::parse()) {
        Ok(report) => {
            println!("{report:#}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pg_bench: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
