//! `verifier election check | create` and `voters import`: election definitions and the roll of internet voters.

use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use clap::Subcommand;
use shared::crypto::ElectionPublicKey;
use shared::election::Election;

use super::DbArg;
use super::host::Host;
use crate::certs::{CertKind, TrustStore};
use crate::clock::Clock;
use crate::operators::Role;
use crate::operators::four_eyes::Action;
use crate::store::{Db, Voter, VoterRecord};

#[derive(Subcommand)]
pub(super) enum ElectionCommand {
    /// Check an election definition (TOML) and print its contests and voting window in JST.
    Check {
        /// The definition file.
        file: PathBuf,
    },
    /// Create the election in the database with the public key from the counting tool's key ceremony. Four eyes:
    /// an admin requests it, another admin approves it.
    Create {
        /// The definition file (TOML).
        file: PathBuf,
        /// The election public key (PEM SubjectPublicKeyInfo, RSA-3072 or larger).
        #[arg(long)]
        public_key: PathBuf,
        #[command(flatten)]
        db: DbArg,
        /// Demos only: move the dates so voting is open now (notice 2 days ago, election day in 12 days).
        #[arg(long)]
        redate_for_demo: bool,
    },
}

#[derive(Subcommand)]
pub(super) enum VotersCommand {
    /// Import accepted internet voters, one JSON object per line (person_id, municipality, districts,
    /// auth_certificates, sign_certificates); every certificate is checked against the trust folder first.
    Import {
        /// The JSON-lines file.
        file: PathBuf,
        #[command(flatten)]
        db: DbArg,
        /// The folder of trusted CAs and CRLs.
        #[arg(long)]
        trust_dir: PathBuf,
    },
}

/// `election check` prints a definition; `election create` asks for the four-eyes creation.
pub(super) fn run(command: ElectionCommand, host: &Host) -> anyhow::Result<()> {
    match command {
        ElectionCommand::Check { file } => {
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
        ElectionCommand::Create { file, public_key, db, redate_for_demo } => {
            let election_toml =
                std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            parse_election(&election_toml).with_context(|| format!("{} is not a valid election", file.display()))?;
            let public_key_pem = std::fs::read_to_string(&public_key)
                .with_context(|| format!("cannot read the public key {}", public_key.display()))?;
            ElectionPublicKey::from_pem(&public_key_pem).with_context(|| format!("{}", public_key.display()))?;
            host.ask(&db, Action::ElectionCreate { election_toml, public_key_pem, redate_for_demo })
        }
    }
}

/// `voters import`: an admin imports accepted voters, every certificate checked against the trust folder.
pub(super) fn run_voters(command: VotersCommand, host: &Host) -> anyhow::Result<()> {
    let VotersCommand::Import { file, db: arg, trust_dir } = command;
    let db = arg.open()?;
    let op = host.operator(&db, &[Role::Admin], "voters import")?;
    let trust = TrustStore::from_dir(&trust_dir)?;
    let n = import_voters(&db, &trust, &file, &op.actor())?;
    println!("{n} voters imported into {}", arg.db.display());
    Ok(())
}

/// Imports voters from a JSON-lines file, checking each certificate; returns how many.
pub fn import_voters(db: &Db, trust: &TrustStore, file: &Path, actor: &str) -> anyhow::Result<usize> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let now = Clock::SYSTEM.now();
    let mut n = 0;
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let at = || format!("{} line {}", file.display(), i + 1);
        let rec: VoterRecord = serde_json::from_str(line).with_context(at)?;
        let mut certs = Vec::new();
        for (kind, list) in [(CertKind::Auth, &rec.auth_certificates), (CertKind::Sign, &rec.sign_certificates)] {
            for b64 in list {
                let der = B64.decode(b64).with_context(at)?;
                let checked = trust
                    .check(kind, &der, now)
                    .map_err(|e| anyhow::anyhow!("{}: {} certificate: {e}", at(), kind.code()))?;
                certs.push((checked.fingerprint, kind, checked.serial));
            }
        }
        anyhow::ensure!(
            !rec.auth_certificates.is_empty() && !rec.sign_certificates.is_empty(),
            "{}: a voter needs an authentication and a signing certificate",
            at()
        );
        let voter = Voter { person_id: rec.person_id, municipality: rec.municipality, districts: rec.districts };
        db.add_voter(&voter, &certs, actor, now)?;
        n += 1;
    }
    Ok(n)
}

/// Reads and validates an election definition.
pub fn load_election(path: &Path) -> anyhow::Result<Election> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_election(&text).with_context(|| format!("{} is not a valid election", path.display()))
}

/// Parses and validates an election definition (TOML).
pub(super) fn parse_election(text: &str) -> anyhow::Result<Election> {
    let e: Election = toml::from_str(text)?;
    e.validate()?;
    Ok(e)
}
