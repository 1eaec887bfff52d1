//! `verifier backup`: a consistent copy of the voter store and its ballot box while the verifier runs.

use std::path::Path;

use ballot_box::BallotBox;
use rusqlite::Connection;

use super::{Db, ballot_box_path};

impl Db {
    /// Copies the voter store at `source` and its ballot box to `target` and its ballot-box path while the
    /// verifier keeps running: each store into its own file (SQLite's backup API from a connection of its own, all
    /// pages in one step), the pair consistent, each copy checked. The box's waiting batches are unopened in the
    /// copy: their keys never leave the running process.
    pub fn backup(source: &Path, target: &Path) -> anyhow::Result<()> {
        for to in [target.to_path_buf(), ballot_box_path(target)] {
            anyhow::ensure!(!to.exists(), "{} exists already; back up into a new file", to.display());
        }
        // While the copies are taken, no cast can write a mark (nor confirm one): this connection holds the voter
        // store's write lock. The box is copied first: every group it has committed then has its marks in the
        // voter store's copy, pending or confirmed, and a mark pending on a group the box's copy lacks is removed
        // when the copy is opened (recovery), as after a crash. Casts wait meanwhile (a second or so).
        let hold = Connection::open(source)?;
        hold.busy_timeout(std::time::Duration::from_secs(30))?;
        hold.execute_batch("BEGIN IMMEDIATE")?;
        if ballot_box_path(source).exists() {
            BallotBox::backup(&ballot_box_path(source), &ballot_box_path(target))?;
        }
        let src = Connection::open_with_flags(source, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        src.busy_timeout(std::time::Duration::from_secs(30))?;
        let mut dst = Connection::open(target)?;
        rusqlite::backup::Backup::new(&src, &mut dst)?.run_to_completion(i32::MAX, std::time::Duration::ZERO, None)?;
        hold.execute_batch("ROLLBACK")?;
        let ok: String = dst.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        anyhow::ensure!(ok == "ok", "the copy fails the integrity check: {ok}");
        Ok(())
    }
}
