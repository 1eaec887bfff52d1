//! Login challenges and voter sessions, in memory only: a restart logs everyone out, and no session ever
//! reaches the disk, let alone a ballot (R-VOTE-8). Sessions end a fixed time after login (R-VOTE-4); the voter
//! may extend one a limited number of times by logging in again with the same card (WCAG 2.2.1 Timing
//! Adjustable), which restarts the fixed time from the new login.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use shared::session::SessionClock;

use crate::db::Voter;

/// How long a login challenge is valid.
pub const CHALLENGE_SECONDS: i64 = 300;
/// The most challenges outstanding (older ones are dropped first).
pub const MAX_CHALLENGES: usize = 100_000;

/// A logged-in voter, or an applicant (a valid card that is not registered yet, logged in to apply).
///
/// Kept small: 100,000 voters may be logged in at once, and the verifier's memory target covers them all
/// (tracker issue 10). The token is the map's 32-byte key, the card is 32 bytes, and only applicant sessions keep
/// the certificate and serial their application needs.
#[derive(Clone, Debug)]
pub struct Session {
    /// The registered internet voter, if the card belongs to one.
    pub voter: Option<Voter>,
    /// The authentication certificate that logged in (an extension must come from the same card).
    pub card: CardId,
    /// What an applicant session keeps to bind an application to the card (R-REG-2); voting sessions keep none.
    pub applicant: Option<Arc<ApplicantCard>>,
    /// Start and absolute end.
    pub clock: SessionClock,
    /// How many times the session has been extended.
    pub extensions: u32,
}

/// A card's authentication certificate as a session keeps it: the SHA-256 of its DER.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CardId([u8; 32]);

impl CardId {
    /// From a certificate's fingerprint (lower-case hex SHA-256, as [`crate::certs::CheckedCert`] gives it).
    pub fn from_fingerprint(fingerprint: &str) -> Option<CardId> {
        hex32(fingerprint).map(CardId)
    }

    /// The fingerprint: lower-case hex, as stored with applications.
    pub fn fingerprint(&self) -> String {
        hex::encode(self.0)
    }
}

/// The authentication certificate of an applicant session, stored with an application (R-REG-2).
#[derive(Debug)]
pub struct ApplicantCard {
    /// The certificate's serial.
    pub serial: String,
    /// The certificate (DER).
    pub certificate: Vec<u8>,
}

/// Challenges and sessions.
#[derive(Default)]
pub struct Sessions {
    challenges: Mutex<HashMap<[u8; 32], DateTime<Utc>>>,
    sessions: Mutex<HashMap<[u8; 32], Session>>,
}

/// 32 bytes from 64 hex characters (a session token's cookie form, a fingerprint); anything else is `None`.
fn hex32(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok().map(|()| out)
}

fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    // Without the OS RNG there is no safe nonce or session token: stop rather than continue predictably.
    if getrandom::fill(&mut b).is_err() {
        std::process::abort();
    }
    b
}

impl Sessions {
    /// Issues a single-use 256-bit nonce.
    pub fn challenge(&self, now: DateTime<Utc>) -> [u8; 32] {
        let nonce = random32();
        if let Ok(mut map) = self.challenges.lock() {
            map.retain(|_, expires| *expires > now);
            if map.len() < MAX_CHALLENGES {
                map.insert(nonce, now + Duration::seconds(CHALLENGE_SECONDS));
            }
        }
        nonce
    }

    /// Consumes a nonce: true once, if it was issued and has not expired.
    pub fn take_challenge(&self, nonce: &[u8], now: DateTime<Utc>) -> bool {
        let Ok(nonce) = <[u8; 32]>::try_from(nonce) else { return false };
        self.challenges.lock().ok().and_then(|mut m| m.remove(&nonce)).is_some_and(|expires| expires > now)
    }

    /// Starts a session (its clock is set here); returns the token for the cookie.
    pub fn start(&self, mut session: Session, now: DateTime<Utc>, lifetime: Duration) -> (String, SessionClock) {
        let key = random32();
        session.clock = SessionClock::start(now, lifetime);
        let clock = session.clock;
        if let Ok(mut map) = self.sessions.lock() {
            map.retain(|_, s| s.clock.expires_at > now);
            map.insert(key, session);
        }
        let token = hex::encode(key);
        (token, clock)
    }

    /// Returns the live session of a token, or why there is none.
    pub fn get(&self, token: Option<&str>, now: DateTime<Utc>) -> Result<Session, SessionError> {
        let key = token.and_then(hex32).ok_or(SessionError::Missing)?;
        let map = self.sessions.lock().map_err(|_| SessionError::Missing)?;
        let s = map.get(&key).ok_or(SessionError::Missing)?;
        if s.clock.expires_at <= now { Err(SessionError::Expired) } else { Ok(s.clone()) }
    }

