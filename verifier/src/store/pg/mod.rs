//! The voting store on PostgreSQL (issue 24): who voted in which contest (`roll.voted`) and the ballot box
//! (`ballot_box.*`, crate `ballot-box`'s [`PgBox`]), in one database on a primary with a synchronous standby, shared
//! by every front-end. SQLite ([`crate::store::Db`]) stays the embedded default.
//!
//! **One transaction per group of casts.** Casts waiting at a front-end are written together (group commit, as
//! on SQLite: one synchronous commit for the group), in random order, each decided on its own. A cast's mark (`INSERT … ON CONFLICT DO NOTHING`: a second cast in the
//! contest finds the mark and is refused, decided by the primary key under concurrency from any number of
//! front-ends) and the ballot's sealed pool entry commit together. The primary is configured to wait for its
//! synchronous standby (`synchronous_commit = on`, see `pg-lab` and the README): a commit has returned, and a
//! receipt is given, only once the standby has flushed it, so losing the primary loses no receipted ballot.
//!
//! **A commit whose outcome is unknown.** If the connection fails while the commit is under way (the primary
//! died), the store reconnects through the multi-host connection string (`target_session_attrs=read-write` finds
//! the promoted standby) and asks whether the pool holds this cast's entry, by its random entry id kept in this
//! process's memory for the length of the call: if it does, the cast committed and the receipt is given; if not,
//! neither the mark nor the entry exists (one transaction) and the cast is made again. A voter is never told
//! "already voted" for a ballot that was receipted nowhere, and never holds a receipt the store lacks.
//!
//! What it must never do: write a person next to a ballot in clear (the commit holds a sealed pool entry only,
//! module notes of [`PgBox`]); give a receipt before the commit returned; retry a cast whose commit may have
//! happened without first asking the store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ballot_box::pg::PgBox;
use postgres::{Client, GenericClient};
use shared::crypto::ElectionPublicKey;

use super::CastError;

mod group;
pub mod link;
pub mod spent;

/// The roll side's tables: the marks (with the municipality each was cast under, for its record, R-VOTE-12), the
/// emergency paper votes declared (R-VOTE-11), and the elections' public keys (which wrap the box's batch keys).
pub const SCHEMA: &str = "
CREATE SCHEMA IF NOT EXISTS roll;
CREATE TABLE IF NOT EXISTS roll.elections (id text PRIMARY KEY, public_key_spki bytea NOT NULL);
CREATE TABLE IF NOT EXISTS roll.voted (
    election_id text NOT NULL,
    contest_id text NOT NULL,
    person_id text NOT NULL,
    municipality text,
    PRIMARY KEY (election_id, contest_id, person_id)
);
CREATE TABLE IF NOT EXISTS roll.emergency (
    election_id text NOT NULL,
    person_id text NOT NULL,
    PRIMARY KEY (election_id, person_id)
);
";

/// A person's lock in an election (two 32-bit advisory lock keys, class 24: never the bigint form of
/// [`PgStore::connect`]'s), over columns `e` and `p`: every cast group takes it shared, an emergency declaration
/// alone, so that of a cast and a declaration for one person exactly one wins (R-VOTE-11).
const PERSON_LOCK: &str = "24, hashtext(e || '/' || p)";

/// How long a cast keeps trying to reach a primary (a failover takes a few seconds) before it is refused with
/// `STORAGE_UNAVAILABLE`, nothing recorded.
pub const RECONNECT_FOR: Duration = Duration::from_secs(30);

/// One front-end's connection to the voting store on PostgreSQL, and the batches of the box it holds.
pub struct PgStore {
    endpoint: link::Endpoint,
    client: Mutex<Option<Client>>,
    ballot_box: PgBox,
    keys: Mutex<HashMap<String, Arc<ElectionPublicKey>>>,
    /// Casts waiting for this front-end's writer ([`group`]).
    queue: group::Queue,
    /// Groups whose commit was cut off, and how many of those the store turned out to hold.
    cut_off: (AtomicU64, AtomicU64),
    /// How long a call keeps trying to reach a primary: [`RECONNECT_FOR`], shorter in tests.
    reconnect_for: Duration,
}

