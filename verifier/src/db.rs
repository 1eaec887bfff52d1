//! The verifier's one SQLite file (rusqlite, WAL, `synchronous = FULL`, migrations by `user_version`).
//!
//! Secrecy of the ballot box (R-VOTE-8) is a property of the schema:
//! - `ballots` holds only a random 256-bit id, the contest and the bare ciphertext. `WITHOUT ROWID`, keyed by
//!   the random id, so neither a rowid nor the storage order follows the order of casting; no time column.
//! - `voted` holds who voted in which contest, with no time and no reference to a ballot.
//! - Both are written in ONE transaction, so a ballot is stored if and only if its voter is marked (R-VOTE-9).
//!
//! Nothing else stores a session, an IP address or a certificate beside a ballot; signatures are never stored.
//!
//! Throughput (issue 10): casts are group-committed. Each caller queues its cast and waits for the writer
//! connection; whoever gets it writes every queued cast in one transaction (one fsync for all), and each cast is
//! still decided by its own `INSERT … ON CONFLICT DO NOTHING` inside that transaction. If the batch fails, each
//! cast is retried alone, so one failure never takes another voter's ballot with it. The lookups a cast makes
//! before it (`voter_by_cert`, `voted_contests`, the pause) read through a small pool of reader connections, which
//! WAL lets run beside the writer's fsync.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use shared::crypto::ElectionPublicKey;
use shared::election::Election;

use crate::audit;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 1;

/// Creates or upgrades the schema (`PRAGMA user_version`).
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < 1 {
        conn.execute_batch(
            "BEGIN;
             CREATE TABLE elections (
                 id TEXT PRIMARY KEY,
                 definition TEXT NOT NULL,
                 public_key_spki BLOB NOT NULL,
                 key_fingerprint TEXT NOT NULL,
                 current INTEGER NOT NULL CHECK (current IN (0, 1))
             ) WITHOUT ROWID;
             CREATE UNIQUE INDEX elections_one_current ON elections(current) WHERE current = 1;
             CREATE TABLE pause (
                 singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                 reason TEXT NOT NULL,
                 since TEXT NOT NULL
             );
             CREATE TABLE voters (
                 person_id TEXT PRIMARY KEY,
                 municipality TEXT NOT NULL,
                 districts TEXT NOT NULL
             ) WITHOUT ROWID;
             CREATE TABLE voter_certs (
                 fingerprint TEXT PRIMARY KEY,
                 person_id TEXT NOT NULL REFERENCES voters(person_id),
                 kind TEXT NOT NULL CHECK (kind IN ('auth', 'sign')),
                 serial TEXT NOT NULL
             ) WITHOUT ROWID;
             CREATE INDEX voter_certs_person ON voter_certs(person_id);
             CREATE TABLE voted (
                 person_id TEXT NOT NULL,
                 election_id TEXT NOT NULL,
                 contest_id TEXT NOT NULL,
                 PRIMARY KEY (person_id, election_id, contest_id)
             ) WITHOUT ROWID;
             CREATE TABLE ballots (
                 id BLOB PRIMARY KEY CHECK (length(id) = 32),
                 election_id TEXT NOT NULL,
                 contest_id TEXT NOT NULL,
                 ciphertext BLOB NOT NULL
             ) WITHOUT ROWID;
             CREATE TABLE audit_log (
                 seq INTEGER PRIMARY KEY,
                 at TEXT NOT NULL,
                 actor TEXT NOT NULL,
                 action TEXT NOT NULL,
                 detail TEXT NOT NULL,
                 prev_hash BLOB NOT NULL,
                 hash BLOB NOT NULL
             );
             PRAGMA user_version = 1;
             COMMIT;",
        )?;
    }
    // The subsystems' own tables, each created if missing.
    crate::registration::migrate(conn)?;
    crate::notify::migrate(conn)?;
    crate::operator_auth::migrate(conn)?;
    crate::research::migrate(conn)?;
    Ok(())
}

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
    /// The database failed (disk full, I/O): nothing was written.
    #[error("storage failure: {0}")]
    Storage(#[from] rusqlite::Error),
}

/// The database: one writer connection behind a lock (SQLite has one writer at a time anyway), the queue of casts
/// waiting for it, and reader connections for the lookups of the cast path (none for an in-memory database, whose
/// readers use the writer).
pub struct Db {
    conn: Mutex<Connection>,
    casts: Mutex<Vec<Arc<QueuedCast>>>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

/// Reader connections of a file database: enough for the blocking threads that serve casts on two to eight cores.
const READERS: usize = 4;

/// At most this many casts share one transaction.
const MAX_BATCH: usize = 256;

/// One cast waiting for the writer, and its outcome once written: `Ok(true)` stored, `Ok(false)` already voted.
struct QueuedCast {
    person_id: String,
    election_id: String,
    contest_id: String,
    ciphertext: Vec<u8>,
    id: [u8; 32],
    now: DateTime<Utc>,
    outcome: Mutex<Option<rusqlite::Result<bool>>>,
}

fn lock_error() -> rusqlite::Error {
    rusqlite::Error::InvalidParameterName("the database lock is poisoned".into())
}

impl Db {
    /// Opens (creating if needed) a database file with the verifier's settings.
    pub fn open(path: &Path) -> anyhow::Result<Db> {
        let mut db = Db::setup(Connection::open(path)?)?;
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

    /// Opens a private in-memory database (tests, `serve --demo`).
    pub fn open_in_memory() -> anyhow::Result<Db> {
        Db::setup(Connection::open_in_memory()?)
    }

    fn setup(conn: Connection) -> anyhow::Result<Db> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&conn)?;
        Ok(Db {
            conn: Mutex::new(conn),
            casts: Mutex::default(),
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
        })
    }

