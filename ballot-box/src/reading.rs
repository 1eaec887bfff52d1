//! What the box holds, read: whether a ciphertext was received, the counts per contest, every row of an election
//! (the zero-vote check), a contest's ciphertexts in tracker order, and the unopened batches for the export.

use std::collections::{HashMap, HashSet};

use rusqlite::OptionalExtension;

use crate::sealing::BatchId;
use crate::{BallotBox, BoxError, ContestCount, UnopenedBatch, tracker};

impl BallotBox {
    /// Whether this ciphertext was received already: in the box, or waiting in a batch of this process. (An
    /// unopened batch cannot be looked into; the counting tool reports a copy found there.)
    pub fn holds(&self, ciphertext: &[u8]) -> Result<bool, BoxError> {
        let t = tracker(ciphertext);
        let (live, conn) = self.locks()?;
        if live.trackers.contains(&t) {
            return Ok(true);
        }
        let found: Option<i64> = conn
            .prepare_cached("SELECT 1 FROM ballots WHERE tracker = ?1")?
            .query_row([t.as_slice()], |r| r.get(0))
            .optional()?;
        Ok(found.is_some())
    }

    /// How many ballots of each contest of the election the box holds (in the box, waiting, unopened), by contest.
    pub fn counts(&self, election: &str) -> Result<Vec<ContestCount>, BoxError> {
        let (live, conn) = self.locks()?;
        let mut counts: HashMap<String, ContestCount> = HashMap::new();
        let mut stmt = conn.prepare("SELECT contest_id, count(*) FROM ballots WHERE election_id = ?1 GROUP BY 1")?;
        for row in stmt.query_map([election], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (c, n) = row?;
            counts.entry(c.clone()).or_insert_with(|| ContestCount { contest: c, ..Default::default() }).in_box =
                n as u64;
        }
        let mut stmt = conn.prepare(
            "SELECT b.contest_id, b.id, count(*) FROM pool p JOIN batches b ON p.batch = b.id
             WHERE b.election_id = ?1 GROUP BY 1, 2",
        )?;
        let held: HashSet<BatchId> = live.batches.values().flatten().map(|b| b.id).collect();
        for row in
            stmt.query_map([election], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, i64>(2)?)))?
        {
            let (c, id, n) = row?;
            let entry = counts.entry(c.clone()).or_insert_with(|| ContestCount { contest: c, ..Default::default() });
            let is_held = <BatchId>::try_from(id.as_slice()).is_ok_and(|id| held.contains(&id));
            if is_held {
                entry.waiting += n as u64;
            } else {
                entry.unopened += n as u64;
            }
        }
        let mut out: Vec<ContestCount> = counts.into_values().collect();
        out.sort_by(|a, b| a.contest.cmp(&b.contest));
        Ok(out)
    }

    /// Rows of any kind the election has in the file: ballots, batches, pool entries (the zero-vote check,
    /// R-SYS-3).
    pub fn rows(&self, election: &str) -> Result<u64, BoxError> {
        let conn = self.conn()?;
        let n: i64 = conn.query_row(
            "SELECT (SELECT count(*) FROM ballots WHERE election_id = ?1)
                  + (SELECT count(*) FROM batches WHERE election_id = ?1)
                  + (SELECT count(*) FROM pool p JOIN batches b ON p.batch = b.id WHERE b.election_id = ?1)",
            [election],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// The ciphertexts of a contest in the box, in tracker order (hash order, never casting order).
    pub fn ciphertexts(&self, election: &str, contest: &str) -> Result<Vec<Vec<u8>>, BoxError> {
        let conn = self.conn()?;
        let mut stmt =
            conn.prepare("SELECT ciphertext FROM ballots WHERE election_id = ?1 AND contest_id = ?2 ORDER BY tracker")?;
        let rows = stmt.query_map([election, contest], |r| r.get(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The contest's batches that no running process holds the key of, for the export to the counting tool.
    pub fn unopened_batches(&self, election: &str, contest: &str) -> Result<Vec<UnopenedBatch>, BoxError> {
        let (live, conn) = self.locks()?;
        let held: HashSet<BatchId> = live.batches.values().flatten().map(|b| b.id).collect();
        let mut stmt =
            conn.prepare("SELECT id, wrapped_key FROM batches WHERE election_id = ?1 AND contest_id = ?2 ORDER BY id")?;
        let batches = stmt
            .query_map([election, contest], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::new();
        for (id, wrapped_key) in batches {
            let Ok(id) = BatchId::try_from(id.as_slice()) else { continue };
            if held.contains(&id) {
                continue;
            }
            let mut stmt = conn.prepare_cached("SELECT sealed FROM pool WHERE batch = ?1 ORDER BY id")?;
            let entries = stmt.query_map([id.as_slice()], |r| r.get(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
            out.push(UnopenedBatch { id, wrapped_key, entries });
        }
        Ok(out)
    }
}
