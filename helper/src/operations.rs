//! Pending card operations. Each one is created by an allowed origin's API call, confirmed (or cancelled) by the
//! voter on the helper's own page at a one-time confirmation URL, and its result is polled by the same origin.
//!
//! Two random identifiers keep the roles apart: the operation id (for polling, known to the voting page) and the
//! confirmation id (in the URL of the helper's page). An operation lives 5 minutes; its result is handed out once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::backend::Signed;
use crate::pin::KeyKind;
use crate::requests::Shown;

/// How long an operation waits for the voter.
pub const LIFETIME: Duration = Duration::from_secs(300);
/// The most operations pending at once (a page cannot fill the helper's memory).
pub const MAX_PENDING: usize = 32;

/// What the voter is asked to approve, or shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Log in: sign `shared::crypto::auth_digest(origin, challenge)` with the authentication key.
    Authenticate {
        /// The digest to sign.
        digest: [u8; 32],
    },
    /// Sign with the signing key a digest that the helper computed itself, from a ballot or an application
    /// ([`crate::requests`]), and described in words the helper made itself.
    Sign {
        /// The digest to sign.
        digest: [u8; 32],
        /// What the helper's page shows.
        shown: Shown,
    },
    /// Show the voter what a challenged ballot holds (the Benaloh check): no key, nothing signed.
    Check {
        /// What the helper's page shows.
        shown: Shown,
    },
}

impl Request {
    /// Returns the key this request needs; a check needs none.
    pub fn kind(&self) -> Option<KeyKind> {
        match self {
            Request::Authenticate { .. } => Some(KeyKind::Auth),
            Request::Sign { .. } => Some(KeyKind::Sign),
            Request::Check { .. } => None,
        }
    }

    /// Returns the digest to sign; a check has none.
    pub fn digest(&self) -> Option<&[u8; 32]> {
        match self {
            Request::Authenticate { digest } | Request::Sign { digest, .. } => Some(digest),
            Request::Check { .. } => None,
        }
    }
}

/// Where an operation is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for the voter; the last refusal (e.g. a wrong PIN) is kept to show it.
    Pending {
        /// The last refusal's code, if any.
        last_error: Option<&'static str>,
    },
    /// Signed.
    Done(Signed),
    /// The voter cancelled.
    Cancelled,
    /// It cannot succeed (e.g. the key locked); the code says why.
    Failed(&'static str),
}

/// One operation.
#[derive(Clone, Debug)]
pub struct Operation {
    /// The polling id.
    pub id: String,
    /// The confirmation page's id.
    pub confirm_id: String,
    /// The origin that asked (from its `Origin` header).
    pub origin: String,
    /// What is asked.
    pub request: Request,
    /// Where it is.
    pub state: State,
    created: Instant,
}

impl Operation {
    /// Returns whether the operation has outlived [`LIFETIME`].
    pub fn expired(&self) -> bool {
        self.created.elapsed() > LIFETIME
    }

    /// Returns the seconds left before it expires.
    pub fn seconds_left(&self) -> u64 {
        LIFETIME.saturating_sub(self.created.elapsed()).as_secs()
    }
}

/// Why an operation was not found or cannot be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// No such id (or it belongs to another origin).
    #[error("unknown operation")]
    Unknown,
    /// It outlived its 5 minutes.
    #[error("the operation expired")]
    Expired,
    /// Too many pending.
    #[error("too many pending operations")]
    Busy,
    /// It is finished and cannot be confirmed again.
    #[error("the operation is already finished")]
    Finished,
}

/// All operations, in memory only (a restart forgets them, which is the safe way).
#[derive(Default)]
pub struct Operations {
    map: Mutex<HashMap<String, Operation>>,
}

/// Returns a random 128-bit identifier in hex.
pub fn random_id() -> String {
    let mut b = [0u8; 16];
    // The OS RNG failing means the machine cannot do cryptography at all; ids must never be predictable.
    if getrandom::fill(&mut b).is_err() {
        std::process::abort();
    }
    hex::encode(b)
}