    /// Copies the database at `source` to `target` while the verifier keeps running (the SQLite backup API, from
    /// a connection of its own): all pages in one step, so the copy is one consistent snapshot taken between two
    /// transactions, never a half-written cast.
    pub fn backup(source: &Path, target: &Path) -> anyhow::Result<()> {
        anyhow::ensure!(!target.exists(), "{} exists already; back up into a new file", target.display());
        let src = Connection::open_with_flags(source, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        src.busy_timeout(std::time::Duration::from_secs(30))?;
        let mut dst = Connection::open(target)?;
        rusqlite::backup::Backup::new(&src, &mut dst)?.run_to_completion(i32::MAX, std::time::Duration::ZERO, None)?;
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
        certs: &[(String, &'static str, String)],
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
                    params![fingerprint, voter.person_id, kind, serial],
                )?;
            }
            let detail = serde_json::json!({ "person": voter.person_id, "municipality": voter.municipality, "certificates": certs.len() });
            audit::append(&tx, now, actor, "voter_registered", &detail)?;
            tx.commit()
        })
    }

    /// Finds the registered voter holding a certificate (by fingerprint) of a kind (`auth` or `sign`).
    pub fn voter_by_cert(&self, fingerprint: &str, kind: &str) -> rusqlite::Result<Option<Voter>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT v.person_id, v.municipality, v.districts FROM voter_certs c JOIN voters v USING (person_id)
                 WHERE c.fingerprint = ?1 AND c.kind = ?2",
            )?
            .query_row(params![fingerprint, kind], |r| {
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

    /// Returns the contests of an election a person has voted in.
    pub fn voted_contests(&self, person_id: &str, election_id: &str) -> rusqlite::Result<Vec<String>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT contest_id FROM voted WHERE person_id = ?1 AND election_id = ?2")?;
            let rows = stmt.query_map([person_id, election_id], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// In ONE transaction: marks the person as having voted in the contest and stores the bare ciphertext under
    /// a random id. Returns the tracker. The vote mark's audit entry names the person and contest, never the
    /// ballot (R-VOTE-8, R-VOTE-9). The transaction may carry other voters' casts too (group commit, see the
    /// module's notes); each is decided on its own.
    pub fn cast(
        &self,
        person_id: &str,
        election_id: &str,
        contest_id: &str,
        ciphertext: &[u8],
        now: DateTime<Utc>,
    ) -> Result<String, CastError> {
        let mut id = [0u8; 32];
        getrandom::fill(&mut id)
            .map_err(|e| CastError::Storage(rusqlite::Error::InvalidParameterName(e.to_string())))?;
        let queued = Arc::new(QueuedCast {
            person_id: person_id.to_owned(),
            election_id: election_id.to_owned(),
            contest_id: contest_id.to_owned(),
            ciphertext: ciphertext.to_vec(),
            id,
            now,
            outcome: Mutex::new(None),
        });
        self.casts.lock().map_err(|_| lock_error())?.push(Arc::clone(&queued));
        let stored = {
            let mut conn = self.conn.lock().map_err(|_| lock_error())?;
            // A writer before us may have written our cast with its batch while we waited for the connection.
            let done = queued.outcome.lock().map_err(|_| lock_error())?.take();
            match done {
                Some(outcome) => outcome,
                None => {
                    let mut queue = self.casts.lock().map_err(|_| lock_error())?;
                    let take = queue.len().min(MAX_BATCH);
                    let mut batch: Vec<Arc<QueuedCast>> = queue.drain(..take).collect();
                    drop(queue);
                    // Our own cast is in the queue (no one else took it): make sure it is in this batch.
                    if !batch.iter().any(|q| Arc::ptr_eq(q, &queued)) {
                        let mut queue = self.casts.lock().map_err(|_| lock_error())?;
                        if let Some(at) = queue.iter().position(|q| Arc::ptr_eq(q, &queued)) {
                            batch.push(queue.remove(at));
                        }
                    }
                    write_batch(&mut conn, &batch);
                    let outcome = queued.outcome.lock().map_err(|_| lock_error())?.take();
                    outcome.unwrap_or_else(|| Err(lock_error()))
                }
            }
        }?;
        if stored { Ok(shared::crypto::tracker(ciphertext)) } else { Err(CastError::AlreadyVoted) }
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

    /// Returns the number of ballots per contest of an election.
    pub fn ballot_counts(&self, election_id: &str) -> rusqlite::Result<Vec<(String, i64)>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT contest_id, count(*) FROM ballots WHERE election_id = ?1 GROUP BY contest_id ORDER BY contest_id",
            )?;
            let rows = stmt.query_map([election_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    /// Returns the ciphertexts of a contest in the order of their trackers (hash order, never casting order).
    pub fn ciphertexts_in_hash_order(&self, election_id: &str, contest_id: &str) -> rusqlite::Result<Vec<Vec<u8>>> {
        let mut cts: Vec<Vec<u8>> = self.with(|c| {
            let mut stmt = c.prepare("SELECT ciphertext FROM ballots WHERE election_id = ?1 AND contest_id = ?2")?;
            let rows = stmt.query_map([election_id, contest_id], |r| r.get(0))?;
            rows.collect()
        })?;
        cts.sort_by_cached_key(|ct| shared::crypto::tracker(ct));
        Ok(cts)
    }
}

/// Writes a batch of queued casts in one transaction and sets each one's outcome. If the transaction fails as a
/// whole (a full disk, an I/O error), nothing of it is kept and each cast is tried again in a transaction of its
/// own, so that each voter gets the outcome of their own ballot.
fn write_batch(conn: &mut Connection, batch: &[Arc<QueuedCast>]) {
    let together = (|| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for cast in batch {
            outcomes.push(write_cast(&tx, cast)?);
        }
        tx.commit()?;
        Ok::<_, rusqlite::Error>(outcomes)
    })();
    match together {
        Ok(outcomes) => {
            for (cast, stored) in batch.iter().zip(outcomes) {
                set_outcome(cast, Ok(stored));
            }
        }
        Err(_) if batch.len() > 1 => {
            for cast in batch {
                let alone = (|| {
                    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    let stored = write_cast(&tx, cast)?;
                    tx.commit()?;
                    Ok(stored)
                })();
                set_outcome(cast, alone);
            }
        }
        Err(e) => {
            if let Some(cast) = batch.first() {
                set_outcome(cast, Err(e));
            }
        }
    }
}

/// The vote mark, the ballot and the mark's audit entry of one cast; `false` if the person had voted already.
fn write_cast(tx: &rusqlite::Transaction<'_>, cast: &QueuedCast) -> rusqlite::Result<bool> {
    let marked = tx
        .prepare_cached(
            "INSERT INTO voted (person_id, election_id, contest_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        )?
        .execute(params![cast.person_id, cast.election_id, cast.contest_id])?;
    if marked == 0 {
        return Ok(false);
    }
    tx.prepare_cached("INSERT INTO ballots (id, election_id, contest_id, ciphertext) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![cast.id.as_slice(), cast.election_id, cast.contest_id, cast.ciphertext])?;
    let actor = format!("voter:{}", cast.person_id);
    let detail = serde_json::json!({ "election": cast.election_id, "contest": cast.contest_id });
    audit::append(tx, cast.now, &actor, "vote_marked", &detail)?;
    Ok(true)
}

fn set_outcome(cast: &QueuedCast, outcome: rusqlite::Result<bool>) {
    if let Ok(mut slot) = cast.outcome.lock() {
        *slot = Some(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Casts from many threads at once (each voter twice, from two threads) share transactions: every voter gets
    /// exactly one stored ballot and one `AlreadyVoted`, marks equal ballots, and the audit chain holds.
    #[test]
    fn group_commit_decides_each_cast_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Db::open(&dir.path().join("v.sqlite")).unwrap());
        let now = Utc::now();
        let voters = 150;
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let db = Arc::clone(&db);
                std::thread::spawn(move || {
                    (0..voters)
                        .filter(|v| v % 4 == t % 4)
                        .map(|v| db.cast(&format!("p{v}"), "e", "c", &[t as u8; 8], now).is_ok())
                        .collect::<Vec<bool>>()
                })
            })
            .collect();
        let stored: usize = threads.into_iter().map(|t| t.join().unwrap().into_iter().filter(|ok| *ok).count()).sum();
        assert_eq!(stored, voters);
        let (marks, ballots, audit) = db
            .with(|c| {
                let n = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0));
                Ok((n("SELECT count(*) FROM voted")?, n("SELECT count(*) FROM ballots")?, audit::verify(c)?))
            })
            .unwrap();
        assert_eq!((marks, ballots), (voters as i64, voters as i64));
        assert_eq!(audit.first_broken, None);
        assert_eq!(audit.entries, voters as i64);
    }

    /// The reader connections see a cast as soon as it is committed.
    #[test]
    fn readers_see_committed_casts() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("v.sqlite")).unwrap();
        assert!(db.voted_contests("p", "e").unwrap().is_empty());
        db.cast("p", "e", "c", b"x", Utc::now()).unwrap();
        for _ in 0..READERS {
            assert_eq!(db.voted_contests("p", "e").unwrap(), vec!["c".to_owned()]);
        }
        assert!(matches!(db.cast("p", "e", "c", b"y", Utc::now()), Err(CastError::AlreadyVoted)));
    }
}
