//! The verifier's voter store (rusqlite, WAL, `synchronous = FULL`, its one schema in [`crate::store::schema`]) and the
//! protocol that records a cast in it and in the ballot box (crate `ballot-box`), two stores in two files.
//!
//! The voter store holds the roll (`voters`, `voter_certs`), who voted in which contest (`voted`), registration,
//! notices, operators, research metrics and the audit log; never a ballot. The ballot box holds ballots and
//! nothing of a person. The seed's rule (R-VOTE-8) is that the two are stored apart so that they can never be
//! matched; the box's own notes say how its files keep that under copies taken at any moment.
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

pub mod audit;
pub mod checkpoints;
pub mod schema;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ballot_box::{Ballot, BallotBox, BoxError, ContestCount, GroupId};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use shared::crypto::ElectionPublicKey;
use shared::election::Election;

/// A registered internet voter as imported (`verifier voters import`): one JSON object per line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoterRecord {
    /// The person (not a certificate): a renewed card of the same person is the same voter.
    pub person_id: String,
    /// The municipality code of the roll (名簿登録地).
    pub municipality: String,
    /// The district codes whose contests this voter receives.
    pub districts: Vec<String>,
    /// Authentication certificates (DER, base64), one or more (e.g. an old and a renewed card).
    pub auth_certificates: Vec<String>,
    /// Signing certificates (DER, base64).
    pub sign_certificates: Vec<String>,
}

/// A voter found by certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Voter {
    /// The person.
    pub person_id: String,
    /// The municipality code.
    pub municipality: String,
    /// The district codes.
    pub districts: Vec<String>,
}

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

/// How a store is opened.
#[derive(Clone)]
pub struct DbOptions {
    /// The ballot box's batch K: the smallest crowd a ballot enters the box in (`serve --ballot-box-batch`).
    pub ballot_box_batch: usize,
    /// Opened by `verifier serve`: the store must be this process's alone (see [`Db::open_with`]).
    pub serving: bool,
    /// Fault injection (tests only).
    pub faults: Faults,
}

impl Default for DbOptions {
    fn default() -> DbOptions {
        DbOptions { ballot_box_batch: ballot_box::DEFAULT_BATCH, serving: false, faults: Faults::default() }
    }
}

/// Returns the lock file beside a voter store: `NAME.sqlite` → `NAME.lock`.
pub fn lock_path(db: &Path) -> PathBuf {
    db.with_extension("lock")
}

/// How long `serve` waits for a command line tool to finish with the store before it gives up.
const SERVE_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// Returns the ballot box's file beside a voter store: `NAME.sqlite` → `NAME.ballot-box.sqlite`.
pub fn ballot_box_path(db: &Path) -> PathBuf {
    db.with_extension("ballot-box.sqlite")
}

/// The database: the voter store's writer connection behind a lock (SQLite has one writer at a time anyway), the
/// queue of casts waiting for it, reader connections for the lookups of the cast path (none for an in-memory
/// database, whose readers use the writer), and the ballot box.
pub struct Db {
    conn: Mutex<Connection>,
    casts: Mutex<Vec<Arc<QueuedCast>>>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    ballot_box: BallotBox,
    protocol: Mutex<Protocol>,
    keys: Mutex<HashMap<String, Arc<ElectionPublicKey>>>,
    research: crate::research::Pending,
    faults: Faults,
    /// The store's lock file, held while this process may recover it (see [`Db::open_with`]).
    _lock: Option<std::fs::File>,
}

/// Group numbers between the protocol's steps.
#[derive(Default)]
struct Protocol {
    /// Committed in the box; their marks are still pending.
    confirmed: Vec<GroupId>,
    /// Their marks are cleared; the box still lists them.
    to_forget: Vec<GroupId>,
    /// The box refused them; their pending marks must go.
    failed: Vec<GroupId>,
}

/// Reader connections of a file database: enough for the blocking threads that serve casts on two to eight cores.
const READERS: usize = 4;

/// At most this many casts share one group.
const MAX_BATCH: usize = 256;

