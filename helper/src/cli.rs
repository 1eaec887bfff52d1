//! The `card-helper` command line: `serve` and `openapi`. The test authority is not here: it is the `test-pki`
//! crate and tool, which reuses [`Pkcs11Args`] to provision a token pair.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::backend::CardBackend;
use crate::pkcs11::{Pkcs11Card, Pkcs11Config};
use crate::soft::SoftCard;

#[derive(Parser)]
#[command(name = "card-helper", about = "My Number card helper for internet voting (loopback only)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the helper's API and confirmation page on 127.0.0.1.
    Serve(Box<ServeArgs>),
    /// Print the loopback API's OpenAPI 3.1 document (JSON), made from `helper/src/contract.rs`.
    Openapi,
}

#[derive(Args)]
struct ServeArgs {
    /// A settings file (TOML) whose keys are these options without their dashes, e.g. `port = 24190`; the
    /// environment and the flags override it. `helper/card-helper.example.toml` lists and explains every key.
    #[arg(long, env = "CARD_HELPER_CONFIG")]
    config: Option<PathBuf>,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, env = "CARD_HELPER_PORT", default_value_t = shared::helper_api::DEFAULT_HELPER_PORT)]
    port: u16,
    /// An origin (the verifier's, e.g. https://vote.example.jp) allowed to use the helper; repeat for more.
    #[arg(long = "allowed-origin", env = "CARD_HELPER_ALLOWED_ORIGINS", value_delimiter = ',', required = true)]
    allowed_origins: Vec<String>,
    /// The election key fingerprints (hex SHA-256 of the SubjectPublicKeyInfo, as published by the election
    /// administration) that a ballot may be encrypted under; repeat for more. When given, the helper refuses to sign
    /// or check a ballot under any other key, even one the voting site serves (`ELECTION_KEY_NOT_PINNED`).
    #[arg(long = "election-key-fingerprint", env = "CARD_HELPER_ELECTION_KEYS", value_delimiter = ',')]
    election_keys: Vec<String>,
    /// A soft card file (demos, tests, UX labs).
    #[arg(long, conflicts_with = "pkcs11_module")]
    soft_card: Option<PathBuf>,
    #[command(flatten)]
    pkcs11: Pkcs11Args,
}

/// The PKCS#11 module and the token layout of a card: `serve`'s options, and `test-pki issue`'s when it
/// provisions a token pair.
#[derive(Args)]
pub struct Pkcs11Args {
    /// A PKCS#11 module: OpenSC's opensc-pkcs11.so for the real card (its JPKI driver), SoftHSM2 in tests.
    #[arg(long)]
    pkcs11_module: Option<PathBuf>,
    /// The token holding the authentication key.
    #[arg(long, default_value = "JPKI (User Authentication PIN)")]
    auth_token: String,
    /// The token holding the signing key.
    #[arg(long, default_value = "JPKI (Digital Signature PIN)")]
    sign_token: String,
    /// The label of the authentication key and certificate.
    #[arg(long, default_value = "User Authentication Key")]
    auth_key: String,
    /// The label of the signing key and certificate.
    #[arg(long, default_value = "Digital Signature Key")]
    sign_key: String,
    /// Where the helper keeps its own try counters [default: ~/.local/state/card-helper/state.json].
    #[arg(long)]
    state_file: Option<PathBuf>,
}

impl Pkcs11Args {
    /// Returns the PKCS#11 module given, if any.
    pub fn module(&self) -> Option<&Path> {
        self.pkcs11_module.as_deref()
    }

    /// Returns the layout these options give, for `module`.
    pub fn config(&self, module: PathBuf) -> Pkcs11Config {
        Pkcs11Config {
            module,
            auth_token_label: self.auth_token.clone(),
            sign_token_label: self.sign_token.clone(),
            auth_key_label: self.auth_key.clone(),
            sign_key_label: self.sign_key.clone(),
            state_file: self.state_file.clone().unwrap_or_else(default_state_file),
        }
    }
}

/// Returns `$XDG_STATE_HOME/card-helper/state.json`, else `~/.local/state/card-helper/state.json`.
fn default_state_file() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into())).join(".local/state"));
    let dir = base.join("card-helper");
    let _ = std::fs::create_dir_all(&dir);
    dir.join("state.json")
}

/// Runs the command line; errors are printed with their chain and give a non-zero exit.
pub fn main() -> ExitCode {
    match settings::parse(std::env::args_os().collect(), "serve").map_err(anyhow::Error::from).and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("card-helper: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Returns the command line's definition: `serve`'s options are the keys of its settings file.
pub fn command() -> clap::Command {
    Cli::command()
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Openapi => {
            print!("{}", crate::contract::HELPER.json());
            Ok(())
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    if let Some(file) = &args.config {
        tracing::info!(settings = %file.display(), "settings file read");
    }
    let card: Arc<dyn CardBackend> = match (&args.soft_card, &args.pkcs11.pkcs11_module) {
        // clap checks this for flags and the environment; a settings file's values are defaults, which it does not.
        (Some(_), Some(_)) => anyhow::bail!("give a soft card or a PKCS#11 module, not both"),
        (Some(path), _) => Arc::new(SoftCard::open(path)?),
        (None, Some(module)) => Arc::new(Pkcs11Card::open(args.pkcs11.config(module.clone()))?),
        (None, None) => anyhow::bail!(
            "give --soft-card FILE or --pkcs11-module PATH (or soft-card or pkcs11-module in the settings file)"
        ),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)))
            .await
            .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
        let port = listener.local_addr()?.port();
        let helper = crate::api::Helper::with_pinned_keys(card, args.allowed_origins.clone(), port, args.election_keys);
        tracing::info!(port, origins = ?args.allowed_origins, "card helper listening");
        println!("card-helper: listening on http://127.0.0.1:{port}/");
        warp::serve(crate::api::routes(helper))
            .incoming(listener)
            .graceful(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .run()
            .await;
        Ok(())
    })
}
