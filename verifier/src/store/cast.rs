//! One cast, two stores: the protocol that records a cast in the voter store and in the ballot box (R-VOTE-8,
//! R-VOTE-9, no receipted ballot lost), and its recovery when the store opens.
//!
//! **One cast, two stores (R-VOTE-9, no receipted ballot lost).** Casts are group-committed: each caller queues
//! its cast; whoever finds the writer free takes every queued cast as one *group* under a fresh random group
//! number `g` (the others wait on a condition variable until a group answers them), and:
//! 1. refuses a ciphertext the box already holds, or that the group holds twice (`Duplicate`);
//! 2. in ONE voter-store transaction, marks each voter in the contest with `pending_group = g`
//!    (`INSERT … ON CONFLICT DO NOTHING` decides each cast on its own: `AlreadyVoted`);
//! 3. in ONE ballot-box transaction, puts the marked ballots in the pool and records `g` as committed;
//! 4. answers each caller: its receipt is given only now. The mark's `pending_group` is cleared in the next
//!    group's voter transaction, and `g` is forgotten in the box's transaction after that.
//!
//! Recovery, when the store opens: a mark still pending on `g` is kept (its pending cleared) if the box
//! committed `g`, and removed if it did not (the cast was never receipted, and the voter may vote again); then the
//! box forgets every `g`. A crash at any point between the steps leaves marks equal to ballots, per contest:
//! `verifier/tests/cast_protocol.rs` stops a real process at each [`Step`] and checks it.
//! If step 3 fails (a full disk), the group's marks are removed at once, or at the next group if that fails too.
//!
//! The mark's audit entry of earlier versions (`vote_marked`, a voter and a time beside the ballot's commit) is
//! gone: it was a join between the two. Group commit also makes the protocol fast: two fsyncs per group, however
//! many casts it holds. The lookups before a cast use reader connections beside the writer (WAL).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use ballot_box::{Ballot, BoxError, GroupId};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sha2::Digest;
use shared::crypto::ElectionPublicKey;

use super::{Db, lock_error};

/// Why a cast was not stored.
#[derive(Debug, thiserror::Error)]
pub enum CastError {
    /// The voter is already marked in this contest.
    #[error("already voted in this contest")]
    AlreadyVoted,
    /// This exact ciphertext was received already (someone re-signed another voter's ballot).
    #[error("this ciphertext was received already")]
    Duplicate,
    /// The election's ballot box was sealed at the close.
    #[error("the ballot box is sealed")]
    Sealed,
    /// The person declared an emergency paper vote in this election (R-VOTE-11), decided in the same transaction
    /// as the mark.
    #[error("an emergency paper vote was declared")]
    EmergencyPaperVote,
    /// The database failed (disk full, I/O): nothing was written.
    #[error("storage failure: {0}")]
    Storage(#[from] rusqlite::Error),
    /// The voting store on PostgreSQL could not be reached within [`crate::store::pg::RECONNECT_FOR`], or failed:
    /// nothing was recorded (a commit cut off was asked about first).
    #[error("voting store unavailable: {0}")]
    Unavailable(String),
}

impl From<BoxError> for CastError {
    fn from(e: BoxError) -> CastError {
        match e {
            BoxError::Storage(e) => CastError::Storage(e),
            BoxError::Sealed(_) => CastError::Sealed,
            e => CastError::Storage(rusqlite::Error::InvalidParameterName(e.to_string())),
        }
    }
}

/// The steps of the two-store cast protocol (see the module notes), where a test may stop the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The group's marks are committed in the voter store (pending); the box has nothing of it yet.
    MarksWritten,
    /// The box committed the group's ballots; no receipt has been given.
    BallotsWritten,
    /// The receipts were given (the callers have their outcome).
    Answered,
    /// A due batch entered the box.
    BatchMoved,
    /// Recovery resolved the pending marks; the box has not forgotten the group numbers yet.
    MarksResolved,
}

/// Fault injection for tests: called at each [`Step`]; a test's hook may end the process there. Production has
/// none.
#[derive(Clone, Default)]
pub struct Faults(Option<Arc<dyn Fn(Step) + Send + Sync>>);

impl Faults {
    /// A hook called at every step.
    pub fn new(hook: impl Fn(Step) + Send + Sync + 'static) -> Faults {
        Faults(Some(Arc::new(hook)))
    }

    fn at(&self, step: Step) {
        if let Some(hook) = &self.0 {
            hook(step);
        }
    }
}

/// Group numbers between the protocol's steps.
#[derive(Default)]
pub(super) struct Protocol {
    /// Committed in the box; their marks are still pending.
    pub(super) confirmed: Vec<GroupId>,
    /// Their marks are cleared; the box still lists them.
    pub(super) to_forget: Vec<GroupId>,
    /// The box refused them; their pending marks must go.
    pub(super) failed: Vec<GroupId>,
}

