//! `ballot-box`: the ballot store of the voting subsystem (the seed's 投票サブシステム, R-VOTE-8). It takes
//! `(election, contest, ciphertext)` and nothing else, keeps them in SQLite files of its own, and hands them to the
//! export after the close.
//!
//! Map:
//! - [`schema`]: its one schema (`ballots`, `batches`, `pool`, `groups`, `seals`).
//! - [`sealing`]: how a ballot waits in the pool, sealed under its batch's key.
//! - [`BallotBox`]: receive a group of ballots, move due batches into the box, seal after the close, read.
//!
//! **Unlinkable at rest.** A ballot is not written into the box when it is cast. It waits in the *pool*, sealed
//! under the key of its contest's current *batch*, a key that lives in this process's memory (and, wrapped under
//! the election public key, beside the batch, for the counting tool). A batch takes at least K ballots
//! ([`BallotBox::batch_size`], 64 by default); when the next batch of the contest is full too, the older one
//! enters the box in one transaction, in random order, and its key is forgotten. At the close every batch still
//! held enters the box in one transaction per contest (the last two together, so that no crowd is smaller than
//! K), and the file is rebuilt in tracker order ([`BallotBox::seal`]). Whoever copies these files, at any moment
//! or many times, sees ballots appear only in crowds of at least K of a contest, in an order that says nothing;
//! after the seal, in no order at all.
//!
//! **Nothing is lost.** A pool entry is durable before the voter's receipt. If the process stops, the keys of
//! its batches are gone: those batches stay *unopened* in the file, go with the export, and the counting tool
//! unwraps their keys in the HSM and counts them ([`BallotBox::unopened_batches`]).
//!
//! What it must never do: hold or accept a person, a card, a session, an address or a time; write a ballot into
//! the box in the order it was cast; keep a batch key on disk in clear; decrypt a ballot.

pub mod schema;
pub mod sealing;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sealing::{BatchId, BatchKey};
use shared::crypto::ElectionPublicKey;

/// The smallest crowd by default: a batch takes at least this many ballots of one contest.
pub const DEFAULT_BATCH: usize = 64;
/// The batch sizes accepted.
pub const BATCH_RANGE: std::ops::RangeInclusive<usize> = 8..=4096;

/// A cast group's number in the two-store protocol (random; never a person).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub i64);

impl GroupId {
    /// A fresh random group number.
    pub fn random() -> Result<GroupId, BoxError> {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).map_err(|e| BoxError::Random(e.to_string()))?;
        Ok(GroupId(i64::from_be_bytes(b) & i64::MAX))
    }
}

/// One ballot as the box receives it.
#[derive(Clone, Copy, Debug)]
pub struct Ballot<'a> {
    /// The contest.
    pub contest: &'a str,
    /// The bare ciphertext (the signature was checked and dropped before).
    pub ciphertext: &'a [u8],
}

/// Why the box refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum BoxError {
    /// The file failed (disk full, I/O): nothing of the operation was kept.
    #[error("ballot box storage: {0}")]
    Storage(#[from] rusqlite::Error),
    /// The election's box was sealed after the close: it takes no more ballots.
    #[error("the ballot box of election {0} is sealed")]
    Sealed(String),
    /// No randomness for a key, an id or a shuffle.
    #[error("no randomness: {0}")]
    Random(String),
    /// A batch key could not be wrapped under the election key.
    #[error("wrapping a batch key: {0}")]
    Wrap(String),
    /// A lock was poisoned by a panic.
    #[error("the ballot box's lock is poisoned")]
    Lock,
    /// The batch size is outside [`BATCH_RANGE`].
    #[error("a ballot-box batch of {0} is outside {min}..={max}", min = BATCH_RANGE.start(), max = BATCH_RANGE.end())]
    BatchSize(usize),
}

/// How many ballots of a contest the box holds, and where.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContestCount {
    /// The contest.
    pub contest: String,
    /// In the box.
    pub in_box: u64,
    /// In the pool, in batches this process holds the keys of.
    pub waiting: u64,
    /// In the pool, in batches whose keys left with an earlier process: the counting tool opens them.
    pub unopened: u64,
}

impl ContestCount {
    /// Every ballot received.
    pub fn total(&self) -> u64 {
        self.in_box + self.waiting + self.unopened
    }
}

/// A batch the verifier could not move into the box, as the export carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnopenedBatch {
    /// The batch id.
    pub id: BatchId,
    /// Its key, wrapped under the election public key with [`shared::crypto::batch_key_label`].
    pub wrapped_key: Vec<u8>,
    /// Its sealed entries, in the order of their random ids.
    pub entries: Vec<Vec<u8>>,
}