    /// Extends a live session after the same card logged in again: the new end is `lifetime` after `now`.
    /// Refuses another card, an ended session, and more than `limit` extensions.
    pub fn extend(
        &self,
        token: Option<&str>,
        card: CardId,
        now: DateTime<Utc>,
        lifetime: Duration,
        limit: u32,
    ) -> Result<Session, ExtendError> {
        let key = token.and_then(hex32).ok_or(ExtendError::Session(SessionError::Missing))?;
        let mut map = self.sessions.lock().map_err(|_| ExtendError::Session(SessionError::Missing))?;
        let s = map.get_mut(&key).ok_or(ExtendError::Session(SessionError::Missing))?;
        if s.clock.expires_at <= now {
            return Err(ExtendError::Session(SessionError::Expired));
        }
        if s.card != card {
            return Err(ExtendError::OtherCard);
        }
        if s.extensions >= limit {
            return Err(ExtendError::Limit);
        }
        s.extensions += 1;
        s.clock = SessionClock::start(now, lifetime);
        Ok(s.clone())
    }

    /// Ends a session.
    pub fn end(&self, token: &str) {
        if let (Some(key), Ok(mut map)) = (hex32(token), self.sessions.lock()) {
            map.remove(&key);
        }
    }
}

/// Why a request has no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    /// No cookie, or an unknown token (e.g. after a restart).
    Missing,
    /// The session's time is up.
    Expired,
}

/// Why a session was not extended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtendError {
    /// No live session.
    Session(SessionError),
    /// The card that logged in again is not the session's card.
    OtherCard,
    /// The session was already extended as often as allowed.
    Limit,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(c: char) -> CardId {
        CardId::from_fingerprint(&c.to_string().repeat(64)).unwrap()
    }

    fn voter() -> Session {
        let v = Voter { person_id: "p1".into(), municipality: "13101".into(), districts: vec!["tokyo".into()] };
        let now = Utc::now();
        Session {
            voter: Some(v),
            card: card('f'),
            applicant: None,
            clock: SessionClock::start(now, Duration::zero()),
            extensions: 0,
        }
    }

    #[test]
    fn challenges_are_single_use_and_expire() {
        let s = Sessions::default();
        let now = Utc::now();
        let n = s.challenge(now);
        assert!(s.take_challenge(&n, now));
        assert!(!s.take_challenge(&n, now), "single use");
        let n = s.challenge(now);
        assert!(!s.take_challenge(&n, now + Duration::seconds(CHALLENGE_SECONDS)), "expired");
        assert!(!s.take_challenge(&[0u8; 31], now));
    }

    #[test]
    fn sessions_end_absolutely() {
        let s = Sessions::default();
        let now = Utc::now();
        let (token, clock) = s.start(voter(), now, Duration::minutes(20));
        assert_eq!(clock.expires_at, now + Duration::minutes(20));
        assert!(s.get(Some(&token), now + Duration::minutes(19)).is_ok());
        assert_eq!(s.get(Some(&token), now + Duration::minutes(20)).unwrap_err(), SessionError::Expired);
        assert_eq!(s.get(Some("nope"), now).unwrap_err(), SessionError::Missing);
        s.end(&token);
        assert_eq!(s.get(Some(&token), now).unwrap_err(), SessionError::Missing);
    }

    #[test]
    fn extensions_restart_the_clock_for_the_same_card_up_to_the_limit() {
        let s = Sessions::default();
        let now = Utc::now();
        let life = Duration::minutes(20);
        let (token, _) = s.start(voter(), now, life);
        let t = Some(token.as_str());
        assert_eq!(s.extend(t, card('0'), now, life, 2).unwrap_err(), ExtendError::OtherCard);
        let later = now + Duration::minutes(19);
        let e = s.extend(t, card('f'), later, life, 2).unwrap();
        assert_eq!((e.extensions, e.clock.expires_at), (1, later + life));
        assert!(s.get(t, now + Duration::minutes(30)).is_ok(), "the new end counts");
        s.extend(t, card('f'), later, life, 2).unwrap();
        assert_eq!(s.extend(t, card('f'), later, life, 2).unwrap_err(), ExtendError::Limit);
        let end = later + life;
        assert_eq!(s.extend(t, card('f'), end, life, 9).unwrap_err(), ExtendError::Session(SessionError::Expired));
        assert_eq!(s.extend(None, card('f'), now, life, 9).unwrap_err(), ExtendError::Session(SessionError::Missing));
    }
}
