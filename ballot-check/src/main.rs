//! `ballot-check [--site URL | --definition FILE] [OPENING.json]`: see the library's map.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Checks that a challenged ballot's ciphertext holds the choice it reveals (exit 0), or not (exit 1).
#[derive(Parser)]
#[command(name = "ballot-check", version)]
struct Cli {
    /// The voting site, e.g. https://vote.example.jp: the election and its key are read from it.
    #[arg(long, conflicts_with = "definition", required_unless_present = "definition")]
    site: Option<String>,
    /// A saved election definition (the JSON of GET /api/v1/elections/current/definition).
    #[arg(long)]
    definition: Option<PathBuf>,
    /// The opening the voting page showed (JSON); standard input when left out.
    opening: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let source = match (cli.site, cli.definition) {
        (Some(site), _) => ballot_check::Source::Site(site),
        (None, Some(path)) => ballot_check::Source::File(path),
        (None, None) => return ExitCode::from(2),
    };
    let text = match &cli.opening {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display())),
        None => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map(|_| s).map_err(|e| format!("cannot read the input: {e}"))
        }
    };
    let run = async {
        let text = text.map_err(anyhow::Error::msg)?;
        ballot_check::run(&source, &text).await
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    match runtime.map_err(anyhow::Error::from).and_then(|rt| rt.block_on(run)) {
        Ok(report) => {
            print!("{}", report.text);
            if report.holds { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Err(e) => {
            eprintln!("ballot-check: {e:#}");
            ExitCode::from(2)
        }
    }
}
