//! The hash-chained audit log (R-SEC-5, R-SYS-2, R-SYS-3): every state change, login success or failure,
//! vote mark (who voted in which contest, never which ballot) and operator action is an entry whose hash covers
//! the previous entry's hash, so that an edited, removed or inserted entry breaks the chain at that point.
//!
//! `hash = SHA-256(frame(prev_hash, seq, at, actor, action, detail))`, with the first `prev_hash` all zeros.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

/// The actor of entries the verifier makes by itself.
pub const SYSTEM: &str = "system";

/// The action of a signed checkpoint entry ([`crate::store::checkpoints`]).
pub const CHECKPOINT: &str = "audit_checkpoint";

/// One entry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Entry {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When (UTC, RFC 3339).
    pub at: String,
    /// Who: `system`, `voter:<person id>`, or an operator's certificate subject.
    pub actor: String,
    /// What, e.g. `election_created`, `ballot_cast`, `login_failed`.
    pub action: String,
    /// Details as JSON.
    pub detail: String,
    /// The previous entry's hash (hex).
    pub prev_hash: String,
    /// This entry's hash (hex).
    pub hash: String,
}

fn entry_hash(prev: &[u8], seq: i64, at: &str, actor: &str, action: &str, detail: &str) -> [u8; 32] {
    let seq = seq.to_be_bytes();
    let framed =
        shared::frame::frame(&[prev, &seq, at.as_bytes(), actor.as_bytes(), action.as_bytes(), detail.as_bytes()]);
    Sha256::digest(framed).into()
}

/// Appends an entry (inside the caller's transaction, so it commits or rolls back with the change it records).
pub fn append(
    conn: &Connection,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    detail: &serde_json::Value,
) -> rusqlite::Result<i64> {
    let last: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (seq, prev) = match last {
        Some((s, h)) => (s + 1, h),
        None => (1, vec![0u8; 32]),
    };
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let detail = detail.to_string();
    let hash = entry_hash(&prev, seq, &at, actor, action, &detail);
    conn.prepare_cached(
        "INSERT INTO audit_log (seq, at, actor, action, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![seq, at, actor, action, detail, prev, hash.to_vec()])?;
    Ok(seq)
}

/// What a walk of the chain found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Verification {
    /// Entries read.
    pub entries: i64,
    /// The first broken entry and why, if any.
    pub first_broken: Option<(i64, String)>,
    /// The hash of the last entry (hex), which an auditor can note down.
    pub head: String,
}

/// Walks the whole chain and names the first entry that does not fit.
pub fn verify(conn: &Connection) -> rusqlite::Result<Verification> {
    let mut stmt =
        conn.prepare("SELECT seq, at, actor, action, detail, prev_hash, hash FROM audit_log ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    let mut prev = vec![0u8; 32];
    let mut expected_seq = 1;
    let mut entries = 0;
    while let Some(r) = rows.next()? {
        let (seq, at, actor, action, detail): (i64, String, String, String, String) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
        let (stored_prev, stored_hash): (Vec<u8>, Vec<u8>) = (r.get(5)?, r.get(6)?);
        entries += 1;
        let broken = if seq != expected_seq {
            Some(format!("sequence jumps from {} to {seq} (an entry was removed)", expected_seq - 1))
        } else if stored_prev != prev {
            Some("its previous-hash does not match the entry before it".to_string())
        } else if stored_hash != entry_hash(&prev, seq, &at, &actor, &action, &detail) {
            Some("its contents do not match its hash (the entry was edited)".to_string())
        } else {
            None
        };
        if let Some(why) = broken {
            return Ok(Verification { entries, first_broken: Some((seq, why)), head: hex::encode(&stored_hash) });
        }
        prev = stored_hash;
        expected_seq += 1;
    }
    Ok(Verification { entries, first_broken: None, head: hex::encode(prev) })
}

/// A page of the log for an auditor (`GET /op/v1/audit`): the entries after `after`, at most [`PAGE`], and the walk
/// of the whole chain.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Page {
    /// The entries, in order.
    pub entries: Vec<Entry>,
    /// The sequence number to ask for next (`?after=`), when there are more.
    pub next_after: Option<i64>,
    /// The whole chain, verified as this page was read.
    pub chain: Verification,
    /// Every signed checkpoint in the log (see the checkpoints module): keep a copy to anchor the log.
    pub checkpoints: Vec<shared::export::AuditCheckpoint>,
}

