//! `verifier operators …`: the operator CA, the first administrators, and issuing and revoking operators' client
//! certificates and TOTP secrets (R-SEC-4); issuing and revoking need another admin's approval (four eyes).

use std::path::PathBuf;

use clap::Subcommand;

use super::host::Host;
use super::{BOOTSTRAP, DbArg, absolute, checkpoint};
use crate::clock::Clock;
use crate::operators::four_eyes::Action;

#[derive(Subcommand)]
pub(super) enum OperatorsCommand {
    /// The first administrators, issued together into a database that has no operator yet (at least two: from
    /// then on every change to the operators needs one admin to request it and another to approve it).
    Bootstrap {
        /// The CA folder.
        #[arg(long, env = "VERIFIER_OPERATOR_CA")]
        ca: PathBuf,
        #[command(flatten)]
        db: DbArg,
        /// An administrator's name (repeat: at least two people).
        #[arg(long = "admin", required = true)]
        admins: Vec<String>,
        /// Where to write each operator-SERIAL.pem and operator-SERIAL.key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Create the operator CA (ECDSA P-256) in a new folder, with an empty CRL.
    InitCa {
        /// The CA folder to create.
        #[arg(long, env = "VERIFIER_OPERATOR_CA")]
        ca: PathBuf,
    },
    /// Issue a person's certificate and TOTP secret, register them in the database, write the certificate and key.
    /// Four eyes: an admin requests it, another admin approves it.
    Issue {
        /// The CA folder.
        #[arg(long, env = "VERIFIER_OPERATOR_CA")]
        ca: PathBuf,
        #[command(flatten)]
        db: DbArg,
        /// The person's name (the certificate's CN; written in every audit entry).
        #[arg(long)]
        name: String,
        /// clerk, approver, admin, auditor or counting_officer.
        #[arg(long)]
        role: String,
        /// The municipality code, for clerks and approvers.
        #[arg(long)]
        municipality: Option<String>,
        /// Where to write operator-SERIAL.pem and operator-SERIAL.key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Revoke a certificate by serial: the CRL (listeners refuse it at the next connection) and the database.
    /// Four eyes: an admin requests it, another admin approves it.
    Revoke {
        /// The CA folder.
        #[arg(long, env = "VERIFIER_OPERATOR_CA")]
        ca: PathBuf,
        #[command(flatten)]
        db: DbArg,
        /// The certificate serial (hex).
        serial: String,
    },
    /// List the registered operators.
    List {
        #[command(flatten)]
        db: DbArg,
    },
    /// Issue the operator listener's certificate into the CA folder (replacing an earlier one).
    ServerCert {
        /// The CA folder.
        #[arg(long, env = "VERIFIER_OPERATOR_CA")]
        ca: PathBuf,
        /// A host name or IP address operators connect to (repeat for several).
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
    },
}

/// Runs an `operators` subcommand.
pub(super) fn run(command: OperatorsCommand, host: &Host) -> anyhow::Result<()> {
    use crate::operators::auth::{self as auth, OperatorCa};
    match command {
        OperatorsCommand::Bootstrap { ca, db: arg, admins, out } => {
            let (ca, db) = (OperatorCa::open(&ca)?, arg.open()?);
            for text in auth::bootstrap(&ca, &db, &admins, &out, BOOTSTRAP)? {
                println!("{text}");
            }
            checkpoint(&db, &arg, Clock::SYSTEM, "operator_bootstrap")?;
        }
        OperatorsCommand::InitCa { ca } => {
            OperatorCa::init(&ca)?;
            println!("operator CA created in {}; give {} to operators", ca.display(), auth::CA_CERT_FILE);
        }
        OperatorsCommand::Issue { ca, db: arg, name, role, municipality, out } => {
            let role = auth::parse_role(&role)?;
            anyhow::ensure!(
                role.is_committee() == municipality.is_some(),
                "a {} {} a municipality (--municipality CODE); nothing was asked",
                auth::role_str(role),
                if role.is_committee() { "needs" } else { "has no" }
            );
            OperatorCa::open(&ca)?;
            let (ca, out) = (absolute(&ca)?, absolute(&out)?);
            host.ask(&arg, Action::OperatorIssue { ca, name, role, municipality, out })?;
        }
        OperatorsCommand::Revoke { ca, db: arg, serial } => {
            OperatorCa::open(&ca)?;
            host.ask(&arg, Action::OperatorRevoke { ca: absolute(&ca)?, serial })?;
        }
        OperatorsCommand::List { db } => print!("{}", auth::list_text(&db.open()?)?),
        OperatorsCommand::ServerCert { ca, hosts } => {
            OperatorCa::open(&ca)?.write_server_cert(&hosts)?;
            println!("operator listener certificate for {} written to {}", hosts.join(", "), ca.display());
        }
    }
    Ok(())
}