/// How long a waiting cast sleeps before it looks at the writer again when nothing wakes it first: a writer wakes
/// each cast it answers, and the first of those still waiting when it is done; this is only for the writer's other
/// users (operator commands, the seal), which wake nobody.
const WAIT: std::time::Duration = std::time::Duration::from_millis(10);

/// One cast waiting for the writer, and its outcome once written.
struct QueuedCast {
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

fn lock_error() -> rusqlite::Error {
    rusqlite::Error::InvalidParameterName("the database lock is poisoned".into())
}

impl Db {
    /// Opens (creating if needed) a voter store and its ballot box beside it ([`ballot_box_path`]), with the
    /// verifier's settings, and recovers an interrupted cast.
    pub fn open(path: &Path) -> anyhow::Result<Db> {
        Db::open_with(path, DbOptions::default())
    }

    /// [`Db::open`] with options.
    ///
    /// Recovery (module notes) must never run while another process casts: it would take that process's group,
    /// between its two transactions, for an interrupted one. So the store has a lock file ([`lock_path`]): `serve`
    /// holds it for its lifetime (and refuses to start while another verifier holds it); a command line tool
    /// recovers only if it gets the lock, and holds it while it runs, and otherwise leaves recovery to the
    /// verifier that serves.
    pub fn open_with(path: &Path, options: DbOptions) -> anyhow::Result<Db> {
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path(path))
            .map_err(|e| anyhow::anyhow!("cannot open the lock file {}: {e}", lock_path(path).display()))?;
        let mut sole = lock_now(&lock)?;
        if options.serving {
            let since = std::time::Instant::now();
            while !sole && since.elapsed() < SERVE_LOCK_WAIT {
                std::thread::sleep(std::time::Duration::from_millis(100));
                sole = lock_now(&lock)?;
            }
            anyhow::ensure!(
                sole,
                "another process holds {} (a verifier serving this database?); stop it before serving",
                lock_path(path).display()
            );
        }
        let ballot_box = BallotBox::open(&ballot_box_path(path), options.ballot_box_batch)?;
        let mut db = Db::setup(Connection::open(path)?, ballot_box, options.faults, sole)?;
        db._lock = sole.then_some(lock);
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            reader.busy_timeout(std::time::Duration::from_secs(5))?;
            // Point lookups by key: a small page cache each (SQLite's default is 2 MB per connection).
            reader.pragma_update(None, "cache_size", -512)?;
            db.readers.push(Mutex::new(reader));
        }
        Ok(db)
    }

    /// Opens a private in-memory database and ballot box (tests, `serve --demo`).
    pub fn open_in_memory() -> anyhow::Result<Db> {
        Db::setup(
            Connection::open_in_memory()?,
            BallotBox::open_in_memory(ballot_box::DEFAULT_BATCH)?,
            Faults::default(),
            true,
        )
    }

    fn setup(conn: Connection, ballot_box: BallotBox, faults: Faults, sole: bool) -> anyhow::Result<Db> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        crate::store::schema::migrate(&conn)?;
        let db = Db {
            conn: Mutex::new(conn),
            casts: Mutex::default(),
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
            ballot_box,
            protocol: Mutex::default(),
            keys: Mutex::default(),
            research: crate::research::Pending::default(),
            faults,
            _lock: None,
        };
        if sole {
            db.move_earlier_ballots()?;
            db.recover()?;
        }
        Ok(db)
    }

    /// Recovery of the two-store protocol (module notes): pending marks are kept if the box committed their
    /// group, removed if not; then the box forgets the groups.
    fn recover(&self) -> anyhow::Result<()> {
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

    /// Moves the ballots of a version-1 file (stored in the voter store) into the ballot box, then drops them
    /// there. Repeating it after a crash is harmless: the box skips a ballot it has.
    fn move_earlier_ballots(&self) -> anyhow::Result<()> {
        let earlier: Vec<(String, String, Vec<u8>)> = self.with(|c| {
            let exists: bool = c.query_row(
                "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'ballots'",
                [],
                |r| r.get(0),
            )?;
            if !exists {
                return Ok(Vec::new());
            }
            let mut st = c.prepare("SELECT election_id, contest_id, ciphertext FROM ballots")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })?;
        let mut by_election: HashMap<String, Vec<(String, Vec<u8>)>> = HashMap::new();
        for (e, c, ct) in earlier {
            by_election.entry(e).or_default().push((c, ct));
        }
        for (election, mut ballots) in by_election {
            self.ballot_box.import_earlier(&election, &mut ballots)?;
        }
        self.with(|c| {
            let exists: bool = c.query_row(
                "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'ballots'",
                [],
                |r| r.get(0),
            )?;
            if exists {
                c.execute_batch("DROP TABLE ballots; VACUUM;")?;
            }
            Ok(())
        })?;
        Ok(())
    }

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

    /// Runs a closure with the connection.
    pub fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        let mut conn = self.conn.lock().map_err(|_| lock_error())?;
        f(&mut conn)
    }

    /// Runs a read-only closure on a reader connection (the writer's for an in-memory database). It sees every
    /// committed transaction, never one in progress.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        if self.readers.is_empty() {
            return self.with(|c| f(c));
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        for i in 0..n {
            if let Ok(conn) = self.readers[(start + i) % n].try_lock() {
                return f(&conn);
            }
        }
        let conn = self.readers[start % n].lock().map_err(|_| lock_error())?;
        f(&conn)
    }

    /// Makes an election the current one with its public key. The registered internet voters stay for every later
    /// election (R-REG-5), so the next election is created in the same database, once the current one has closed;
    /// its ballots and marks stay apart under their election id.
    pub fn create_election(
        &self,
        election: &Election,
        key: &ElectionPublicKey,
        actor: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let definition = serde_json::to_string(election)?;
        if let Some((current, _)) = self.election()? {
            anyhow::ensure!(
                current.id != election.id,
                "election {} already exists in this database; give the new election a new id",
                election.id
            );
            anyhow::ensure!(
                current.window().state(now) == shared::window::WindowState::Closed,
                "the current election {} has not closed yet (it closes {}); create the next one after its close",
                current.id,
                shared::jst::format_jst(current.window().closes_at)
            );
        }
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("UPDATE elections SET current = 0 WHERE current = 1", [])?;
            tx.execute(
                "INSERT INTO elections (id, definition, public_key_spki, key_fingerprint, current) VALUES (?1, ?2, ?3, ?4, 1)",
                params![election.id.as_str(), definition, key.spki_der(), key.fingerprint()],
            )?;
            tx.execute("DELETE FROM pause", [])?;
            // Applications kept past the last election's cut-off go on for this one (R-REG-11).
            crate::registration::requeue_held(&tx, election.id.as_str(), now)?;
            let detail = serde_json::json!({ "election": election.id.as_str(), "key_fingerprint": key.fingerprint() });
            audit::append(&tx, now, actor, "election_created", &detail)?;
            tx.commit()
        })
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                anyhow::anyhow!("election {} already exists in this database", election.id)
            }
            e => e.into(),
        })
    }

    /// Returns the current election and its key, if one was created.
    pub fn election(&self) -> anyhow::Result<Option<(Election, ElectionPublicKey)>> {
        let row: Option<(String, Vec<u8>)> = self.with(|c| {
            c.query_row("SELECT definition, public_key_spki FROM elections WHERE current = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
        })?;
        let Some((definition, spki)) = row else { return Ok(None) };
        Ok(Some((serde_json::from_str(&definition)?, ElectionPublicKey::from_spki_der(&spki)?)))
    }

    /// Registers a voter with certificates already checked by the caller (fingerprint, kind, serial).
    pub fn add_voter(
        &self,
        voter: &Voter,
        certs: &[(String, crate::certs::CertKind, String)],
        actor: &str,
        now: DateTime<Utc>,
    ) -> rusqlite::Result<()> {
        let districts = serde_json::to_string(&voter.districts).unwrap_or_else(|_| "[]".into());
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO voters (person_id, municipality, districts) VALUES (?1, ?2, ?3)
                 ON CONFLICT (person_id) DO UPDATE SET municipality = excluded.municipality, districts = excluded.districts",
                params![voter.person_id, voter.municipality, districts],
            )?;
            for (fingerprint, kind, serial) in certs {
                tx.execute(
                    "INSERT OR REPLACE INTO voter_certs (fingerprint, person_id, kind, serial) VALUES (?1, ?2, ?3, ?4)",
                    params![fingerprint, voter.person_id, kind.code(), serial],
                )?;
            }
            let detail = serde_json::json!({ "person": voter.person_id, "municipality": voter.municipality, "certificates": certs.len() });
            audit::append(&tx, now, actor, "voter_registered", &detail)?;
            tx.commit()
        })
    }

    /// Finds the registered voter holding a certificate (by fingerprint) of a kind.
    pub fn voter_by_cert(&self, fingerprint: &str, kind: crate::certs::CertKind) -> rusqlite::Result<Option<Voter>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT v.person_id, v.municipality, v.districts FROM voter_certs c JOIN voters v USING (person_id)
                 WHERE c.fingerprint = ?1 AND c.kind = ?2",
            )?
            .query_row(params![fingerprint, kind.code()], |r| {
                let districts: String = r.get(2)?;
                Ok(Voter {
                    person_id: r.get(0)?,
                    municipality: r.get(1)?,
                    districts: serde_json::from_str(&districts).unwrap_or_default(),
                })
            })
            .optional()
        })
    }

    /// Returns the contests of an election a person has voted in (a mark whose group the box refused is not a
    /// vote, even before it is removed).
    pub fn voted_contests(&self, person_id: &str, election_id: &str) -> rusqlite::Result<Vec<String>> {
        let rows: Vec<(String, Option<i64>)> = self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT contest_id, pending_group FROM voted WHERE person_id = ?1 AND election_id = ?2",
            )?;
            let rows = stmt.query_map([person_id, election_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })?;
        let failed = self.protocol.lock().map_err(|_| lock_error())?.failed.clone();
        Ok(rows.into_iter().filter(|(_, g)| !g.is_some_and(|g| failed.contains(&GroupId(g)))).map(|(c, _)| c).collect())
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

    /// Returns the pause, if voting is paused: reason and since when (R-VOTE-3).
    pub fn pause_state(&self) -> rusqlite::Result<Option<(String, String)>> {
        self.read(|c| {
            c.prepare_cached("SELECT reason, since FROM pause")?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
    }

    /// Pauses voting with a reason, or resumes it (`None`); each an audit entry.
    pub fn set_pause(&self, reason: Option<&str>, actor: &str, now: DateTime<Utc>) -> rusqlite::Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM pause", [])?;
            match reason {
                Some(reason) => {
                    tx.execute(
                        "INSERT INTO pause (singleton, reason, since) VALUES (1, ?1, ?2)",
                        params![reason, now.to_rfc3339()],
                    )?;
                    audit::append(&tx, now, actor, "voting_paused", &serde_json::json!({ "reason": reason }))?;
                }
                None => {
                    audit::append(&tx, now, actor, "voting_resumed", &serde_json::json!({}))?;
                }
            }
            tx.commit()
        })
    }

    /// Records an event in the audit log in its own transaction.
    pub fn audit(
        &self,
        now: DateTime<Utc>,
        actor: &str,
        action: &str,
        detail: serde_json::Value,
    ) -> rusqlite::Result<()> {
        self.with(|c| audit::append(c, now, actor, action, &detail).map(|_| ()))
    }

    /// Returns the number of ballots received per contest of an election: in the box, waiting in its pool, or in
    /// batches left unopened by an earlier process.
    pub fn ballot_counts(&self, election_id: &str) -> anyhow::Result<Vec<(String, i64)>> {
        Ok(self.ballot_box.counts(election_id)?.iter().map(|c| (c.contest.clone(), c.total() as i64)).collect())
    }

    /// The ballot box's counts per contest, in detail.
    pub fn ballot_box_counts(&self, election_id: &str) -> anyhow::Result<Vec<ContestCount>> {
        Ok(self.ballot_box.counts(election_id)?)
    }

    /// The ballot box (read-only uses: the export, the published digest, the zero-vote check).
    pub fn ballot_box(&self) -> &BallotBox {
        &self.ballot_box
    }

    /// UX-research tasks waiting to be written (see `research`).
    pub fn research_pending(&self) -> &crate::research::Pending {
        &self.research
    }

    /// Seals the election's ballot box after the close (see `ballot_box::BallotBox::seal`); no cast is accepted
    /// for it afterwards. Takes the writer, so no group is between its steps. Then rebuilds the voter store in key
    /// order. Write the research tasks still waiting first (`research::flush`).
    pub fn seal(&self, election_id: &str) -> anyhow::Result<()> {
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
}