impl UnopenedBatch {
    /// Opens the batch with its unwrapped key: each entry's ciphertext, `None` where an entry does not open.
    pub fn open(&self, key: &BatchKey, election: &str, contest: &str) -> Vec<Option<Vec<u8>>> {
        self.entries.iter().map(|e| sealing::open_entry(key, election, contest, &self.id, e)).collect()
    }
}

struct LiveBatch {
    id: BatchId,
    key: BatchKey,
    entries: Vec<Vec<u8>>,
}

/// What this process holds in memory: per (election, contest), its batches oldest first.
#[derive(Default)]
struct Live {
    batches: HashMap<(String, String), VecDeque<LiveBatch>>,
    trackers: HashSet<[u8; 32]>,
}

/// The ballot box. Its methods serialise on one connection; the verifier calls [`BallotBox::receive`] from its one
/// writer at a time.
pub struct BallotBox {
    conn: Mutex<Connection>,
    live: Mutex<Live>,
    batch: usize,
}

fn tracker(ciphertext: &[u8]) -> [u8; 32] {
    use ring::digest::{SHA256, digest};
    let mut t = [0u8; 32];
    t.copy_from_slice(digest(&SHA256, ciphertext).as_ref());
    t
}

fn random<const N: usize>() -> Result<[u8; N], BoxError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| BoxError::Random(e.to_string()))?;
    Ok(b)
}

/// Puts items in a uniformly random order (Fisher–Yates with the system's randomness).
pub fn shuffle<T>(items: &mut [T]) -> Result<(), BoxError> {
    for i in (1..items.len()).rev() {
        let r = u64::from_be_bytes(random::<8>()?);
        // Modulo bias below 2^-50 for any batch this box takes.
        items.swap(i, (r % (i as u64 + 1)) as usize);
    }
    Ok(())
}

impl BallotBox {
    /// Opens (creating if needed) the box's file with its settings. Batches found in the pool belong to an earlier
    /// process and stay unopened.
    pub fn open(path: &Path, batch: usize) -> Result<BallotBox, BoxError> {
        BallotBox::setup(Connection::open(path)?, batch)
    }

    /// A private in-memory box (the embedded demo and unit tests).
    pub fn open_in_memory(batch: usize) -> Result<BallotBox, BoxError> {
        BallotBox::setup(Connection::open_in_memory()?, batch)
    }

    fn setup(conn: Connection, batch: usize) -> Result<BallotBox, BoxError> {
        if !BATCH_RANGE.contains(&batch) {
            return Err(BoxError::BatchSize(batch));
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // A deleted pool entry or batch key is overwritten with zeros, not left in a free page.
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrate(&conn)?;
        Ok(BallotBox { conn: Mutex::new(conn), live: Mutex::default(), batch })
    }

    /// Copies the box's file at `source` to `target` (SQLite's online backup API, one consistent snapshot) and
    /// checks the copy. The copy's batches are unopened: their keys never leave the running process.
    pub fn backup(source: &Path, target: &Path) -> Result<(), BoxError> {
        let src = Connection::open_with_flags(source, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        src.busy_timeout(std::time::Duration::from_secs(30))?;
        let mut dst = Connection::open(target)?;
        rusqlite::backup::Backup::new(&src, &mut dst)?.run_to_completion(i32::MAX, std::time::Duration::ZERO, None)?;
        let ok: String = dst.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if ok != "ok" {
            return Err(BoxError::Storage(rusqlite::Error::InvalidParameterName(format!(
                "the copy fails the integrity check: {ok}"
            ))));
        }
        Ok(())
    }

    /// Lets the file grow by `pages` pages at most from now on, as a full file system would (tests of a full disk).
    pub fn limit_growth_for_tests(&self, pages: i64) -> Result<(), BoxError> {
        let conn = self.conn()?;
        let now: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        conn.pragma_update(None, "max_page_count", now + pages)?;
        Ok(())
    }

    /// The batch size K: the smallest crowd a ballot enters the box in.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    fn locks(&self) -> Result<(MutexGuard<'_, Live>, MutexGuard<'_, Connection>), BoxError> {
        let live = self.live.lock().map_err(|_| BoxError::Lock)?;
        let conn = self.conn.lock().map_err(|_| BoxError::Lock)?;
        Ok((live, conn))
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, BoxError> {
        self.conn.lock().map_err(|_| BoxError::Lock)
    }

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

#[cfg(test)]
mod tests;
