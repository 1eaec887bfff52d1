//! The command line: `tally key-ceremony | zero-check | import | count`, one file per subcommand in [`crate::commands`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

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
    Import(ImportArgs),
    /// Check an export, open the token with M PIN shares, decrypt in the token and count.
    Count(crate::commands::count::CountArgs),
    /// Before any export arrives: the import folder is empty and the token holds exactly the ceremony's key pair.
    ZeroCheck(crate::commands::zero_check::ZeroCheckArgs),
}

/// What `import` and `count` check an export file against.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The export file (the verifier's `export`).
    pub file: PathBuf,
    /// The election definition (JSON), as the verifier was given it.
    #[arg(long)]
    pub election: PathBuf,
    /// The signed ceremony record (`ceremony.json`).
    #[arg(long)]
    pub ceremony: PathBuf,
    /// The verifier's published export key (Ed25519 public key, hex).
    #[arg(long)]
    pub export_key_public: String,
    /// The committee record's number of internet voters (R-VOTE-12): every contest must hold this many ballots.
    #[arg(long)]
    pub expected_count: u64,
    /// A contest whose count differs from --expected-count, as CONTEST=N (repeatable).
    #[arg(long, value_parser = parse_contest_count)]
    pub expected_count_per_contest: Vec<(String, u64)>,
}

fn parse_contest_count(s: &str) -> Result<(String, u64), String> {
    let (c, n) = s.split_once('=').ok_or_else(|| format!("expected CONTEST=N, got {s:?}"))?;
    Ok((c.to_string(), n.parse().map_err(|_| format!("{n:?} is not a count"))?))
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
