//! The voting store's boundary (issue 24), one trait with its two backends: SQLite's [`Db`] and PostgreSQL's
//! [`PgStore`].

use super::pg::PgStore;
use super::{CastError, Db};

/// The voting store's boundary (issue 24): what the cast path needs, on SQLite ([`Db`], the embedded default: demo,
/// tests, one host) or on PostgreSQL ([`PgStore`]: a primary with a synchronous standby, shared by several
/// front-ends). `tests/voting_store.rs` runs the same behaviour on both.
pub trait VotingStore: Send + Sync {
    /// Casts one contest's ballot; the tracker (hex) once it is durable.
    fn cast(
        &self,
        person_id: &str,
        election_id: &str,
        contest_id: &str,
        ciphertext: &[u8],
    ) -> Result<String, CastError>;
    /// The contests of an election a person has voted in, sorted.
    fn voted_contests(&self, person_id: &str, election_id: &str) -> anyhow::Result<Vec<String>>;
    /// Ballots received per contest, sorted by contest.
    fn ballot_counts(&self, election_id: &str) -> anyhow::Result<Vec<(String, i64)>>;
    /// Voter marks per contest, sorted by contest.
    fn marks(&self, election_id: &str) -> anyhow::Result<Vec<(String, i64)>>;
    /// Seals the election's box after the close (this process's held batches enter it).
    fn seal(&self, election_id: &str) -> anyhow::Result<()>;
}

impl VotingStore for Db {
    fn cast(
        &self,
        person_id: &str,
        election_id: &str,
        contest_id: &str,
        ciphertext: &[u8],
    ) -> Result<String, CastError> {
        Db::cast(self, person_id, election_id, contest_id, ciphertext)
    }
    fn voted_contests(&self, person_id: &str, election_id: &str) -> anyhow::Result<Vec<String>> {
        let mut v = Db::voted_contests(self, person_id, election_id)?;
        v.sort();
        Ok(v)
    }
    fn ballot_counts(&self, election_id: &str) -> anyhow::Result<Vec<(String, i64)>> {
        let mut v = Db::ballot_counts(self, election_id)?;
        v.sort();
        Ok(v)
    }
    fn marks(&self, election_id: &str) -> anyhow::Result<Vec<(String, i64)>> {
        Ok(self.read(|c| {
            c.prepare_cached(
                "SELECT contest_id, count(*) FROM voted WHERE election_id = ?1 GROUP BY contest_id ORDER BY 1",
            )?
            .query_map([election_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()
        })?)
    }
    fn seal(&self, election_id: &str) -> anyhow::Result<()> {
        Db::seal(self, election_id)
    }
}

impl VotingStore for PgStore {
    fn cast(
        &self,
        person_id: &str,
        election_id: &str,
        contest_id: &str,
        ciphertext: &[u8],
    ) -> Result<String, CastError> {
        // The roll is not this store's: `Db` in front of it looks the municipality up (for the record).
        PgStore::cast(self, person_id, None, election_id, contest_id, ciphertext)
    }
    fn voted_contests(&self, person_id: &str, election_id: &str) -> anyhow::Result<Vec<String>> {
        PgStore::voted_contests(self, person_id, election_id)
    }
    fn ballot_counts(&self, election_id: &str) -> anyhow::Result<Vec<(String, i64)>> {
        let mut v = PgStore::ballot_counts(self, election_id)?;
        v.sort();
        Ok(v)
    }
    fn marks(&self, election_id: &str) -> anyhow::Result<Vec<(String, i64)>> {
        PgStore::marks(self, election_id)
    }
    fn seal(&self, election_id: &str) -> anyhow::Result<()> {
        PgStore::seal(self, election_id)
    }
}