/// At most this many casts share one group.
pub(super) const MAX_BATCH: usize = 256;

/// How long a waiting cast sleeps before it looks at the writer again when nothing wakes it first: a writer wakes
/// each cast it answers, and the first of those still waiting when it is done; this is only for the writer's other
/// users (operator commands, the seal), which wake nobody.
const WAIT: std::time::Duration = std::time::Duration::from_millis(10);

/// One cast waiting for the writer, and its outcome once written.
pub(super) struct QueuedCast {
    person_id: String,
    election_id: String,
    contest_id: String,
    ciphertext: Vec<u8>,
    state: Mutex<Waiting>,
    wake: std::sync::Condvar,
}

/// What a waiting cast is woken for: its outcome, or its turn to take the writer.
#[derive(Default)]
struct Waiting {
    outcome: Option<Result<(), CastError>>,
    turn: bool,
}

impl QueuedCast {
    fn answered(&self) -> Result<bool, rusqlite::Error> {
        Ok(self.state.lock().map_err(|_| lock_error())?.outcome.is_some())
    }

    /// Sleeps until this cast is answered or given the turn, or `WAIT` passes.
    fn sleep(&self) -> Result<(), rusqlite::Error> {
        let mut w = self.state.lock().map_err(|_| lock_error())?;
        if w.outcome.is_none() && !w.turn {
            w = self.wake.wait_timeout(w, WAIT).map_err(|_| lock_error())?.0;
        }
        w.turn = false;
        Ok(())
    }

    /// Wakes this cast to take the writer.
    fn give_turn(&self) {
        if let Ok(mut w) = self.state.lock() {
            w.turn = true;
            self.wake.notify_one();
        }
    }
}

