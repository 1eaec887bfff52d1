//! The ballot box's one schema, versioned with SQLite's `user_version`.
//!
//! - `ballots`: the box. Keyed by the tracker (SHA-256 of the ciphertext), so the b-tree's order is the hash's,
//!   never the order of casting, and a second copy of one ciphertext cannot enter. No time, no rowid.
//! - `batches` and `pool`: ballots received and receipted but not yet in the box, each sealed under its batch's
//!   key (see [`crate::sealing`]); the batch row holds that key wrapped under the election public key.
//! - `groups`: the cast groups this file has committed, until the voter store has confirmed their marks (the
//!   two-store protocol of the verifier's `db` module). A group is a number, never a person.
//! - `seals`: elections whose box was sealed after the close.

use rusqlite::Connection;

/// The schema version this build writes.
pub const VERSION: i64 = 1;

/// Creates or upgrades the schema.
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < 1 {
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE ballots (
                 tracker BLOB PRIMARY KEY CHECK (length(tracker) = 32),
                 election_id TEXT NOT NULL,
                 contest_id TEXT NOT NULL,
                 ciphertext BLOB NOT NULL
             ) WITHOUT ROWID;
             CREATE TABLE batches (
                 id BLOB PRIMARY KEY CHECK (length(id) = 16),
                 election_id TEXT NOT NULL,
                 contest_id TEXT NOT NULL,
                 wrapped_key BLOB NOT NULL
             ) WITHOUT ROWID;
             CREATE TABLE pool (
                 batch BLOB NOT NULL REFERENCES batches(id),
                 id BLOB NOT NULL CHECK (length(id) = 16),
                 sealed BLOB NOT NULL,
                 PRIMARY KEY (batch, id)
             ) WITHOUT ROWID;
             CREATE TABLE groups (id INTEGER PRIMARY KEY);
             CREATE TABLE seals (election_id TEXT PRIMARY KEY) WITHOUT ROWID;
             PRAGMA user_version = 1;
             COMMIT;",
        )?;
    }
    Ok(())
}
