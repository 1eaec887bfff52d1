//! `ballot-box`: the ballot store of the voting subsystem (the seed's 投票サブシステム, R-VOTE-8). It takes
//! `(election, contest, ciphertext)` and nothing else, keeps them in SQLite files of its own, and hands them to the
//! export after the close.
//!
//! Map:
//! - [`schema`]: its one schema (`ballots`, `batches`, `pool`, `groups`, `seals`).
//! - [`sealing`]: how a ballot waits in the pool, sealed under its batch's key.
//! - [`pg`]: the same box on PostgreSQL, the production voting store (issue 24), written inside the caller's
//!   transaction.
//! - [`BallotBox`]: open or back up a box; its `intake` receives a group of ballots, moves due batches into the box
//!   and seals after the close; its `reading` reads what it holds.
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

mod intake;
pub mod pg;
mod reading;
pub mod schema;
pub mod sealing;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;
use sealing::{BatchId, BatchKey};

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
}

#[cfg(test)]
mod tests;
