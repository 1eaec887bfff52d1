//! `tally zero-check`: the counting subsystem's own zero check (R-SYS-3, issue 21 part 4), before any export
//! arrives. The import folder is empty, and the token holds exactly the ceremony's key pair and nothing else: the
//! private key under the ceremony's policy, the public key with the ceremony's fingerprint. The report is signed with
//! the ceremony's key, like the results.
//!
//! Must never: pass a folder that holds anything, or a token with any other object (another key could be the one
//! a tampered count uses, or the copy of one imported from outside).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;

use crate::signing::SigningKey;

/// Arguments of `tally zero-check`.
#[derive(Debug, Clone, Args)]
pub struct ZeroCheckArgs {
    /// The folder exports will be imported from: it must be empty.
    #[arg(long)]
    pub import_dir: PathBuf,
    /// The signed ceremony record (`ceremony.json`).
    #[arg(long)]
    pub ceremony: PathBuf,
    /// The PKCS#11 module of the HSM.
    #[arg(long)]
    pub module: PathBuf,
    /// A custodian's PIN share file (repeat M times): the token's private objects are visible only after login.
    #[arg(long = "share", required = true)]
    pub shares: Vec<PathBuf>,
    /// The ceremony's Ed25519 key that signs the report (default: beside the ceremony record).
    #[arg(long)]
    pub signing_key: Option<PathBuf>,
    /// The signed report to write (refused if it exists).
    #[arg(long)]
    pub out: PathBuf,
}

/// What the counting zero check found.
#[derive(Debug, Serialize)]
struct Report {
    election_id: String,
    checked_at: String,
    import_dir: String,
    import_dir_entries: usize,
    token_label: String,
    token_serial: String,
    token_objects: Vec<String>,
    key_fingerprint: String,
}

/// Runs the check; refuses with `COUNT_ZERO_CHECK_FAILED` naming what is there that should not be.
pub fn run(a: &ZeroCheckArgs) -> anyhow::Result<()> {
    let (record, _) = crate::ceremony::read_record(&a.ceremony)?;
    let entries: Vec<String> = std::fs::read_dir(&a.import_dir)
        .with_context(|| format!("reading the import folder {}", a.import_dir.display()))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(
        entries.is_empty(),
        "COUNT_ZERO_CHECK_FAILED: the import folder {} is not empty before any export arrived: it holds {entries:?}. \
         Find out where they came from; nothing was signed",
        a.import_dir.display()
    );
    let token = crate::ceremony::open_token(&record, &a.module, &a.shares)
        .context("COUNT_ZERO_CHECK_FAILED: the ceremony's token and key")?;
    let objects = crate::hsm::list_objects(&token.session)?;
    let others: Vec<&String> = objects.iter().filter(|o| !o.ends_with(&format!("'{}'", record.key_label))).collect();
    anyhow::ensure!(
        objects.len() == 2 && others.is_empty(),
        "COUNT_ZERO_CHECK_FAILED: the token holds {} objects where the ceremony left 2 (its key pair): {objects:?}. \
         Another object may be a key a tampered count would use; nothing was signed",
        objects.len()
    );
    let report = Report {
        election_id: record.election_id.clone(),
        checked_at: chrono::Utc::now().to_rfc3339(),
        import_dir: a.import_dir.display().to_string(),
        import_dir_entries: 0,
        token_label: record.token_label.clone(),
        token_serial: token.serial.clone(),
        token_objects: objects,
        key_fingerprint: record.key_fingerprint.clone(),
    };
    let key_path = a.signing_key.clone().unwrap_or_else(|| {
        a.ceremony.parent().unwrap_or(std::path::Path::new(".")).join(crate::ceremony::SIGNING_KEY_FILE)
    });
    let signed = SigningKey::load(&key_path)?.sign(serde_json::to_string_pretty(&report)?);
    files::create_new(&a.out, serde_json::to_string_pretty(&signed)?.as_bytes(), files::Access::Everyone)?;
    println!("counting zero check passed: import folder empty, token holds exactly the ceremony's key pair");
    println!("signed report: {}", a.out.display());
    Ok(())
}
