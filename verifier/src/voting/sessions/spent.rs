//! Where spent login nonces and session tokens are remembered (issue 24), by their 32-byte MAC tags, until their
//! time is over: the trait every store implements, and the in-memory set of one process. The one that front-ends
//! share is on PostgreSQL (`store::pg::spent::PgSpent`).
//!
//! What it must never do: hold anything but tags and their times (no card, person, session or ballot), or forget a
//! tag before its time (past the cap it refuses, [`SpentError::Full`]).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::MAX_USED_CHALLENGES;

/// Where spent nonces and session tokens are remembered, by their 32-byte MAC tags, until their time is over.
pub trait Spent: Send + Sync {
    /// Spends a tag until `expires`: true the first time, false if it was spent already.
    fn spend(&self, tag: [u8; 32], expires: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool, SpentError>;
    /// Whether a tag is spent.
    fn is_spent(&self, tag: &[u8; 32]) -> Result<bool, SpentError>;
    /// Forgets the tags whose time is over.
    fn prune(&self, now: DateTime<Utc>);
    /// How many tags are held (tests and health figures).
    fn held(&self) -> Result<usize, SpentError>;
}

/// Why a tag could not be spent or checked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpentError {
    /// The in-memory set holds [`MAX_USED_CHALLENGES`] tags within their time.
    #[error("the spent set is full: {MAX_USED_CHALLENGES} tags within their time")]
    Full,
    /// The shared store could not be reached or answered an error.
    #[error("the spent store cannot be reached: {0}")]
    Unavailable(String),
}

/// The spent tags of one process, in memory, capped at [`MAX_USED_CHALLENGES`].
#[derive(Default)]
pub struct MemorySpent {
    tags: Mutex<Tags>,
}

/// Spent tags and their times.
type Tags = HashMap<[u8; 32], DateTime<Utc>>;

impl MemorySpent {
    fn tags(&self) -> Result<std::sync::MutexGuard<'_, Tags>, SpentError> {
        self.tags.lock().map_err(|_| SpentError::Unavailable("the spent set's lock is poisoned".into()))
    }
}

impl Spent for MemorySpent {
    fn spend(&self, tag: [u8; 32], expires: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool, SpentError> {
        let mut tags = self.tags()?;
        if tags.contains_key(&tag) {
            return Ok(false);
        }
        if tags.len() >= MAX_USED_CHALLENGES {
            tags.retain(|_, e| *e > now);
            if tags.len() >= MAX_USED_CHALLENGES {
                return Err(SpentError::Full);
            }
        }
        tags.insert(tag, expires);
        Ok(true)
    }

    fn is_spent(&self, tag: &[u8; 32]) -> Result<bool, SpentError> {
        Ok(self.tags()?.contains_key(tag))
    }

    fn prune(&self, now: DateTime<Utc>) {
        if let Ok(mut tags) = self.tags() {
            tags.retain(|_, e| *e > now);
        }
    }

    fn held(&self) -> Result<usize, SpentError> {
        Ok(self.tags()?.len())
    }
}
