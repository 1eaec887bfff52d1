//! `verifier audit verify | checkpoints`: the hash-chained audit log (R-SEC-5) checked against its signed
//! checkpoints and a copy of them kept elsewhere (issue 21).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;

use super::DbArg;

#[derive(Subcommand)]
pub(super) enum AuditCommand {
    /// Walk the hash chain, check it against the signed checkpoints (the log's own, and a kept copy), and name every
    /// edited, rewritten or cut-off entry.
    Verify {
        #[command(flatten)]
        db: DbArg,
        /// A copy of the checkpoints kept outside this host: the JSON of `audit checkpoints`,
        /// `GET /api/v1/audit/checkpoints`, or the published ballot box. Without one, a cut-off tail cannot be seen.
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        /// The audit key's published public key (hex); every checkpoint must be signed with it.
        #[arg(long)]
        audit_public_key: Option<String>,
    },
    /// Print every signed checkpoint in the log (JSON), to keep a copy apart from this host.
    Checkpoints {
        #[command(flatten)]
        db: DbArg,
    },
}

/// Reads a kept copy of checkpoints: a JSON list, the public API's answer, or a published ballot box.
fn read_checkpoints(path: &Path) -> anyhow::Result<Vec<shared::export::AuditCheckpoint>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if let Ok(list) = serde_json::from_str(&text) {
        return Ok(list);
    }
    if let Ok(published) = serde_json::from_str::<shared::export::PublishedCheckpoints>(&text) {
        return Ok(published.checkpoints);
    }
    let published: shared::export::PublishedBallotBox = serde_json::from_str(&text)
        .with_context(|| format!("{} is neither a list of checkpoints nor a published ballot box", path.display()))?;
    Ok(published.audit_checkpoints)
}

/// Runs an `audit` subcommand.
pub(super) fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Checkpoints { db } => {
            let list = db.open()?.with(|c| crate::store::audit::checkpoints(c))?;
            println!("{}", serde_json::to_string_pretty(&list)?);
            Ok(())
        }
        AuditCommand::Verify { db, checkpoints, audit_public_key } => {
            let kept = checkpoints.as_deref().map(read_checkpoints).transpose()?.unwrap_or_default();
            let db = db.open()?;
            let f = db.with(|c| crate::store::checkpoints::check(c, &kept, audit_public_key.as_deref()))?;
            if !f.problems.is_empty() {
                for p in &f.problems {
                    eprintln!("verifier: {p}");
                }
                anyhow::bail!("audit log broken: {} problem(s) found, listed above", f.problems.len());
            }
            println!(
                "audit log intact: {} entries, head {}; {} checkpoint(s) vouch for it up to entry {}",
                f.chain.entries, f.chain.head, f.checkpoints, f.anchored_to
            );
            if checkpoints.is_none() {
                println!("(a cut-off tail shows only against a copy of the checkpoints kept elsewhere: --checkpoints)");
            }
            Ok(())
        }
    }
}
