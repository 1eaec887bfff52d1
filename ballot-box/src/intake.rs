//! The way in: a group of ballots received into the pool, due batches moved into the box, the seal after the
//! close, the group numbers of the two-store protocol, and the ballots of an earlier version imported.
//!
//! It must never write a ballot into the box in the order it was cast, or keep a batch key on disk in clear.

use std::collections::{HashMap, VecDeque};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use shared::crypto::ElectionPublicKey;

use crate::sealing::{self, BatchId};
use crate::{Ballot, BallotBox, BoxError, GroupId, LiveBatch, random, shuffle, tracker};

impl BallotBox {
    /// Whether the election's box was sealed.
    pub fn is_sealed(&self, election: &str) -> Result<bool, BoxError> {
        let conn = self.conn()?;
        sealed(&conn, election)
    }

    /// Receives a group of ballots in ONE transaction, durable when this returns: each sealed into its contest's
    /// current batch in the pool (opening a batch, with its key wrapped under `key`, when the current one is
    /// full), and the group's number recorded. `forget` are earlier groups the voter store has confirmed: their
    /// numbers are removed in the same transaction. Nothing is kept if it fails.
    pub fn receive(
        &self,
        key: &ElectionPublicKey,
        election: &str,
        group: GroupId,
        ballots: &[Ballot<'_>],
        forget: &[GroupId],
    ) -> Result<(), BoxError> {
        let (mut live, mut conn) = self.locks()?;
        if sealed(&conn, election)? {
            return Err(BoxError::Sealed(election.to_string()));
        }
        // Plan where each ballot goes, opening batches as needed; `live` changes only once the commit succeeded.
        let mut plans: HashMap<&str, ContestPlan> = HashMap::new();
        let mut rows: Vec<(BatchId, Vec<u8>)> = Vec::with_capacity(ballots.len());
        for b in ballots {
            let held = live.batches.get(&(election.to_string(), b.contest.to_string())).and_then(|q| q.back());
            let plan = plans.entry(b.contest).or_insert_with(|| ContestPlan {
                existing_fill: held.map(|last| last.entries.len()),
                ..ContestPlan::default()
            });
            let fill = match plan.opened.last() {
                Some((batch, _)) => batch.entries.len(),
                None => plan.existing_fill.map_or(self.batch, |f| f + plan.to_existing.len()),
            };
            if fill >= self.batch {
                let id = random::<16>()?;
                let batch_key = sealing::new_key().map_err(|e| BoxError::Random(e.to_string()))?;
                let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
                let wrapped = shared::crypto::wrap_batch_key(&mut rng, key, election, b.contest, &id, &batch_key)
                    .map_err(|e| BoxError::Wrap(e.to_string()))?;
                plan.opened.push((LiveBatch { id, key: batch_key, entries: Vec::new() }, wrapped));
            }
            let (id, batch_key) = match (plan.opened.last(), held) {
                (Some((batch, _)), _) => (batch.id, &batch.key),
                (None, Some(last)) => (last.id, &last.key),
                (None, None) => return Err(BoxError::Lock),
            };
            let sealed = sealing::seal_entry(batch_key, election, b.contest, &id, b.ciphertext)
                .map_err(|e| BoxError::Random(e.to_string()))?;
            rows.push((id, sealed));
            match plan.opened.last_mut() {
                Some((batch, _)) => batch.entries.push(b.ciphertext.to_vec()),
                None => plan.to_existing.push(b.ciphertext.to_vec()),
            }
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (contest, plan) in &plans {
            for (batch, wrapped) in &plan.opened {
                tx.prepare_cached(
                    "INSERT INTO batches (id, election_id, contest_id, wrapped_key) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![batch.id.as_slice(), election, contest, wrapped])?;
            }
        }
        for (batch, sealed) in &rows {
            let id = random::<16>()?;
            tx.prepare_cached("INSERT INTO pool (batch, id, sealed) VALUES (?1, ?2, ?3)")?.execute(params![
                batch.as_slice(),
                id.as_slice(),
                sealed
            ])?;
        }
        for g in forget {
            tx.prepare_cached("DELETE FROM groups WHERE id = ?1")?.execute([g.0])?;
        }
        tx.prepare_cached("INSERT INTO groups (id) VALUES (?1)")?.execute([group.0])?;
        tx.commit()?;
        // Committed: the new entries and batches join what this process holds.
        for b in ballots {
            live.trackers.insert(tracker(b.ciphertext));
        }
        for (contest, plan) in plans {
            let queue = live.batches.entry((election.to_string(), contest.to_string())).or_default();
            if let Some(last) = queue.back_mut() {
                last.entries.extend(plan.to_existing);
            }
            queue.extend(plan.opened.into_iter().map(|(batch, _)| batch));
        }
        Ok(())
    }

    /// Moves into the box every batch that is due: the oldest batch of a contest once the next one is full too.
    /// Each batch is one transaction, its ballots in random order; then its key is forgotten. Returns how many
    /// ballots entered the box.
    pub fn flush_due(&self) -> Result<usize, BoxError> {
        let (mut live, mut conn) = self.locks()?;
        let mut moved = 0;
        let keys: Vec<(String, String)> = live.batches.keys().cloned().collect();
        for k in keys {
            loop {
                let due = live.batches.get(&k).is_some_and(|q| q.len() >= 2 && q[1].entries.len() >= self.batch);
                if !due {
                    break;
                }
                let Some(batch) = live.batches.get_mut(&k).and_then(VecDeque::pop_front) else { break };
                match move_into_box(&mut conn, &k.0, &k.1, std::slice::from_ref(&batch)) {
                    Ok(n) => {
                        moved += n;
                        for ct in &batch.entries {
                            live.trackers.remove(&tracker(ct));
                        }
                    }
                    Err(e) => {
                        // Not moved: the batch stays held, to be tried again.
                        if let Some(q) = live.batches.get_mut(&k) {
                            q.push_front(batch);
                        }
                        return Err(e);
                    }
                }
            }
        }
        Ok(moved)
    }

    /// Seals the election's box after the close (R-VOTE-8): every batch this process holds enters the box, one
    /// transaction per contest with all its held ballots in random order (the last two batches together, so that
    /// no crowd is smaller than K); the election is marked sealed (no more ballots); then the file is rebuilt in
    /// key order (`VACUUM`) and its write-ahead log emptied, so that no page keeps an order of arrival. Batches of
    /// earlier processes stay unopened. Sealing again rebuilds again.
    pub fn seal(&self, election: &str) -> Result<(), BoxError> {
        let (mut live, mut conn) = self.locks()?;
        let keys: Vec<(String, String)> = live.batches.keys().filter(|(e, _)| e == election).cloned().collect();
        for k in keys {
            let batches: Vec<LiveBatch> = live.batches.remove(&k).map(Vec::from).unwrap_or_default();
            if let Err(e) = move_into_box(&mut conn, &k.0, &k.1, &batches) {
                live.batches.insert(k, batches.into());
                return Err(e);
            }
            for ct in batches.iter().flat_map(|b| &b.entries) {
                live.trackers.remove(&tracker(ct));
            }
        }
        conn.execute("INSERT INTO seals (election_id) VALUES (?1) ON CONFLICT DO NOTHING", [election])?;
        conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }

    /// The group numbers this file committed and has not been told to forget (read at start, for recovery).
    pub fn committed_groups(&self) -> Result<Vec<GroupId>, BoxError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare("SELECT id FROM groups")?;
        let ids = stmt.query_map([], |r| r.get(0).map(GroupId))?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(ids)
    }

    /// Forgets group numbers in one transaction.
    pub fn forget_groups(&self, groups: &[GroupId]) -> Result<(), BoxError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        for g in groups {
            tx.execute("DELETE FROM groups WHERE id = ?1", [g.0])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Puts ballots stored by an earlier version of the verifier (in its own database) into the box, in random
    /// order; a ballot already there is skipped, so the move can be repeated after a crash. Returns how many
    /// were new.
    pub fn import_earlier(&self, election: &str, ballots: &mut [(String, Vec<u8>)]) -> Result<usize, BoxError> {
        shuffle(ballots)?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut n = 0;
        for (contest, ct) in ballots.iter() {
            n += tx
                .prepare_cached(
                    "INSERT INTO ballots (tracker, election_id, contest_id, ciphertext) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![tracker(ct).as_slice(), election, contest, ct])?;
        }
        tx.commit()?;
        Ok(n)
    }
}

#[derive(Default)]
struct ContestPlan {
    /// Entries in the contest's current held batch, if there is one.
    existing_fill: Option<usize>,
    /// Ciphertexts going into that batch.
    to_existing: Vec<Vec<u8>>,
    /// Batches opened by this group, with their wrapped keys.
    opened: Vec<(LiveBatch, Vec<u8>)>,
}

/// Moves held batches of one contest into the box in ONE transaction, all their ballots in random order, and
/// removes their pool entries and wrapped keys. Returns how many ballots.
fn move_into_box(
    conn: &mut Connection,
    election: &str,
    contest: &str,
    batches: &[LiveBatch],
) -> Result<usize, BoxError> {
    let mut ballots: Vec<&Vec<u8>> = batches.iter().flat_map(|b| &b.entries).collect();
    shuffle(&mut ballots)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for ct in &ballots {
        tx.prepare_cached(
            "INSERT INTO ballots (tracker, election_id, contest_id, ciphertext) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![tracker(ct).as_slice(), election, contest, ct])?;
    }
    for b in batches {
        tx.prepare_cached("DELETE FROM pool WHERE batch = ?1")?.execute([b.id.as_slice()])?;
        tx.prepare_cached("DELETE FROM batches WHERE id = ?1")?.execute([b.id.as_slice()])?;
    }
    tx.commit()?;
    Ok(ballots.len())
}

fn sealed(conn: &Connection, election: &str) -> Result<bool, BoxError> {
    let found: Option<i64> = conn
        .prepare_cached("SELECT 1 FROM seals WHERE election_id = ?1")?
        .query_row([election], |r| r.get(0))
        .optional()?;
    Ok(found.is_some())
}