/// Entries in one page at most.
pub const PAGE: i64 = 500;

/// Reads a page of the log after a sequence number, with the verification of the whole chain.
pub fn page(conn: &Connection, after: i64) -> rusqlite::Result<Page> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, actor, action, detail, prev_hash, hash FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map([after, PAGE + 1], row)?;
    let mut entries: Vec<Entry> = rows.collect::<rusqlite::Result<_>>()?;
    let next_after = (entries.len() as i64 > PAGE).then(|| {
        entries.truncate(PAGE as usize);
        entries.last().map_or(after, |e| e.seq)
    });
    Ok(Page { entries, next_after, chain: verify(conn)?, checkpoints: checkpoints(conn)? })
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        detail: r.get(4)?,
        prev_hash: hex::encode(r.get::<_, Vec<u8>>(5)?),
        hash: hex::encode(r.get::<_, Vec<u8>>(6)?),
    })
}

/// Every signed checkpoint recorded in the log, in order (what the APIs publish). An entry that does not parse
/// is left out here; the chain walk reports an edited one.
pub fn checkpoints(conn: &Connection) -> rusqlite::Result<Vec<shared::export::AuditCheckpoint>> {
    let mut stmt = conn.prepare("SELECT detail FROM audit_log WHERE action = ?1 ORDER BY seq")?;
    let details = stmt.query_map([CHECKPOINT], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for d in details {
        if let Ok(c) = serde_json::from_str(&d?) {
            out.push(c);
        }
    }
    Ok(out)
}

/// Returns every entry in order.
pub fn entries(conn: &Connection) -> rusqlite::Result<Vec<Entry>> {
    let mut stmt =
        conn.prepare("SELECT seq, at, actor, action, detail, prev_hash, hash FROM audit_log ORDER BY seq")?;
    let rows = stmt.query_map([], row)?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&c).unwrap();
        c
    }

    #[test]
    fn chain_verifies_and_names_the_first_edited_entry() {
        let c = db();
        let now = Utc::now();
        for i in 0..5 {
            append(&c, now, SYSTEM, "test", &serde_json::json!({ "i": i })).unwrap();
        }
        let v = verify(&c).unwrap();
        assert_eq!((v.entries, v.first_broken.clone()), (5, None));
        c.execute("UPDATE audit_log SET detail = '{\"i\":99}' WHERE seq = 3", []).unwrap();
        let v = verify(&c).unwrap();
        assert_eq!(v.first_broken.unwrap().0, 3);
    }

    #[test]
    fn a_removed_entry_is_found() {
        let c = db();
        for _ in 0..4 {
            append(&c, Utc::now(), SYSTEM, "test", &serde_json::json!({})).unwrap();
        }
        c.execute("DELETE FROM audit_log WHERE seq = 2", []).unwrap();
        let (seq, why) = verify(&c).unwrap().first_broken.unwrap();
        assert_eq!(seq, 3);
        assert!(why.contains("removed"), "{why}");
    }

    #[test]
    fn a_rehashed_edit_still_breaks_the_next_link() {
        let c = db();
        for _ in 0..3 {
            append(&c, Utc::now(), SYSTEM, "test", &serde_json::json!({})).unwrap();
        }
        // An attacker edits entry 2 and recomputes its hash; entry 3's previous-hash no longer matches.
        let (at, prev): (String, Vec<u8>) = c
            .query_row("SELECT at, prev_hash FROM audit_log WHERE seq = 2", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        let forged = entry_hash(&prev, 2, &at, SYSTEM, "forged", "{}");
        c.execute("UPDATE audit_log SET action = 'forged', hash = ?1 WHERE seq = 2", [forged.to_vec()]).unwrap();
        assert_eq!(verify(&c).unwrap().first_broken.unwrap().0, 3);
    }
}
