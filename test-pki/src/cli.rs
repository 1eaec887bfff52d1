//! The `test-pki` command line: `init`, `issue` and `revoke`, with the arguments and output that
//! `card-helper test-pki` had before the test authority left the helper.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use card_helper::cli::Pkcs11Args;
use card_helper::pin::{KeyKind, Pin};
use card_helper::soft::SoftCardFile;
use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;

use crate::{Person, Sex, TestAuthority};

#[derive(Parser)]
#[command(
    name = "test-pki",
    about = "A JPKI-like test authority for demos, tests and UX labs (never for a real election)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
            eprintln!("test-pki: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command line given as words, the program's name first, as the binary would (for tests that need the
/// command in a process of their own making, e.g. with SoftHSM2's configuration in its environment).
pub fn run_from<I, T>(args: I) -> anyhow::Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run(Cli::try_parse_from(args)?)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init { dir } => {
            TestAuthority::init(&dir)?;
            println!("test authority created in {} (TEST ONLY: its CA keys are stored in clear)", dir.display());
            Ok(())
        }
        Command::Revoke { dir, serial } => {
            TestAuthority::open(&dir)?.revoke(&serial)?;
            println!("revoked {serial}; CRLs rewritten in {}", dir.display());
            Ok(())
        }
        Command::Issue(args) => issue(*args),
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
    } else if let Some(module) = args.pkcs11.module() {
        use secrecy::ExposeSecret;
        let config = args.pkcs11.config(module.to_path_buf());
        card_helper::pkcs11::provision_token_pair(
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
