//! The ballot box on PostgreSQL (issue 24): the same box as the SQLite file's, in the schema `ballot_box` of the
//! production voting store's database, written inside the caller's transaction so that a cast's voter mark and
//! its pool entry commit together, on the primary and its synchronous standby at once.
//!
//! The same rules as the file's (crate notes): a ballot waits in the pool sealed under its contest's current batch
//! key, which lives only in this process ([`PgBox`]); when the next batch of the contest is full too, the older one
//! enters `ballot_box.ballots` in ONE transaction, in random order, and its key is forgotten; batches whose keys
//! left with a process that stopped stay unopened for the counting tool. Two processes (two front-ends) each hold
//! their own batches. A ciphertext that two front-ends both hold in their pools (a copy re-signed by another
//! voter, sent to the other front-end) is detected when the second copy reaches the box: it is dropped there and
//! counted in `ballot_box.duplicates`, so that the box never holds one ciphertext twice.
//!
//! PostgreSQL keeps a table's rows in the order they were written (its heap) and ships every commit to the
//! standby whole. So, as in the file: a pool entry is sealed before it is written (the commit that holds a voter's
//! mark holds only a sealed entry beside it), and `ballots` receives a batch at a time in random order.
//!
//! What it must never do: hold or accept a person; write a ballot into `ballots` in the order it was cast; keep a
//! batch key on disk in clear.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

use postgres::{Client, GenericClient, Transaction};
use shared::crypto::ElectionPublicKey;

use crate::sealing::{self, BatchId, BatchKey};
use crate::{BATCH_RANGE, Ballot, BoxError, ContestCount, Live, LiveBatch, UnopenedBatch, random, shuffle, tracker};