/// Takes the lock file without waiting: `true` if this process now holds it.
fn lock_now(lock: &std::fs::File) -> anyhow::Result<bool> {
    match lock.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(anyhow::anyhow!("cannot lock the store: {e}")),
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
    }
}

fn set_outcome(cast: &QueuedCast, outcome: Result<(), CastError>) {
    if let Ok(mut w) = cast.state.lock() {
        w.outcome = Some(outcome);
        cast.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("../../../shared/tests/data/test-election-key.pub.pem");

    fn with_election(db: &Db) {
        let mut e = crate::demo::demo_election(Utc::now()).unwrap();
        e.id = shared::election::Id::new("e").unwrap();
        db.create_election(&e, &ElectionPublicKey::from_pem(KEY).unwrap(), "test", Utc::now()).unwrap();
    }

    fn ct(t: usize, v: usize) -> Vec<u8> {
        let mut c = vec![0u8; 384];
        c[..16].copy_from_slice(&[(t as u64).to_be_bytes(), (v as u64).to_be_bytes()].concat());
        c
    }

    /// Casts from many threads at once (each voter twice, from two threads) share groups: every voter gets
    /// exactly one stored ballot and one `AlreadyVoted`, and marks equal ballots.
    #[test]
    fn group_commit_decides_each_cast_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Db::open(&dir.path().join("v.sqlite")).unwrap());
        with_election(&db);
        let voters = 150;
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let db = Arc::clone(&db);
                std::thread::spawn(move || {
                    (0..voters)
                        .filter(|v| v % 4 == t % 4)
                        .map(|v| db.cast(&format!("p{v}"), "e", "tokyo", &ct(t, v)).is_ok())
                        .collect::<Vec<bool>>()
                })
            })
            .collect();
        let stored: usize = threads.into_iter().map(|t| t.join().unwrap().into_iter().filter(|ok| *ok).count()).sum();
        assert_eq!(stored, voters);
        let marks = db.with(|c| c.query_row("SELECT count(*) FROM voted", [], |r| r.get::<_, i64>(0))).unwrap();
        assert_eq!(marks, voters as i64);
        assert_eq!(db.ballot_counts("e").unwrap(), vec![("tokyo".to_string(), voters as i64)]);
        let pending = db
            .with(|c| {
                c.query_row("SELECT count(*) FROM voted WHERE pending_group IS NOT NULL", [], |r| r.get::<_, i64>(0))
            })
            .unwrap();
        assert!(pending <= MAX_BATCH as i64, "only the last group's marks may still be pending: {pending}");
    }

    /// The reader connections see a cast as soon as it is committed; a copy of a ciphertext is refused.
    #[test]
    fn readers_see_committed_casts_and_a_copy_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("v.sqlite")).unwrap();
        with_election(&db);
        assert!(db.voted_contests("p", "e").unwrap().is_empty());
        db.cast("p", "e", "tokyo", &ct(0, 0)).unwrap();
        for _ in 0..READERS {
            assert_eq!(db.voted_contests("p", "e").unwrap(), vec!["tokyo".to_owned()]);
        }
        assert!(matches!(db.cast("p", "e", "tokyo", &ct(0, 1)), Err(CastError::AlreadyVoted)));
        assert!(matches!(db.cast("q", "e", "tokyo", &ct(0, 0)), Err(CastError::Duplicate)));
        assert!(db.voted_contests("q", "e").unwrap().is_empty(), "a refused copy leaves no mark");
    }

    /// A command line tool opened while the verifier casts (here: between a group's two transactions) must not
    /// run recovery, which would take the group for an interrupted one and remove its marks.
    #[test]
    fn a_tool_opened_while_a_verifier_casts_leaves_its_group_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.sqlite");
        with_election(&Db::open(&path).unwrap());
        let tool_path = path.clone();
        let faults = Faults::new(move |step| {
            if step == Step::MarksWritten {
                drop(Db::open(&tool_path).unwrap());
            }
        });
        let db = Db::open_with(&path, DbOptions { serving: true, faults, ..Default::default() }).unwrap();
        db.cast("p", "e", "tokyo", &ct(0, 0)).unwrap();
        let marks = db.with(|c| c.query_row("SELECT count(*) FROM voted", [], |r| r.get::<_, i64>(0))).unwrap();
        assert_eq!((marks, db.ballot_counts("e").unwrap()), (1, vec![("tokyo".to_string(), 1)]));
    }

    /// A version-1 file's ballots move into the ballot box when it is opened, once.
    #[test]
    fn a_version_1_database_opens_with_its_ballots_moved_to_the_box() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.sqlite");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE voted (person_id TEXT NOT NULL, election_id TEXT NOT NULL, contest_id TEXT NOT NULL,
                     PRIMARY KEY (person_id, election_id, contest_id)) WITHOUT ROWID;
                 CREATE TABLE ballots (id BLOB PRIMARY KEY, election_id TEXT NOT NULL, contest_id TEXT NOT NULL,
                     ciphertext BLOB NOT NULL) WITHOUT ROWID;
                 INSERT INTO voted VALUES ('p', 'e', 'tokyo');
                 INSERT INTO ballots VALUES (x'01', 'e', 'tokyo', x'0102');",
            )
            .unwrap();
        }
        // A version-1 file has every table of version 1; build one with this build's version-1 script instead.
        std::fs::remove_file(&path).unwrap();
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(V1_FOR_TESTS).unwrap();
            c.execute_batch(
                "INSERT INTO voted VALUES ('p', 'e', 'tokyo');
                 INSERT INTO ballots VALUES (zeroblob(32), 'e', 'tokyo', x'0102');",
            )
            .unwrap();
        }
        let db = Db::open(&path).unwrap();
        assert_eq!(db.ballot_counts("e").unwrap(), vec![("tokyo".to_string(), 1)]);
        assert_eq!(db.voted_contests("p", "e").unwrap(), vec!["tokyo".to_string()]);
        let version: i64 = db.with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0))).unwrap();
        assert_eq!(version, crate::store::schema::VERSION, "a version-1 file is migrated to this build's version");
        drop(db);
        let db = Db::open(&path).unwrap();
        assert_eq!(db.ballot_counts("e").unwrap(), vec![("tokyo".to_string(), 1)]);
    }

    /// The version-1 schema as main wrote it before the ballot box moved out (tracker issue 16).
    const V1_FOR_TESTS: &str = "
        CREATE TABLE elections (id TEXT PRIMARY KEY, definition TEXT NOT NULL, public_key_spki BLOB NOT NULL,
            key_fingerprint TEXT NOT NULL, current INTEGER NOT NULL CHECK (current IN (0, 1))) WITHOUT ROWID;
        CREATE UNIQUE INDEX elections_one_current ON elections(current) WHERE current = 1;
        CREATE TABLE pause (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), reason TEXT NOT NULL,
            since TEXT NOT NULL);
        CREATE TABLE voters (person_id TEXT PRIMARY KEY, municipality TEXT NOT NULL, districts TEXT NOT NULL)
            WITHOUT ROWID;
        CREATE TABLE voter_certs (fingerprint TEXT PRIMARY KEY, person_id TEXT NOT NULL REFERENCES voters(person_id),
            kind TEXT NOT NULL CHECK (kind IN ('auth', 'sign')), serial TEXT NOT NULL) WITHOUT ROWID;
        CREATE INDEX voter_certs_person ON voter_certs(person_id);
        CREATE TABLE voted (person_id TEXT NOT NULL, election_id TEXT NOT NULL, contest_id TEXT NOT NULL,
            PRIMARY KEY (person_id, election_id, contest_id)) WITHOUT ROWID;
        CREATE TABLE ballots (id BLOB PRIMARY KEY CHECK (length(id) = 32), election_id TEXT NOT NULL,
            contest_id TEXT NOT NULL, ciphertext BLOB NOT NULL) WITHOUT ROWID;
        CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
            detail TEXT NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL);
        PRAGMA user_version = 1;";
}
