//! The storage limit: single-row durable commits per second with the verifier's settings (WAL,
//! `synchronous = FULL`), each its own `BEGIN IMMEDIATE … COMMIT` as a cast is.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior, params};

/// Commits single-row transactions into a new database file for `duration`; returns commits per second.
pub fn commits_per_second(path: &Path, duration: Duration) -> anyhow::Result<f64> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch("CREATE TABLE t (id BLOB PRIMARY KEY, ciphertext BLOB NOT NULL) WITHOUT ROWID")?;
    let payload = vec![0x5au8; 256];
    let start = Instant::now();
    let mut n: u64 = 0;
    while start.elapsed() < duration {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("INSERT INTO t (id, ciphertext) VALUES (?1, ?2)", params![n.to_be_bytes().to_vec(), payload])?;
        tx.commit()?;
        n += 1;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}
