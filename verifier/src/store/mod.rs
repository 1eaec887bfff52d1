//! The verifier's voter store (rusqlite, WAL, `synchronous = FULL`, its one schema in [`crate::store::schema`]) and the
//! protocol that records a cast in it and in the ballot box (crate `ballot-box`), two stores in two files.
//!
//! The voter store holds the roll (`voters`, `voter_certs`), who voted in which contest (`voted`), registration,
//! notices, operators, research metrics and the audit log; never a ballot. The ballot box holds ballots and
//! nothing of a person. The seed's rule (R-VOTE-8) is that the two are stored apart so that they can never be
//! matched; the box's own notes say how its files keep that under copies taken at any moment.
//!
//! The cast itself is in [`cast`]: how the two stores take it, and how the store recovers one that a crash cut
//! off. [`pg`] is the voting store on PostgreSQL (marks and ballot box on a primary with a synchronous standby,
//! shared by several front-ends; issue 24).

pub mod audit;
mod backup;
mod boundary;
mod cast;
pub mod checkpoints;
pub mod pg;
pub mod schema;

pub use boundary::VotingStore;
pub use cast::{CastError, Faults, Step};
use cast::{Protocol, QueuedCast};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ballot_box::{BallotBox, ContestCount, GroupId};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
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

/// How a store is opened.
#[derive(Clone)]
pub struct DbOptions {
    /// The ballot box's batch K: the smallest crowd a ballot enters the box in (`serve --ballot-box-batch`).
    pub ballot_box_batch: usize,
    /// Opened by `verifier serve`: the store must be this process's alone (see [`Db::open_with`]).
    pub serving: bool,
    /// Fault injection (tests only).
    pub faults: Faults,
    /// The voting store on PostgreSQL (`--voting-store`, libpq's key=value connection string): when given, the
    /// marks, the emergency paper votes and the ballot box are there, shared by every front-end, and this file
    /// keeps the roll, registration and the audit log (issue 24).
    pub voting_store: Option<String>,
    /// TLS to the voting store (required for any host but this machine, [`pg::link`]).
    pub voting_store_tls: Option<pg::link::TlsFiles>,
}

impl Default for DbOptions {
    fn default() -> DbOptions {
        DbOptions {
            ballot_box_batch: ballot_box::DEFAULT_BATCH,
            serving: false,
            faults: Faults::default(),
            voting_store: None,
            voting_store_tls: None,
        }
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
    /// The voting store on PostgreSQL, if the marks and the box are there ([`DbOptions::voting_store`]).
    pg: Option<Arc<pg::PgStore>>,
    /// The store's lock file, held while this process may recover it (see [`Db::open_with`]).
    _lock: Option<std::fs::File>,
}

/// Reader connections of a file database: enough for the blocking threads that serve casts on two to eight cores.
const READERS: usize = 4;

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
        if let Some(conninfo) = &options.voting_store {
            let store = pg::PgStore::open(conninfo, options.voting_store_tls.as_ref(), options.ballot_box_batch)
                .map_err(|e| anyhow::anyhow!("cannot reach the voting store on PostgreSQL: {e}"))?;
            if let Some((election, key)) = db.election()? {
                store.create_election(election.id.as_str(), &key)?;
            }
            db.pg = Some(Arc::new(store));
        }
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
            pg: None,
            _lock: None,
        };
        if sole {
            db.move_earlier_ballots()?;
            db.recover()?;
        }
        Ok(db)
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
            if let Some(pg) = &self.pg {
                // Before this file commits: an election in force here has its key in the voting store.
                pg.create_election(election.id.as_str(), key)
                    .map_err(|e| rusqlite::Error::InvalidParameterName(format!("the voting store: {e}")))?;
            }
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
        if let Some(pg) = &self.pg {
            return pg.voted_contests(person_id, election_id).map_err(pg_error);
        }
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
        if let Some(pg) = &self.pg {
            return pg.ballot_counts(election_id);
        }
        Ok(self.ballot_box.counts(election_id)?.iter().map(|c| (c.contest.clone(), c.total() as i64)).collect())
    }

    /// The ballot box's counts per contest, in detail.
    pub fn ballot_box_counts(&self, election_id: &str) -> anyhow::Result<Vec<ContestCount>> {
        Ok(self.ballot_box.counts(election_id)?)
    }

    /// The voting store on PostgreSQL, when the marks and the box are there (issue 24); `None`: this file's.
    pub fn voting_store(&self) -> Option<&Arc<pg::PgStore>> {
        self.pg.as_ref()
    }

    /// The ballot box in this store's file (read-only uses: the export, the published digest, the zero-vote
    /// check), unused when [`Db::voting_store`] is given.
    pub fn ballot_box(&self) -> &BallotBox {
        &self.ballot_box
    }

    /// UX-research tasks waiting to be written (see `research`).
    pub fn research_pending(&self) -> &crate::research::Pending {
        &self.research
    }
}

/// A failure of the voting store on PostgreSQL where the caller speaks rusqlite's errors.
pub(crate) fn pg_error(e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::InvalidParameterName(format!("the voting store: {e}"))
}

/// Takes the lock file without waiting: `true` if this process now holds it.
fn lock_now(lock: &std::fs::File) -> anyhow::Result<bool> {
    match lock.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(anyhow::anyhow!("cannot lock the store: {e}")),
    }
}

#[cfg(test)]
mod tests;
