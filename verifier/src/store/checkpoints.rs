//! Signed checkpoints of the audit log (R-SEC-5, issue 21 part 3). The chain's hash is public and unkeyed, so
//! whoever can write the database could cut off its tail or rewrite an entry and re-hash everything after it.
//! A checkpoint is the head at one entry, signed with the audit key, an Ed25519 file held apart from the database
//! ([`AuditKey`], default `DB.audit-key.pk8`). It is made
//! - at a fixed interval while serving, when the log has moved since the last one (`--audit-checkpoint-seconds`);
//! - after every critical action: election create, pause, resume, a candidate's withdrawal, operator issue and
//!   revoke, the zero-vote check, export and record.
//!
//! Each checkpoint is recorded as the next entry (`audit_checkpoint`) and published: on the operator API
//! (`GET /op/v1/audit`), on the public API (`GET /api/v1/audit/checkpoints`) and in the published ballot box.
//! Anyone who keeps a copy anchors the log up to its last checkpoint: [`check`] (`verifier audit verify
//! --checkpoints FILE`) names an edit, a rewrite and a cut-off tail.
//!
//! Must never: sign a head it did not read in the same write transaction; accept a checkpoint whose signature does
//! not verify; call a log intact that ends before a checkpoint it was shown.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use shared::export::AuditCheckpoint;

use crate::ops::{ExportKey, verify_signature};
use crate::store::audit;

/// The audit key: signs checkpoints, and nothing else.
pub struct AuditKey(ExportKey);

impl AuditKey {
    /// The default key file of a database: `verifier.sqlite` → `verifier.audit-key.pk8`.
    pub fn default_path(db: &Path) -> PathBuf {
        db.with_extension("audit-key.pk8")
    }

    /// Reads the key file, or creates it (owner-readable, never overwritten) when there is none; says which.
    pub fn load_or_create(path: &Path) -> anyhow::Result<(AuditKey, bool)> {
        if path.exists() {
            return Ok((AuditKey(ExportKey::load(path)?), false));
        }
        Ok((AuditKey(ExportKey::generate(path)?), true))
    }

    /// A key held in memory only (the in-memory demo).
    pub fn ephemeral() -> anyhow::Result<AuditKey> {
        Ok(AuditKey(ExportKey::ephemeral()?))
    }

    /// The public key (hex), which auditors pin.
    pub fn public_hex(&self) -> String {
        self.0.public_hex()
    }
}

/// Signs the chain's head and records the checkpoint as the next entry, in one write transaction; `None` when the
/// log is empty, or when `only_if_moved` and the last entry is already a checkpoint.
pub fn sign_head(
    conn: &mut Connection,
    key: &AuditKey,
    now: DateTime<Utc>,
    reason: &str,
    only_if_moved: bool,
) -> rusqlite::Result<Option<AuditCheckpoint>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let last: Option<(i64, Vec<u8>, String)> = tx
        .query_row("SELECT seq, hash, action FROM audit_log ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((seq, hash, action)) = last else { return Ok(None) };
    if only_if_moved && action == audit::CHECKPOINT {
        return Ok(None);
    }
    let mut checkpoint = AuditCheckpoint {
        seq,
        head: hex::encode(hash),
        signed_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        reason: reason.to_string(),
        public_key: key.public_hex(),
        signature: String::new(),
    };
    checkpoint.signature = key.0.sign(&checkpoint.message());
    let detail = serde_json::to_value(&checkpoint).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
    audit::append(&tx, now, audit::SYSTEM, audit::CHECKPOINT, &detail)?;
    tx.commit()?;
    Ok(Some(checkpoint))
}

/// What checking the log against checkpoints found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Findings {
    /// The walk of the chain itself.
    pub chain: audit::Verification,
    /// Checkpoints checked (the log's own and those given).
    pub checkpoints: usize,
    /// The last entry a valid checkpoint vouches for.
    pub anchored_to: i64,
    /// Every problem, each naming the entry and what happened to it; empty when the log is intact.
    pub problems: Vec<String>,
}

/// Signs a checkpoint every `every` while serving, when the log has moved since the last one (the first at once).
pub fn spawn(
    db: std::sync::Arc<crate::store::Db>,
    key: std::sync::Arc<AuditKey>,
    clock: crate::clock::Clock,
    every: std::time::Duration,
) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            let (db, key) = (db.clone(), key.clone());
            let signed = tokio::task::spawn_blocking(move || {
                db.with(|c| sign_head(c, &key, clock.real_now(), "interval", true))
            })
            .await;
            if !matches!(signed, Ok(Ok(_))) {
                tracing::error!(result = ?signed.map(|r| r.map(|_| ())), "ALARM: cannot sign an audit checkpoint");
            }
        }
    });
}

