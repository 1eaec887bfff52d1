//! The application cut-off of an election (R-REG-11): later applications are kept for the next election.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, TransactionBehavior, params};

use super::{RegError, history, require};
use crate::operators::{Operator, Role};
use crate::store::Db;
use crate::store::audit;

/// Moves the applications kept past an earlier election's cut-off on to a new election (R-REG-11), inside the
/// transaction that creates it: to `established` where the card has arrived, else to `awaiting_card`. Returns how
/// many moved.
pub fn requeue_held(tx: &Connection, election_id: &str, now: DateTime<Utc>) -> rusqlite::Result<usize> {
    let held: Vec<(String, String, bool)> = tx
        .prepare(
            "SELECT receipt_no, municipality, card_arrived FROM applications WHERE status = 'kept_for_next_election'",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (receipt_no, municipality, card_arrived) in &held {
        let status = if *card_arrived { "established" } else { "awaiting_card" };
        tx.execute("UPDATE applications SET status = ?2 WHERE receipt_no = ?1", params![receipt_no, status])?;
        let detail = serde_json::json!({ "election": election_id, "status": status });
        history(tx, municipality, receipt_no, now, "requeued_for_next_election", detail)?;
    }
    if !held.is_empty() {
        audit::append(
            tx,
            now,
            audit::SYSTEM,
            "applications_requeued",
            &serde_json::json!({ "count": held.len(), "election": election_id }),
        )?;
    }
    Ok(held.len())
}

/// Sets the application cut-off of an election (admin, R-REG-11): applications arriving later are kept for the
/// next election, with a notice.
pub fn set_cutoff(
    db: &Db,
    op: &Operator,
    election_id: &str,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), RegError> {
    require(op, &[Role::Admin], None)?;
    db.with(|c| {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [format!("application_cutoff:{election_id}"), cutoff.to_rfc3339()],
        )?;
        let detail = serde_json::json!({ "election": election_id, "cutoff": cutoff.to_rfc3339() });
        audit::append(&tx, now, &op.actor(), "application_cutoff_set", &detail)?;
        tx.commit()
    })?;
    Ok(())
}
