//! The `card-helper` command line: `serve`, and the test PKI (`test-pki init | issue | revoke`).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;

use crate::backend::CardBackend;
use crate::pin::{KeyKind, Pin};
use crate::pkcs11::{Pkcs11Card, Pkcs11Config};
use crate::pki::{Person, Sex, TestAuthority};
use crate::soft::{SoftCard, SoftCardFile};

#[derive(Parser)]
#[command(name = "card-helper", about = "My Number card helper for internet voting (loopback only)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the helper's API and confirmation page on 127.0.0.1.
    Serve(ServeArgs),
    /// A JPKI-like test authority for demos, tests and UX labs (never for a real election).
    #[command(subcommand, name = "test-pki")]
    TestPki(TestPki),
    /// Print the loopback API's OpenAPI 3.1 document (JSON), made from `helper/src/contract.rs`.
    Openapi,
}

#[derive(Args)]
struct ServeArgs {
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
    #[arg(long, conflicts_with = "pkcs11_module", required_unless_present = "pkcs11_module")]
    soft_card: Option<PathBuf>,
    #[command(flatten)]
    pkcs11: Pkcs11Args,
}

#[derive(Args)]
struct Pkcs11Args {
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
    fn config(&self, module: PathBuf) -> Pkcs11Config {
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

#[derive(Subcommand)]
enum TestPki {
    /// Create the test authentication and signing CAs in a folder.
    Init {
        /// The folder.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Issue a voter's card: a soft card file, or a token pair in a PKCS#11 module.
    Issue(Box<IssueArgs>),
    /// Revoke a certificate by serial (hex) and rewrite the CRLs.
    Revoke {
        /// The authority's folder.
        #[arg(long)]
        dir: PathBuf,
        /// The certificate serial, hex.
        #[arg(long)]
        serial: String,
    },
}

#[derive(Args)]
struct IssueArgs {
    /// The authority's folder.
    #[arg(long)]
    dir: PathBuf,
    /// Name as in the resident register.
    #[arg(long)]
    name: String,
    /// Address.
    #[arg(long)]
    address: String,
    /// Birth date, YYYY-MM-DD.
    #[arg(long)]
    birth_date: chrono::NaiveDate,
    /// male, female or other.
    #[arg(long, value_parser = parse_sex)]
    sex: Sex,
    /// The authentication PIN to set (4 digits).
    #[arg(long)]
    auth_pin: String,
    /// The signing password to set (6-16 letters and digits).
    #[arg(long)]
    sign_password: String,
    /// Days of validity.
    #[arg(long, default_value_t = 1825)]
    valid_days: i64,
    /// Write a soft card file here.
    #[arg(long, conflicts_with = "pkcs11_module", required_unless_present = "pkcs11_module")]
    out: Option<PathBuf>,
    /// The SO PIN used to initialise the tokens (PKCS#11 only).
    #[arg(long, default_value = "12345678")]
    so_pin: String,
    #[command(flatten)]
    pkcs11: Pkcs11Args,
}

fn parse_sex(s: &str) -> Result<Sex, String> {
    match s {
        "male" | "1" => Ok(Sex::Male),
        "female" | "2" => Ok(Sex::Female),
        "other" | "3" => Ok(Sex::Other),
        _ => Err("use male, female or other".into()),
    }
}

/// Runs the command line; errors are printed with their chain and give a non-zero exit.
pub fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("card-helper: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::TestPki(TestPki::Init { dir }) => {
            TestAuthority::init(&dir)?;
            println!("test authority created in {} (TEST ONLY: its CA keys are stored in clear)", dir.display());
            Ok(())
        }
        Command::TestPki(TestPki::Revoke { dir, serial }) => {
            TestAuthority::open(&dir)?.revoke(&serial)?;
            println!("revoked {serial}; CRLs rewritten in {}", dir.display());
            Ok(())
        }
        Command::TestPki(TestPki::Issue(args)) => issue(*args),
        Command::Openapi => {
            print!("{}", crate::contract::HELPER.json());
            Ok(())
        }
    }
}

fn issue(args: IssueArgs) -> anyhow::Result<()> {
    let auth_pin = Pin::parse(KeyKind::Auth, SecretString::from(args.auth_pin)).context("--auth-pin")?;
    let sign_pin = Pin::parse(KeyKind::Sign, SecretString::from(args.sign_password)).context("--sign-password")?;
    let ca = TestAuthority::open(&args.dir)?;
    let person = Person { name: args.name.clone(), address: args.address, birth_date: args.birth_date, sex: args.sex };
    let card = ca.issue(&person, args.valid_days)?;
    if let Some(out) = &args.out {
        let file = SoftCardFile::create(
            &args.name,
            (&card.auth_key_pkcs8_der, &card.auth_cert_der, &auth_pin),
            (&card.sign_key_pkcs8_der, &card.sign_cert_der, &sign_pin),
        )?;
        file.save(out)?;
        println!("soft card written to {}", out.display());
    } else if let Some(module) = &args.pkcs11.pkcs11_module {
        use secrecy::ExposeSecret;
        let config = args.pkcs11.config(module.clone());
        crate::pkcs11::provision_token_pair(
            module,
            &args.so_pin,
            &config,
            (&card.auth_key_pkcs8_der, &card.auth_cert_der, auth_pin.secret().expose_secret()),
            (&card.sign_key_pkcs8_der, &card.sign_cert_der, sign_pin.secret().expose_secret()),
        )?;
        println!(
            "token pair '{}' / '{}' provisioned in {}",
            config.auth_token_label,
            config.sign_token_label,
            module.display()
        );
    }
    println!("authentication certificate serial {}", card.auth_serial);
    println!("signing certificate serial {}", card.sign_serial);
    Ok(())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    let card: Arc<dyn CardBackend> = match (&args.soft_card, &args.pkcs11.pkcs11_module) {
        (Some(path), _) => Arc::new(SoftCard::open(path)?),
        (None, Some(module)) => Arc::new(Pkcs11Card::open(args.pkcs11.config(module.clone()))?),
        (None, None) => anyhow::bail!("give --soft-card FILE or --pkcs11-module PATH"),
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
