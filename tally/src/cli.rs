//! The command line: `tally key-ceremony | zero-check | import | count`, one file per subcommand in [`crate::commands`].

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The offline counting tool: the key ceremony, the import of the verifier's export, and the count in the HSM.
#[derive(Debug, Parser)]
#[command(name = "tally", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate the election key pair in a fresh token and split its random PIN among custodians.
    KeyCeremony(crate::commands::key_ceremony::KeyCeremonyArgs),
    /// Check an export file completely without decrypting anything.
    Import(crate::commands::import::ImportArgs),
    /// Check an export, open the token with M PIN shares, decrypt in the token and count.
    Count(crate::commands::count::CountArgs),
    /// Before any export arrives: the import folder is empty and the token holds exactly the ceremony's key pair.
    ZeroCheck(crate::commands::zero_check::ZeroCheckArgs),
}

/// Parses the command line and runs it; errors are printed with their chain and a non-zero exit.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::KeyCeremony(a) => crate::commands::key_ceremony::run(&a),
        Command::Import(a) => crate::commands::import::run(&a),
        Command::Count(a) => crate::commands::count::run(&a),
        Command::ZeroCheck(a) => crate::commands::zero_check::run(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tally: {e:#}");
            ExitCode::FAILURE
        }
    }
}