/// The box's tables in the voting store's database (created if missing).
pub const SCHEMA: &str = "
CREATE SCHEMA IF NOT EXISTS ballot_box;
CREATE TABLE IF NOT EXISTS ballot_box.ballots (
    tracker bytea PRIMARY KEY CHECK (length(tracker) = 32),
    election_id text NOT NULL,
    contest_id text NOT NULL,
    ciphertext bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS ballot_box.batches (
    id bytea PRIMARY KEY CHECK (length(id) = 16),
    election_id text NOT NULL,
    contest_id text NOT NULL,
    wrapped_key bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS ballot_box.pool (
    batch bytea NOT NULL REFERENCES ballot_box.batches(id),
    id bytea NOT NULL CHECK (length(id) = 16),
    sealed bytea NOT NULL,
    PRIMARY KEY (batch, id)
);
CREATE TABLE IF NOT EXISTS ballot_box.duplicates (
    election_id text NOT NULL,
    contest_id text NOT NULL,
    dropped bigint NOT NULL,
    PRIMARY KEY (election_id, contest_id)
);
CREATE TABLE IF NOT EXISTS ballot_box.seals (election_id text PRIMARY KEY);
";

/// One front-end's side of the box on PostgreSQL: the batches it holds the keys of, in memory only.
pub struct PgBox {
    live: Mutex<Live>,
    batch: usize,
}

/// Ballots written into the pool by one transaction not yet known to have committed: one front-end's group of
/// casts (group commit), in the order the writer chose. [`PgBox::committed`] once the commit succeeded, or
/// [`PgBox::group_committed`] when its outcome is unknown (the connection died in the commit).
#[derive(Default)]
pub struct Group {
    entries: Vec<Entry>,
    opened: Vec<(String, String, LiveBatch)>,
    filling: HashMap<(String, String), (BatchId, BatchKey, usize)>,
    trackers: HashSet<[u8; 32]>,
}

struct Entry {
    election: String,
    contest: String,
    batch: BatchId,
    id: [u8; 16],
    ciphertext: Vec<u8>,
}

impl Group {
    /// How many ballots the group wrote.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the group wrote no ballot.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl PgBox {
    /// A box side holding nothing yet, with batch size `batch` (K).
    pub fn new(batch: usize) -> Result<PgBox, BoxError> {
        if !BATCH_RANGE.contains(&batch) {
            return Err(BoxError::BatchSize(batch));
        }
        Ok(PgBox { live: Mutex::default(), batch })
    }

    /// Creates the box's tables if missing.
    pub fn migrate(client: &mut impl GenericClient) -> Result<(), postgres::Error> {
        client.batch_execute(SCHEMA)
    }

    fn live(&self) -> Result<MutexGuard<'_, Live>, BoxError> {
        self.live.lock().map_err(|_| BoxError::Lock)
    }

    /// Refuses a ballot before anything of it is written: a ciphertext this side holds, the box has or the group
    /// holds already (`Duplicate`), or an election whose box was sealed.
    pub fn check(
        &self,
        tx: &mut Transaction<'_>,
        group: &Group,
        election: &str,
        ciphertext: &[u8],
    ) -> Result<(), PgBoxError> {
        let t = tracker(ciphertext);
        if group.trackers.contains(&t) || self.live()?.trackers.contains(&t) {
            return Err(PgBoxError::Duplicate);
        }
        if tx.query_opt("SELECT 1 FROM ballot_box.ballots WHERE tracker = $1", &[&t.as_slice()])?.is_some() {
            return Err(PgBoxError::Duplicate);
        }
        if tx.query_opt("SELECT 1 FROM ballot_box.seals WHERE election_id = $1", &[&election])?.is_some() {
            return Err(BoxError::Sealed(election.to_string()).into());
        }
        Ok(())
    }

    /// Writes one ballot ([`PgBox::check`]ed) into its contest's current batch in the pool, inside `tx`, as part
    /// of `group` (opening a batch, its key wrapped under `key`, when the current one is full). Nothing changes in
    /// memory until [`PgBox::committed`].
    pub fn receive_in(
        &self,
        tx: &mut Transaction<'_>,
        group: &mut Group,
        key: &ElectionPublicKey,
        election: &str,
        ballot: Ballot<'_>,
    ) -> Result<(), PgBoxError> {
        let k = (election.to_string(), ballot.contest.to_string());
        let current = match group.filling.get(&k) {
            Some((id, key, fill)) => Some((*id, key.clone(), *fill)),
            None => {
                self.live()?.batches.get(&k).and_then(VecDeque::back).map(|b| (b.id, b.key.clone(), b.entries.len()))
            }
        };
        let (batch, batch_key, fill) = match current {
            Some(c) if c.2 < self.batch => c,
            _ => {
                let id = random::<16>()?;
                let batch_key = sealing::new_key().map_err(|e| BoxError::Random(e.to_string()))?;
                let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
                let wrapped = shared::crypto::wrap_batch_key(&mut rng, key, election, ballot.contest, &id, &batch_key)
                    .map_err(|e| BoxError::Wrap(e.to_string()))?;
                tx.execute(
                    "INSERT INTO ballot_box.batches (id, election_id, contest_id, wrapped_key) VALUES ($1, $2, $3, $4)",
                    &[&id.as_slice(), &election, &ballot.contest, &wrapped],
                )?;
                let live = LiveBatch { id, key: batch_key.clone(), entries: Vec::new() };
                group.opened.push((k.0.clone(), k.1.clone(), live));
                (id, batch_key, 0)
            }
        };
        let sealed = sealing::seal_entry(&batch_key, election, ballot.contest, &batch, ballot.ciphertext)
            .map_err(|e| BoxError::Random(e.to_string()))?;
        let id = random::<16>()?;
        tx.execute(
            "INSERT INTO ballot_box.pool (batch, id, sealed) VALUES ($1, $2, $3)",
            &[&batch.as_slice(), &id.as_slice(), &sealed],
        )?;
        group.filling.insert(k.clone(), (batch, batch_key, fill + 1));
        group.trackers.insert(tracker(ballot.ciphertext));
        group.entries.push(Entry { election: k.0, contest: k.1, batch, id, ciphertext: ballot.ciphertext.to_vec() });
        Ok(())
    }

    /// The group's transaction committed: its entries (and the batches it opened) join what this side holds.
    pub fn committed(&self, group: Group) -> Result<(), BoxError> {
        let mut live = self.live()?;
        live.trackers.extend(group.trackers);
        for (election, contest, batch) in group.opened {
            live.batches.entry((election, contest)).or_default().push_back(batch);
        }
        for e in group.entries {
            let queue = live.batches.entry((e.election, e.contest)).or_default();
            match queue.iter_mut().rev().find(|b| b.id == e.batch) {
                Some(b) => b.entries.push(e.ciphertext),
                None => return Err(BoxError::Lock),
            }
        }
        Ok(())
    }

    /// Whether the pool holds the group's entries (one transaction: one entry answers for all): after a
    /// connection died in the commit, on the (possibly new) primary, this says whether the commit happened.
    pub fn group_committed(client: &mut impl GenericClient, group: &Group) -> Result<bool, postgres::Error> {
        let Some(e) = group.entries.first() else { return Ok(false) };
        Ok(client
            .query_opt(
                "SELECT 1 FROM ballot_box.pool WHERE batch = $1 AND id = $2",
                &[&e.batch.as_slice(), &e.id.as_slice()],
            )?
            .is_some())
    }

    /// Moves into the box every batch that is due (the oldest of a contest once the next one is full), each in
    /// ONE transaction in random order, then forgets its key. Returns how many ballots entered the box.
    pub fn flush_due(&self, client: &mut Client) -> Result<usize, PgBoxError> {
        let mut live = self.live()?;
        let mut moved = 0;
        let keys: Vec<(String, String)> = live.batches.keys().cloned().collect();
        for k in keys {
            while live.batches.get(&k).is_some_and(|q| q.len() >= 2 && q[1].entries.len() >= self.batch) {
                let Some(batch) = live.batches.get_mut(&k).and_then(VecDeque::pop_front) else { break };
                match move_into_box(client, &k.0, &k.1, std::slice::from_ref(&batch)) {
                    Ok(n) => {
                        moved += n;
                        batch.entries.iter().for_each(|ct| {
                            live.trackers.remove(&tracker(ct));
                        });
                    }
                    Err(e) => {
                        live.batches.entry(k).or_default().push_front(batch);
                        return Err(e);
                    }
                }
            }
        }
        Ok(moved)
    }

    /// Seals the election after the close: every batch this side holds enters the box (one transaction per
    /// contest, all its held ballots in random order), and the election is marked sealed. Batches of other
    /// front-ends are theirs to move; those of a front-end that stopped stay unopened.
    pub fn seal(&self, client: &mut Client, election: &str) -> Result<(), PgBoxError> {
        let mut live = self.live()?;
        let keys: Vec<(String, String)> = live.batches.keys().filter(|(e, _)| e == election).cloned().collect();
        for k in keys {
            let batches: Vec<LiveBatch> = live.batches.remove(&k).map(Vec::from).unwrap_or_default();
            if let Err(e) = move_into_box(client, &k.0, &k.1, &batches) {
                live.batches.insert(k, batches.into());
                return Err(e);
            }
            for ct in batches.iter().flat_map(|b| &b.entries) {
                live.trackers.remove(&tracker(ct));
            }
        }
        client
            .execute("INSERT INTO ballot_box.seals (election_id) VALUES ($1) ON CONFLICT DO NOTHING", &[&election])?;
        Ok(())
    }

    /// The counts per contest: in the box, waiting in batches this side holds, and in the pool's other batches
    /// (held by another front-end, or unopened).
    pub fn counts(&self, client: &mut impl GenericClient, election: &str) -> Result<Vec<ContestCount>, PgBoxError> {
        let mut by: HashMap<String, ContestCount> = HashMap::new();
        for row in client.query(
            "SELECT contest_id, count(*) FROM ballot_box.ballots WHERE election_id = $1 GROUP BY contest_id",
            &[&election],
        )? {
            let c: String = row.get(0);
            by.entry(c.clone()).or_insert_with(|| ContestCount { contest: c, ..ContestCount::default() }).in_box =
                row.get::<_, i64>(1) as u64;
        }
        let live = self.live()?;
        for row in client.query(
            "SELECT b.contest_id, b.id, count(p.id) FROM ballot_box.batches b JOIN ballot_box.pool p ON p.batch = b.id
             WHERE b.election_id = $1 GROUP BY b.contest_id, b.id",
            &[&election],
        )? {
            let c: String = row.get(0);
            let id: Vec<u8> = row.get(1);
            let n = row.get::<_, i64>(2) as u64;
            let mine = live
                .batches
                .get(&(election.to_string(), c.clone()))
                .is_some_and(|q| q.iter().any(|b| b.id[..] == id[..]));
            let count = by.entry(c.clone()).or_insert_with(|| ContestCount { contest: c, ..ContestCount::default() });
            if mine {
                count.waiting += n;
            } else {
                count.unopened += n;
            }
        }
        let mut counts: Vec<ContestCount> = by.into_values().collect();
        counts.sort_by(|a, b| a.contest.cmp(&b.contest));
        Ok(counts)
    }

    /// The ciphertexts of a contest in the box, in tracker order (hash order, never casting order).
    pub fn ciphertexts(
        client: &mut impl GenericClient,
        election: &str,
        contest: &str,
    ) -> Result<Vec<Vec<u8>>, postgres::Error> {
        let rows = client.query(
            "SELECT ciphertext FROM ballot_box.ballots WHERE election_id = $1 AND contest_id = $2 ORDER BY tracker",
            &[&election, &contest],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// The contest's batches whose keys this side does not hold (another front-end's that stopped, or every batch
    /// once this side has sealed), for the export to the counting tool. Call it after every front-end has sealed:
    /// a batch another running front-end holds would be exported unopened, and entered into the box by it too.
    pub fn unopened_batches(
        &self,
        client: &mut impl GenericClient,
        election: &str,
        contest: &str,
    ) -> Result<Vec<UnopenedBatch>, PgBoxError> {
        let held: HashSet<BatchId> = self.live()?.batches.values().flatten().map(|b| b.id).collect();
        let batches = client.query(
            "SELECT id, wrapped_key FROM ballot_box.batches WHERE election_id = $1 AND contest_id = $2 ORDER BY id",
            &[&election, &contest],
        )?;
        let mut out = Vec::new();
        for row in batches {
            let Ok(id) = BatchId::try_from(row.get::<_, &[u8]>(0)) else { continue };
            if held.contains(&id) {
                continue;
            }
            let entries = client
                .query("SELECT sealed FROM ballot_box.pool WHERE batch = $1 ORDER BY id", &[&id.as_slice()])?
                .iter()
                .map(|r| r.get(0))
                .collect();
            out.push(UnopenedBatch { id, wrapped_key: row.get(1), entries });
        }
        Ok(out)
    }

    /// Rows of any kind the box holds for an election (ballots, batches, pool entries): 0 before the opening.
    pub fn rows(client: &mut impl GenericClient, election: &str) -> Result<u64, postgres::Error> {
        let row = client.query_one(
            "SELECT (SELECT count(*) FROM ballot_box.ballots WHERE election_id = $1)
                  + (SELECT count(*) FROM ballot_box.batches WHERE election_id = $1)
                  + (SELECT count(*) FROM ballot_box.pool p JOIN ballot_box.batches b ON p.batch = b.id
                     WHERE b.election_id = $1)",
            &[&election],
        )?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    /// Whether the election's box was sealed (by any front-end).
    pub fn is_sealed(client: &mut impl GenericClient, election: &str) -> Result<bool, postgres::Error> {
        Ok(client.query_opt("SELECT 1 FROM ballot_box.seals WHERE election_id = $1", &[&election])?.is_some())
    }

    /// The trackers in the box of an election, in the table's key order (for checks after the seal).
    pub fn trackers(client: &mut impl GenericClient, election: &str) -> Result<Vec<[u8; 32]>, postgres::Error> {
        let rows = client
            .query("SELECT tracker FROM ballot_box.ballots WHERE election_id = $1 ORDER BY tracker", &[&election])?;
        Ok(rows.iter().filter_map(|r| <[u8; 32]>::try_from(r.get::<_, &[u8]>(0)).ok()).collect())
    }

    /// Copies dropped at the box per contest (see the module notes).
    pub fn duplicates(client: &mut impl GenericClient, election: &str) -> Result<Vec<(String, i64)>, postgres::Error> {
        let rows = client.query(
            "SELECT contest_id, dropped FROM ballot_box.duplicates WHERE election_id = $1 ORDER BY contest_id",
            &[&election],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

/// Why the box on PostgreSQL refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum PgBoxError {
    /// This ciphertext is held already.
    #[error("this ciphertext was received already")]
    Duplicate,
    /// The box's own refusals and failures.
    #[error(transparent)]
    Box(#[from] BoxError),
    /// The database failed or could not be reached: nothing of the operation was kept, or (in a commit) its
    /// outcome is unknown.
    #[error("voting store: {0}")]
    Db(#[from] postgres::Error),
}

/// Moves held batches of one contest into the box in ONE transaction, in random order; a ciphertext the box has
/// already (from another front-end's pool) is dropped and counted, and a batch moved by an earlier try (its commit
/// cut off, then found done) is skipped. Returns how many ballots entered.
fn move_into_box(
    client: &mut Client,
    election: &str,
    contest: &str,
    batches: &[LiveBatch],
) -> Result<usize, PgBoxError> {
    let mut tx = client.transaction()?;
    // A batch whose row is gone was moved already, by an earlier try whose commit was cut off (a failover): its
    // ballots are in the box, and are not copies.
    let mut pending = Vec::with_capacity(batches.len());
    for b in batches {
        if tx.query_opt("SELECT 1 FROM ballot_box.batches WHERE id = $1", &[&b.id.as_slice()])?.is_some() {
            pending.push(b);
        }
    }
    let mut ballots: Vec<&Vec<u8>> = pending.iter().flat_map(|b| &b.entries).collect();
    shuffle(&mut ballots)?;
    let mut entered = 0;
    for ct in &ballots {
        entered += tx.execute(
            "INSERT INTO ballot_box.ballots (tracker, election_id, contest_id, ciphertext) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tracker) DO NOTHING",
            &[&tracker(ct).as_slice(), &election, &contest, ct],
        )? as usize;
    }
    let dropped = (ballots.len() - entered) as i64;
    if dropped > 0 {
        tx.execute(
            "INSERT INTO ballot_box.duplicates (election_id, contest_id, dropped) VALUES ($1, $2, $3)
             ON CONFLICT (election_id, contest_id) DO UPDATE SET dropped = ballot_box.duplicates.dropped + $3",
            &[&election, &contest, &dropped],
        )?;
    }
    for b in pending {
        tx.execute("DELETE FROM ballot_box.pool WHERE batch = $1", &[&b.id.as_slice()])?;
        tx.execute("DELETE FROM ballot_box.batches WHERE id = $1", &[&b.id.as_slice()])?;
    }
    tx.commit()?;
    Ok(entered)
}