/// Walks the chain and checks it against the log's own checkpoints and the `kept` copies (an auditor's), every
/// signature against `pinned_key` when given (else against the key each checkpoint names).
pub fn check(conn: &Connection, kept: &[AuditCheckpoint], pinned_key: Option<&str>) -> rusqlite::Result<Findings> {
    let chain = audit::verify(conn)?;
    let mut problems = Vec::new();
    if let Some((seq, why)) = &chain.first_broken {
        problems.push(format!("the chain is broken at entry {seq}: {why}"));
    }
    let mut all = audit::checkpoints(conn)?;
    // A kept copy mostly repeats the log's own: each checkpoint is checked once.
    for c in kept {
        if !all.contains(c) {
            all.push(c.clone());
        }
    }
    let mut anchored_to = 0;
    for c in &all {
        let key = pinned_key.unwrap_or(&c.public_key);
        if c.public_key != key || !verify_signature(key, &c.message(), &c.signature) {
            problems.push(format!(
                "the checkpoint of entry {} signed at {} does not verify with the audit key {key}: forged",
                c.seq, c.signed_at
            ));
            continue;
        }
        let stored: Option<Vec<u8>> =
            conn.query_row("SELECT hash FROM audit_log WHERE seq = ?1", [c.seq], |r| r.get(0)).optional()?;
        match stored {
            None if c.seq > chain.entries => problems.push(format!(
                "the log ends at entry {}, but the checkpoint signed at {} ({}) vouches for entry {}: entries {} to \
                 {} at least were cut off",
                chain.entries,
                c.signed_at,
                c.reason,
                c.seq,
                chain.entries + 1,
                c.seq
            )),
            None => problems
                .push(format!("entry {} is missing: the checkpoint signed at {} vouches for it", c.seq, c.signed_at)),
            Some(h) if hex::encode(&h) != c.head => problems.push(format!(
                "entry {} is not the one the checkpoint signed at {} ({}) vouches for: the log was rewritten at or \
                 before entry {}",
                c.seq, c.signed_at, c.reason, c.seq
            )),
            Some(_) => anchored_to = anchored_to.max(c.seq),
        }
    }
    problems.dedup();
    Ok(Findings { chain, checkpoints: all.len(), anchored_to, problems })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&c).unwrap();
        c
    }

    #[tokio::test]
    async fn while_serving_a_checkpoint_follows_each_move_of_the_log_and_only_then() {
        let db = std::sync::Arc::new(crate::store::Db::open_in_memory().unwrap());
        let key = std::sync::Arc::new(AuditKey::ephemeral().unwrap());
        let clock = crate::clock::Clock::SYSTEM;
        spawn(db.clone(), key, clock, std::time::Duration::from_millis(50));
        let seqs = || db.with(|c| audit::checkpoints(c)).unwrap().into_iter().map(|c| c.seq).collect::<Vec<_>>();
        let settle = || tokio::time::sleep(std::time::Duration::from_millis(300));
        db.audit(clock.now(), audit::SYSTEM, "test", serde_json::json!({})).unwrap();
        settle().await;
        assert_eq!(seqs(), vec![1], "one checkpoint for the one move");
        db.audit(clock.now(), audit::SYSTEM, "test", serde_json::json!({})).unwrap();
        settle().await;
        assert_eq!(seqs(), vec![1, 3], "the next move, after the first checkpoint's own entry");
    }

    #[test]
    fn a_checkpoint_vouches_for_its_entry_and_names_a_cut_or_a_rewrite() {
        let mut c = db();
        let key = AuditKey::ephemeral().unwrap();
        let now = Utc::now();
        assert!(sign_head(&mut c, &key, now, "interval", true).unwrap().is_none(), "an empty log is not signed");
        for i in 0..4 {
            audit::append(&c, now, audit::SYSTEM, "test", &serde_json::json!({ "i": i })).unwrap();
        }
        let cp = sign_head(&mut c, &key, now, "pause", false).unwrap().unwrap();
        assert_eq!(cp.seq, 4);
        assert!(sign_head(&mut c, &key, now, "interval", true).unwrap().is_none(), "nothing moved");
        let f = check(&c, &[], Some(&key.public_hex())).unwrap();
        assert_eq!((f.problems.len(), f.anchored_to, f.checkpoints), (0, 4, 1), "{f:?}");

        // Cut off entries 3 to 5: the log's own checkpoint goes with them; the kept copy names the cut.
        c.execute("DELETE FROM audit_log WHERE seq > 2", []).unwrap();
        let f = check(&c, std::slice::from_ref(&cp), Some(&key.public_hex())).unwrap();
        assert!(f.problems.iter().any(|p| p.contains("entries 3 to 4 at least were cut off")), "{f:?}");

        // A forged checkpoint (another key) is refused against the pinned key.
        let other = AuditKey::ephemeral().unwrap();
        let mut forged = cp.clone();
        forged.public_key = other.public_hex();
        forged.signature = other.0.sign(&forged.message());
        let f = check(&c, &[forged], Some(&key.public_hex())).unwrap();
        assert!(f.problems.iter().any(|p| p.contains("forged")), "{f:?}");
    }
}