impl Db {
    /// Recovery of the two-store protocol (module notes): pending marks are kept if the box committed their
    /// group, removed if not; then the box forgets the groups.
    pub(super) fn recover(&self) -> anyhow::Result<()> {
        let committed: HashSet<GroupId> = self.ballot_box.committed_groups()?.into_iter().collect();
        let (kept, removed) = self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let pending: Vec<i64> = tx
                .prepare("SELECT DISTINCT pending_group FROM voted WHERE pending_group IS NOT NULL")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let (mut kept, mut removed) = (0, 0);
            for g in pending {
                if committed.contains(&GroupId(g)) {
                    kept += tx.execute("UPDATE voted SET pending_group = NULL WHERE pending_group = ?1", [g])?;
                } else {
                    removed += tx.execute("DELETE FROM voted WHERE pending_group = ?1", [g])?;
                }
            }
            tx.commit()?;
            Ok((kept, removed))
        })?;
        if kept + removed > 0 {
            tracing::warn!(
                kept,
                removed,
                "recovered an interrupted cast: marks of committed groups kept, others removed"
            );
        }
        self.faults.at(Step::MarksResolved);
        let committed: Vec<GroupId> = committed.into_iter().collect();
        self.ballot_box.forget_groups(&committed)?;
        Ok(())
    }

    /// Seals the election's ballot box after the close (see `ballot_box::BallotBox::seal`); no cast is accepted
    /// for it afterwards. Takes the writer, so no group is between its steps. Then rebuilds the voter store in key
    /// order. Write the research tasks still waiting first (`research::flush`).
    pub fn seal(&self, election_id: &str) -> anyhow::Result<()> {
        if let Some(pg) = &self.pg {
            return pg.seal(election_id);
        }
        let mut conn = self.conn.lock().map_err(|_| lock_error())?;
        // The last groups' marks stop being pending, and the box forgets their numbers.
        let mut protocol = self.protocol.lock().map_err(|_| lock_error())?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for f in &protocol.failed {
            tx.execute("DELETE FROM voted WHERE pending_group = ?1", [f.0])?;
        }
        for c in &protocol.confirmed {
            tx.execute("UPDATE voted SET pending_group = NULL WHERE pending_group = ?1", [c.0])?;
        }
        tx.commit()?;
        protocol.failed.clear();
        let confirmed = std::mem::take(&mut protocol.confirmed);
        protocol.to_forget.extend(confirmed);
        self.ballot_box.forget_groups(&protocol.to_forget)?;
        protocol.to_forget.clear();
        self.ballot_box.seal(election_id)?;
        // The voter store is rebuilt in key order too, and its log emptied: the marks' pages and the research
        // rows' pages then keep no order of arrival either.
        conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }

    /// Records a cast (R-VOTE-8, R-VOTE-9): marks the person as having voted in the contest and puts the bare
    /// ciphertext in the ballot box, by the two-store protocol of the module notes, with whatever other casts are
    /// waiting (group commit; each decided on its own). Returns the tracker once both stores have it.
    pub fn cast(
        &self,
        person_id: &str,
        election_id: &str,
        contest_id: &str,
        ciphertext: &[u8],
    ) -> Result<String, CastError> {
        if let Some(pg) = &self.pg {
            let municipality: Option<String> = self.read(|c| {
                c.prepare_cached("SELECT municipality FROM voters WHERE person_id = ?1")?
                    .query_row([person_id], |r| r.get(0))
                    .optional()
            })?;
            return pg.cast(person_id, municipality.as_deref(), election_id, contest_id, ciphertext);
        }
        let queued = Arc::new(QueuedCast {
            person_id: person_id.to_owned(),
            election_id: election_id.to_owned(),
            contest_id: contest_id.to_owned(),
            ciphertext: ciphertext.to_vec(),
            state: Mutex::new(Waiting::default()),
            wake: std::sync::Condvar::new(),
        });
        // Whoever finds the writer free writes every waiting cast as one group; the others sleep until a writer
        // answers them, or hands them the writer when it is done and they are first in line. Each wakes alone:
        // waking every waiter for every group cost more than the writes (issue 16's bench).
        let mut queue = self.casts.lock().map_err(|_| lock_error())?;
        queue.push(Arc::clone(&queued));
        loop {
            if queued.answered()? {
                break;
            }
            match self.conn.try_lock() {
                Ok(mut conn) => {
                    let take = queue.len().min(MAX_BATCH);
                    let batch: Vec<Arc<QueuedCast>> = queue.drain(..take).collect();
                    drop(queue);
                    // One election per group: its key wraps the box's batch keys.
                    let mut elections: Vec<&str> = batch.iter().map(|q| q.election_id.as_str()).collect();
                    elections.sort_unstable();
                    elections.dedup();
                    for e in elections {
                        let group: Vec<Arc<QueuedCast>> =
                            batch.iter().filter(|q| q.election_id == e).cloned().collect();
                        self.write_group(&mut conn, e, &group);
                    }
                    drop(conn);
                    queue = self.casts.lock().map_err(|_| lock_error())?;
                    if let Some(next) = queue.first() {
                        next.give_turn();
                    }
                }
                Err(std::sync::TryLockError::WouldBlock) => {
                    // Another writer, or another use of the store.
                    drop(queue);
                    queued.sleep()?;
                    queue = self.casts.lock().map_err(|_| lock_error())?;
                }
                Err(std::sync::TryLockError::Poisoned(_)) => return Err(CastError::Storage(lock_error())),
            }
        }
        drop(queue);
        let outcome = queued.state.lock().map_err(|_| lock_error())?.outcome.take();
        outcome.unwrap_or_else(|| Err(CastError::Storage(lock_error())))?;
        Ok(shared::crypto::tracker(ciphertext))
    }

    /// Returns an election's public key (cached), which wraps the ballot box's batch keys.
    fn election_key(&self, conn: &Connection, election_id: &str) -> Result<Arc<ElectionPublicKey>, CastError> {
        let mut keys = self.keys.lock().map_err(|_| lock_error())?;
        if let Some(k) = keys.get(election_id) {
            return Ok(Arc::clone(k));
        }
        let spki: Vec<u8> =
            conn.query_row("SELECT public_key_spki FROM elections WHERE id = ?1", [election_id], |r| r.get(0))?;
        let key = ElectionPublicKey::from_spki_der(&spki)
            .map_err(|e| CastError::Storage(rusqlite::Error::InvalidParameterName(e.to_string())))?;
        let key = Arc::new(key);
        keys.insert(election_id.to_string(), Arc::clone(&key));
        Ok(key)
    }

    /// Writes one group of casts of one election by the two-store protocol and sets each cast's outcome. If the
    /// voter store's transaction fails for a group of several, each cast is tried again as a group of its own, so
    /// that one failure never takes another voter's ballot with it.
    fn write_group(&self, conn: &mut Connection, election_id: &str, group: &[Arc<QueuedCast>]) {
        let result = self.try_group(conn, election_id, group);
        match result {
            Ok(()) => {}
            Err(_) if group.len() > 1 => {
                for cast in group {
                    self.write_group(conn, election_id, std::slice::from_ref(cast));
                }
            }
            Err(e) => {
                if let Some(cast) = group.first() {
                    set_outcome(cast, Err(e));
                }
            }
        }
    }

    /// Steps 1 to 4 of the protocol for one group; an error means nothing of the group was kept and no outcome
    /// was set.
    fn try_group(&self, conn: &mut Connection, election_id: &str, group: &[Arc<QueuedCast>]) -> Result<(), CastError> {
        let key = self.election_key(conn, election_id)?;
        // 1. Duplicates: a ciphertext the box holds, or that this group holds twice.
        let mut seen: HashSet<[u8; 32]> = HashSet::new();
        let mut candidates: Vec<&Arc<QueuedCast>> = Vec::new();
        let mut early: Vec<(&Arc<QueuedCast>, Result<(), CastError>)> = Vec::new();
        for cast in group {
            let t: [u8; 32] = sha2::Sha256::digest(&cast.ciphertext).into();
            if !seen.insert(t) || self.ballot_box.holds(&cast.ciphertext)? {
                early.push((cast, Err(CastError::Duplicate)));
            } else {
                candidates.push(cast);
            }
        }
        // 2. The marks, pending on this group, with the clean-up of earlier groups.
        let g = GroupId::random()?;
        let mut protocol = self.protocol.lock().map_err(|_| lock_error())?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for f in &protocol.failed {
            tx.prepare_cached("DELETE FROM voted WHERE pending_group = ?1")?.execute([f.0])?;
        }
        for c in &protocol.confirmed {
            tx.prepare_cached("UPDATE voted SET pending_group = NULL WHERE pending_group = ?1")?.execute([c.0])?;
        }
        let mut marked: Vec<&Arc<QueuedCast>> = Vec::new();
        for cast in candidates {
            // A mark only for a person with no emergency paper vote declared (R-VOTE-11): the declaration takes
            // the same write lock, so exactly one of the two wins a race (`registration::declare_emergency`).
            let n = tx
                .prepare_cached(
                    "INSERT INTO voted (person_id, election_id, contest_id, pending_group, municipality)
                     SELECT ?1, ?2, ?3, ?4, (SELECT municipality FROM voters WHERE person_id = ?1) WHERE NOT EXISTS
                       (SELECT 1 FROM emergency_votes WHERE person_id = ?1 AND election_id = ?2)
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![cast.person_id, cast.election_id, cast.contest_id, g.0])?;
            if n == 1 {
                marked.push(cast);
                continue;
            }
            let paper: bool = tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM emergency_votes WHERE person_id = ?1 AND election_id = ?2)",
                )?
                .query_row(params![cast.person_id, cast.election_id], |r| r.get(0))?;
            early.push((cast, Err(if paper { CastError::EmergencyPaperVote } else { CastError::AlreadyVoted })));
        }
        tx.commit()?;
        protocol.failed.clear();
        let confirmed = std::mem::take(&mut protocol.confirmed);
        protocol.to_forget.extend(confirmed);
        self.faults.at(Step::MarksWritten);
        // 3. The ballots, in the box's pool, and the group's number.
        let ballots: Vec<Ballot<'_>> =
            marked.iter().map(|c| Ballot { contest: &c.contest_id, ciphertext: &c.ciphertext }).collect();
        let stored = if ballots.is_empty() {
            Ok(())
        } else {
            self.ballot_box.receive(&key, election_id, g, &ballots, &protocol.to_forget)
        };
        match stored {
            Ok(()) => {
                if !ballots.is_empty() {
                    protocol.to_forget.clear();
                    protocol.confirmed.push(g);
                }
                self.faults.at(Step::BallotsWritten);
                drop(protocol);
                for cast in marked {
                    set_outcome(cast, Ok(()));
                }
            }
            Err(e) => {
                // Nothing of the group is in the box: its marks go now, or with the next group.
                let undone = conn.execute("DELETE FROM voted WHERE pending_group = ?1", [g.0]);
                if undone.is_err() {
                    protocol.failed.push(g);
                }
                drop(protocol);
                let e = CastError::from(e);
                for cast in marked {
                    set_outcome(cast, Err(clone_error(&e)));
                }
            }
        }
        // 4. The answers.
        for (cast, outcome) in early {
            set_outcome(cast, outcome);
        }
        self.faults.at(Step::Answered);
        match self.ballot_box.flush_due() {
            Ok(0) => {}
            Ok(_) => self.faults.at(Step::BatchMoved),
            Err(e) => {
                tracing::error!(error = %e, "a due batch could not enter the ballot box; it stays held and is tried again")
            }
        }
        Ok(())
    }
}

fn clone_error(e: &CastError) -> CastError {
    match e {
        CastError::AlreadyVoted => CastError::AlreadyVoted,
        CastError::Duplicate => CastError::Duplicate,
        CastError::Sealed => CastError::Sealed,
        CastError::EmergencyPaperVote => CastError::EmergencyPaperVote,
        CastError::Storage(rusqlite::Error::SqliteFailure(f, m)) => {
            CastError::Storage(rusqlite::Error::SqliteFailure(*f, m.clone()))
        }
        CastError::Storage(e) => CastError::Storage(rusqlite::Error::InvalidParameterName(e.to_string())),
        CastError::Unavailable(e) => CastError::Unavailable(e.clone()),
    }
}

fn set_outcome(cast: &QueuedCast, outcome: Result<(), CastError>) {
    if let Ok(mut w) = cast.state.lock() {
        w.outcome = Some(outcome);
        cast.wake.notify_one();
    }
}
