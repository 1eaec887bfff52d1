//! The `verifier` command line: clap derive, one function per subcommand.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use shared::election::Election;

use crate::{clock::Clock, demo, server};

#[derive(Parser)]
#[command(name = "verifier", about = "The voting subsystem of the overseas internet voting system")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the voter API and the voter app.
    Serve {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, env = "VERIFIER_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The built voter app (Trunk's dist/ folder).
        #[arg(long, env = "VERIFIER_WEB_DIR")]
        web_dir: Option<PathBuf>,
        /// The election definition (TOML).
        #[arg(long, env = "VERIFIER_ELECTION", conflicts_with = "demo", required_unless_present = "demo")]
        election: Option<PathBuf>,
        /// Run the embedded practice election, re-dated so that voting is open now.
        #[arg(long)]
        demo: bool,
    },
    /// Election definitions.
    #[command(subcommand)]
    Election(ElectionCommand),
}

#[derive(Subcommand)]
enum ElectionCommand {
    /// Check an election definition (TOML) and print its contests and voting window in JST.
    Check {
        /// The definition file.
        file: PathBuf,
    },
}

/// Runs the command line; errors are printed with their chain and give a non-zero exit.
pub fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("verifier: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { listen, web_dir, election, demo } => {
            init_logging();
            let election = match (election, demo) {
                (Some(path), _) => load_election(&path)?,
                (None, _) => demo::demo_election(Clock.now())?,
            };
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(server::serve(server::ServeOptions { listen, web_dir, election }))
        }
        Command::Election(ElectionCommand::Check { file }) => {
            let e = load_election(&file)?;
            let w = e.window();
            println!("{} / {} ({})", e.name.ja, e.name.en, e.id);
            println!(
                "voting window: {} to {}",
                shared::jst::format_jst(w.opens_at),
                shared::jst::format_jst(w.closes_at)
            );
            for c in &e.contests {
                println!("- {} {} ({:?}, district {})", c.id, c.name.ja, c.kind(), c.district);
            }
            Ok(())
        }
    }
}

/// Reads and validates an election definition.
pub fn load_election(path: &std::path::Path) -> anyhow::Result<Election> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let e: Election = toml::from_str(&text).with_context(|| format!("{} is not a valid election", path.display()))?;
    e.validate().with_context(|| format!("{} is not a valid election", path.display()))?;
    Ok(e)
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