impl PgStore {
    /// Connects (`conninfo` is libpq's key=value form, e.g. two hosts and `target_session_attrs=read-write`) and
    /// creates the tables if missing, under an advisory lock so that front-ends starting together do not race.
    pub fn connect(conninfo: &str, batch: usize) -> anyhow::Result<PgStore> {
        PgStore::open(conninfo, None, batch)
    }

    /// [`PgStore::connect`] over TLS when `tls` is given ([`link`]: a plaintext link to another host is refused).
    pub fn open(conninfo: &str, tls: Option<&link::TlsFiles>, batch: usize) -> anyhow::Result<PgStore> {
        let endpoint = link::Endpoint::new(conninfo, tls)?;
        let mut client = endpoint.connect()?;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock(2024062401)", &[])?;
        tx.batch_execute(SCHEMA)?;
        PgBox::migrate(&mut tx)?;
        tx.commit()?;
        Ok(PgStore {
            endpoint,
            client: Mutex::new(Some(client)),
            ballot_box: PgBox::new(batch)?,
            keys: Mutex::default(),
            queue: group::Queue::default(),
            cut_off: (AtomicU64::new(0), AtomicU64::new(0)),
            reconnect_for: RECONNECT_FOR,
        })
    }

    /// The same store giving up on an unreachable primary after `wait` rather than [`RECONNECT_FOR`] (tests).
    pub fn giving_up_after(mut self, wait: Duration) -> PgStore {
        self.reconnect_for = wait;
        self
    }

    /// Records an election's public key (once; the same key again is accepted).
    pub fn create_election(&self, election_id: &str, key: &ElectionPublicKey) -> anyhow::Result<()> {
        self.with_client(|c| {
            c.execute(
                "INSERT INTO roll.elections (id, public_key_spki) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                &[&election_id, &key.spki_der()],
            )
        })?;
        Ok(())
    }

    /// Casts one contest's ballot: the mark and the sealed pool entry in one transaction with the other casts
    /// waiting at this front-end (group commit, [`group`]), receipted (the tracker, hex) once the commit returned;
    /// see the module notes for a commit cut off by a failover.
    ///
    /// `municipality` is the roll's, kept with the mark for the municipality's record (R-VOTE-12); the roll itself
    /// stays in each front-end's own store.
    pub fn cast(
        &self,
        person_id: &str,
        municipality: Option<&str>,
        election_id: &str,
        contest_id: &str,
        ciphertext: &[u8],
    ) -> Result<String, CastError> {
        group::cast(self, group::Job::new(person_id, municipality, election_id, contest_id, ciphertext))
    }

