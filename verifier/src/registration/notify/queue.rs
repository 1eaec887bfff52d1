//! The `notices` table: a notice is queued in the caller's transaction, leased while it is sent, marked sent or
//! retried after [`super::backoff`], and never deleted.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{LEASE, Notice, backoff, validate};
use crate::store::Db;
use crate::store::audit;

/// Timestamps are stored as fixed-width RFC 3339 UTC text, so that text order is time order.
fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Queues a notice, due at once; call it inside the caller's transaction so the decision and its notice commit
/// together. An invalid recipient or subject is an error (nothing is written), never a panic.
pub fn enqueue(conn: &Connection, n: &Notice, now: DateTime<Utc>) -> rusqlite::Result<i64> {
    validate(n).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let now = ts(now);
    conn.execute(
        "INSERT INTO notices (recipient, subject, body, created_at, attempts, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, 0, ?4)",
        params![n.to, n.subject, n.body, now],
    )?;
    Ok(conn.last_insert_rowid())
}

/// A notice claimed for sending.
pub(super) struct Due {
    pub(super) id: i64,
    pub(super) recipient: String,
    pub(super) subject: String,
    pub(super) body: String,
    pub(super) created_at: String,
    pub(super) attempts: u32,
}

pub(super) fn claim_next(conn: &mut Connection, now: DateTime<Utc>) -> rusqlite::Result<Option<Due>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let due = tx
        .query_row(
            "SELECT id, recipient, subject, body, created_at, attempts FROM notices
             WHERE sent_at IS NULL AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT 1",
            params![ts(now)],
            |r| {
                Ok(Due {
                    id: r.get(0)?,
                    recipient: r.get(1)?,
                    subject: r.get(2)?,
                    body: r.get(3)?,
                    created_at: r.get(4)?,
                    attempts: r.get(5)?,
                })
            },
        )
        .optional()?;
    if let Some(d) = &due {
        tx.execute("UPDATE notices SET next_attempt_at = ?1 WHERE id = ?2", params![ts(now + LEASE), d.id])?;
    }
    tx.commit()?;
    Ok(due)
}

pub(super) fn mark_sent(conn: &mut Connection, id: i64, now: DateTime<Utc>) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "UPDATE notices SET sent_at = ?1, attempts = attempts + 1 WHERE id = ?2 AND sent_at IS NULL",
        params![ts(now), id],
    )?;
    audit::append(&tx, now, audit::SYSTEM, "notice_sent", &serde_json::json!({ "notice": id }))?;
    tx.commit()
}

pub(super) fn record_failure(
    conn: &Connection,
    id: i64,
    attempts: u32,
    now: DateTime<Utc>,
    error: &str,
) -> rusqlite::Result<()> {
    let attempts = attempts.saturating_add(1);
    conn.execute(
        "UPDATE notices SET attempts = ?1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?4 AND sent_at IS NULL",
        params![attempts, error, ts(now + backoff(attempts)), id],
    )?;
    Ok(())
}

/// The server is unreachable: every other due notice fails this round with the same error, without a connection
/// attempt each (a round stays short however long the queue is).
pub(super) fn defer_all_due(conn: &mut Connection, now: DateTime<Utc>, error: &str) -> rusqlite::Result<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let due: Vec<(i64, u32)> = {
        let mut stmt =
            tx.prepare("SELECT id, attempts FROM notices WHERE sent_at IS NULL AND next_attempt_at <= ?1")?;
        stmt.query_map(params![ts(now)], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?
    };
    for (id, attempts) in &due {
        record_failure(&tx, *id, *attempts, now, error)?;
    }
    tx.commit()?;
    Ok(due.len())
}

pub(super) fn count_pending(conn: &Connection) -> rusqlite::Result<usize> {
    let n: i64 = conn.query_row("SELECT count(*) FROM notices WHERE sent_at IS NULL", [], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// The notices not yet sent, oldest first: id, recipient, subject and attempts so far (for operators).
pub fn pending(db: &Db) -> anyhow::Result<Vec<(i64, String, String, u32)>> {
    Ok(db.with(|c| {
        let mut stmt = c.prepare(
            "SELECT id, recipient, subject, attempts FROM notices WHERE sent_at IS NULL ORDER BY created_at, id",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect()
    })?)
}