impl Operations {
    /// Creates a pending operation for an origin.
    pub fn create(&self, origin: &str, request: Request) -> Result<Operation, OpError> {
        let mut map = self.map.lock().map_err(|_| OpError::Busy)?;
        map.retain(|_, op| !op.expired());
        if map.len() >= MAX_PENDING {
            return Err(OpError::Busy);
        }
        let op = Operation {
            id: random_id(),
            confirm_id: random_id(),
            origin: origin.to_string(),
            request,
            state: State::Pending { last_error: None },
            created: Instant::now(),
        };
        map.insert(op.id.clone(), op.clone());
        Ok(op)
    }

    /// Returns the operation by polling id for its origin; a finished result is handed out once and removed.
    pub fn poll(&self, id: &str, origin: &str) -> Result<Operation, OpError> {
        let mut map = self.map.lock().map_err(|_| OpError::Busy)?;
        let op = map.get(id).filter(|op| op.origin == origin).cloned().ok_or(OpError::Unknown)?;
        if op.expired() {
            map.remove(id);
            return Err(OpError::Expired);
        }
        if !matches!(op.state, State::Pending { .. }) {
            map.remove(id);
        }
        Ok(op)
    }

    /// Returns a pending operation by confirmation id.
    pub fn by_confirm_id(&self, confirm_id: &str) -> Result<Operation, OpError> {
        let map = self.map.lock().map_err(|_| OpError::Busy)?;
        let op = map.values().find(|op| op.confirm_id == confirm_id).cloned().ok_or(OpError::Unknown)?;
        if op.expired() {
            return Err(OpError::Expired);
        }
        if !matches!(op.state, State::Pending { .. }) {
            return Err(OpError::Finished);
        }
        Ok(op)
    }

    /// Sets the state of an operation (by polling id).
    pub fn set_state(&self, id: &str, state: State) {
        if let Ok(mut map) = self.map.lock()
            && let Some(op) = map.get_mut(id)
        {
            op.state = state;
        }
    }

    /// Cancels a pending operation of an origin.
    pub fn cancel(&self, id: &str, origin: &str) -> Result<(), OpError> {
        let mut map = self.map.lock().map_err(|_| OpError::Busy)?;
        match map.get_mut(id) {
            Some(op) if op.origin == origin => {
                op.state = State::Cancelled;
                Ok(())
            }
            _ => Err(OpError::Unknown),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Request {
        Request::Authenticate { digest: [1; 32] }
    }

    #[test]
    fn ids_are_random_and_distinct() {
        let ops = Operations::default();
        let a = ops.create("https://a", auth()).unwrap();
        let b = ops.create("https://a", auth()).unwrap();
        assert_ne!(a.id, b.id);
        assert_ne!(a.id, a.confirm_id);
        assert_eq!(a.id.len(), 32);
    }

    #[test]
    fn another_origin_cannot_poll_or_cancel() {
        let ops = Operations::default();
        let a = ops.create("https://a", auth()).unwrap();
        assert_eq!(ops.poll(&a.id, "https://evil").unwrap_err(), OpError::Unknown);
        assert_eq!(ops.cancel(&a.id, "https://evil").unwrap_err(), OpError::Unknown);
        assert!(matches!(ops.poll(&a.id, "https://a").unwrap().state, State::Pending { .. }));
    }

    #[test]
    fn results_are_handed_out_once_and_confirmation_is_one_time() {
        let ops = Operations::default();
        let a = ops.create("https://a", auth()).unwrap();
        ops.set_state(&a.id, State::Done(Signed { signature: vec![1], certificate: vec![2] }));
        assert_eq!(ops.by_confirm_id(&a.confirm_id).unwrap_err(), OpError::Finished);
        assert!(matches!(ops.poll(&a.id, "https://a").unwrap().state, State::Done(_)));
        assert_eq!(ops.poll(&a.id, "https://a").unwrap_err(), OpError::Unknown);
    }

    #[test]
    fn pending_operations_are_capped() {
        let ops = Operations::default();
        for _ in 0..MAX_PENDING {
            ops.create("https://a", auth()).unwrap();
        }
        assert_eq!(ops.create("https://a", auth()).unwrap_err(), OpError::Busy);
    }
}