    /// Declares an emergency paper vote (R-VOTE-11) unless the person has a mark in the election: `false` then.
    /// Decided under the person's lock, held alone, which every cast group takes shared: of a declaration and a
    /// cast for one person, exactly one wins. Declaring twice is accepted.
    pub fn declare_emergency(&self, person_id: &str, election_id: &str) -> anyhow::Result<bool> {
        self.with_client(|c| {
            let mut tx = c.transaction()?;
            let lock =
                format!("SELECT pg_advisory_xact_lock({PERSON_LOCK}) FROM (VALUES ($1::text, $2::text)) AS t(e, p)");
            tx.query(&lock, &[&election_id, &person_id])?;
            let voted: i64 = tx
                .query_one(
                    "SELECT count(*) FROM roll.voted WHERE election_id = $1 AND person_id = $2",
                    &[&election_id, &person_id],
                )?
                .get(0);
            if voted > 0 {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO roll.emergency (election_id, person_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&election_id, &person_id],
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    /// Moves a person's marks and emergency declarations to a new person id (a pending registration completed by
    /// the roll, R-REG-4), as the roll's own store moves its rows; a row the new id already has stays as it was.
    pub fn rename_person(&self, old: &str, new: &str) -> anyhow::Result<()> {
        self.with_client(|c| {
            let mut tx = c.transaction()?;
            for table in ["roll.voted", "roll.emergency"] {
                let key = if table == "roll.voted" {
                    "w.election_id = v.election_id AND w.contest_id = v.contest_id"
                } else {
                    "w.election_id = v.election_id"
                };
                tx.execute(
                    &format!(
                        "UPDATE {table} v SET person_id = $2 WHERE person_id = $1
                         AND NOT EXISTS (SELECT 1 FROM {table} w WHERE {key} AND w.person_id = $2)"
                    ),
                    &[&old, &new],
                )?;
            }
            tx.commit()
        })
    }

    /// Whether a person declared an emergency paper vote in an election.
    pub fn emergency_declared(&self, person_id: &str, election_id: &str) -> anyhow::Result<bool> {
        self.with_client(|c| {
            let row = c.query_one(
                "SELECT count(*) > 0 FROM roll.emergency WHERE election_id = $1 AND person_id = $2",
                &[&election_id, &person_id],
            )?;
            Ok(row.get(0))
        })
    }

    /// The marks of one municipality's voters in an election, (person, contest) sorted: its record (R-VOTE-12).
    pub fn marks_of_municipality(
        &self,
        municipality: &str,
        election_id: &str,
    ) -> anyhow::Result<Vec<(String, String)>> {
        self.with_client(|c| {
            let rows = c.query(
                "SELECT person_id, contest_id FROM roll.voted WHERE municipality = $1 AND election_id = $2
                 ORDER BY person_id, contest_id",
                &[&municipality, &election_id],
            )?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn election_key(
        &self,
        client: &mut impl GenericClient,
        election_id: &str,
    ) -> Result<Arc<ElectionPublicKey>, CastError> {
        if let Some(k) = self.keys.lock().map_err(|_| unavailable("lock"))?.get(election_id) {
            return Ok(Arc::clone(k));
        }
        let row = client
            .query_opt("SELECT public_key_spki FROM roll.elections WHERE id = $1", &[&election_id])
            .map_err(unavailable)?;
        let spki: Vec<u8> = row.ok_or_else(|| unavailable("no such election in the voting store"))?.get(0);
        let key = Arc::new(ElectionPublicKey::from_spki_der(&spki).map_err(unavailable)?);
        self.keys.lock().map_err(|_| unavailable("lock"))?.insert(election_id.into(), Arc::clone(&key));
        Ok(key)
    }

    fn connected<'a>(&self, guard: &'a mut MutexGuard<'_, Option<Client>>) -> Result<&'a mut Client, postgres::Error> {
        if guard.as_ref().is_none_or(Client::is_closed) {
            **guard = None;
        }
        match &mut **guard {
            Some(c) => Ok(c),
            slot @ None => Ok(slot.insert(self.endpoint.connect()?)),
        }
    }

    /// Runs `f` on the connection, reconnecting first if it is closed. If the connection fails (no server answer,
    /// as in a failover or a switchover's clean stop: [`lost_connection`]) `f` runs again on a new one, for at most
    /// [`RECONNECT_FOR`]: so `f` must be a read or a transaction that may run twice (an `ON CONFLICT DO NOTHING`, a
    /// seal that skips what it did). A statement the server refused is not retried.
    pub fn with_client<T>(&self, mut f: impl FnMut(&mut Client) -> Result<T, postgres::Error>) -> anyhow::Result<T> {
        let since = std::time::Instant::now();
        let mut guard = self.client.lock().map_err(|_| anyhow::anyhow!("the store's lock is poisoned"))?;
        loop {
            let failure = match self.connected(&mut guard).and_then(&mut f) {
                Ok(v) => return Ok(v),
                Err(e) if !lost_connection(&e) => return Err(e.into()),
                Err(e) => e,
            };
            *guard = None;
            if since.elapsed() >= self.reconnect_for {
                return Err(failure.into());
            }
            tracing::warn!(error = %failure, "voting store unreachable; reconnecting");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// How many groups of casts had their commit cut off (the connection failed in it), and how many of those
    /// the store turned out to hold (receipted then); the others were made again.
    pub fn cut_off_commits(&self) -> (u64, u64) {
        (self.cut_off.0.load(Ordering::Relaxed), self.cut_off.1.load(Ordering::Relaxed))
    }

    /// The contests of an election a person has voted in.
    pub fn voted_contests(&self, person_id: &str, election_id: &str) -> anyhow::Result<Vec<String>> {
        self.with_client(|c| {
            let rows = c.query(
                "SELECT contest_id FROM roll.voted WHERE person_id = $1 AND election_id = $2 ORDER BY contest_id",
                &[&person_id, &election_id],
            )?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    /// Marks per contest of an election.
    pub fn marks(&self, election_id: &str) -> anyhow::Result<Vec<(String, i64)>> {
        self.with_client(|c| {
            let rows = c.query(
                "SELECT contest_id, count(*) FROM roll.voted WHERE election_id = $1 GROUP BY contest_id ORDER BY 1",
                &[&election_id],
            )?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    /// Ballots received per contest (box, this front-end's pool and every other pool batch), as `Db` counts them.
    pub fn ballot_counts(&self, election_id: &str) -> anyhow::Result<Vec<(String, i64)>> {
        let mut guard = self.client.lock().map_err(|_| anyhow::anyhow!("the store's lock is poisoned"))?;
        let client = self.connected(&mut guard)?;
        let counts = self.ballot_box.counts(client, election_id)?;
        Ok(counts.iter().map(|c| (c.contest.clone(), c.total() as i64)).collect())
    }

    /// Seals the election on this front-end's side: its held batches enter the box.
    pub fn seal(&self, election_id: &str) -> anyhow::Result<()> {
        let mut guard = self.client.lock().map_err(|_| anyhow::anyhow!("the store's lock is poisoned"))?;
        let client = self.connected(&mut guard)?;
        Ok(self.ballot_box.seal(client, election_id)?)
    }

    /// A contest's ballots in the box in tracker order, and the batches whose keys this front-end does not hold
    /// (for the export, after every front-end has sealed).
    pub fn contest_contents(&self, election_id: &str, contest_id: &str) -> anyhow::Result<ContestContents> {
        let mut guard = self.client.lock().map_err(|_| anyhow::anyhow!("the store's lock is poisoned"))?;
        let client = self.connected(&mut guard)?;
        let cts = PgBox::ciphertexts(client, election_id, contest_id)?;
        Ok((cts, self.ballot_box.unopened_batches(client, election_id, contest_id)?))
    }

    /// Rows of any kind the box holds for an election, and the marks: both 0 before the opening.
    pub fn rows_and_marks(&self, election_id: &str) -> anyhow::Result<(u64, i64)> {
        let marks: i64 = self.marks(election_id)?.iter().map(|(_, n)| n).sum();
        Ok((self.with_client(|c| PgBox::rows(c, election_id))?, marks))
    }

    /// Whether the election's box was sealed.
    pub fn is_sealed(&self, election_id: &str) -> anyhow::Result<bool> {
        self.with_client(|c| PgBox::is_sealed(c, election_id))
    }

    /// The trackers in the box, and the copies dropped per contest (checks after the seal).
    pub fn box_contents(&self, election_id: &str) -> anyhow::Result<BoxContents> {
        self.with_client(|c| Ok((PgBox::trackers(c, election_id)?, PgBox::duplicates(c, election_id)?)))
    }
}

impl Drop for PgStore {
    /// The synchronous client ends its connection on a runtime of its own, which cannot start on a thread of the
    /// server's runtime (its last owner may be a task dropped when `serve` stops): it is closed on a thread of
    /// its own then.
    fn drop(&mut self) {
        if tokio::runtime::Handle::try_current().is_ok()
            && let Some(client) = self.client.get_mut().ok().and_then(Option::take)
        {
            let _ = std::thread::spawn(move || drop(client)).join();
        }
    }
}

/// A contest's ciphertexts in the box, and its unopened batches.
pub type ContestContents = (Vec<Vec<u8>>, Vec<ballot_box::UnopenedBatch>);

/// The trackers in a box, and the copies dropped per contest.
pub type BoxContents = (Vec<[u8; 32]>, Vec<(String, i64)>);

/// Whether an error means the server went away rather than refused a statement: no answer at all, a connection
/// exception (SQLSTATE class 08), or the server stopping or not yet taking connections (57P01..57P03: a planned
/// switchover's clean stop sends these).
fn lost_connection(e: &postgres::Error) -> bool {
    e.is_closed() || e.code().is_none_or(|c| c.code().starts_with("08") || c.code().starts_with("57P"))
}

pub(super) fn unavailable(e: impl std::fmt::Display) -> CastError {
    CastError::Unavailable(e.to_string())
}
