//! Login challenges and voter sessions, in memory only: a restart logs everyone out, and no session ever
//! reaches the disk, let alone a ballot (R-VOTE-8). Sessions end a fixed time after login (R-VOTE-4); the voter
//! may extend one a limited number of times by logging in again with the same card (WCAG 2.2.1 Timing
//! Adjustable), which restarts the fixed time from the new login.
//!
//! Challenges are stateless (issue 19): a nonce is its issue time, 8 random bytes and an HMAC under a key that lives
//! only in this process, so issuing one stores nothing and takes no lock, and no flood of challenges can crowd out
//! a voter's. A nonce is single-use through [`Sessions::consume_challenge`], which records only nonces over which
//! a card's signature verified: a login that fails costs no memory. Caps, and what happens there:
//! - used nonces: at most [`MAX_USED_CHALLENGES`] within their 5 minutes (each one a real card's login); past the
//!   cap a login is refused (`LOGIN_BUSY`, try again in a minute) rather than a nonce forgotten early;
//! - sessions: at most [`MAX_SESSIONS`] live ones (the whole roll logged in at once); past the cap a login is
//!   refused the same way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use shared::session::SessionClock;

use crate::store::Voter;

/// How long a login challenge is valid.
pub const CHALLENGE_SECONDS: i64 = 300;
/// The most used nonces remembered at once (each from a login whose card signature verified, within 5 minutes).
pub const MAX_USED_CHALLENGES: usize = 1_000_000;
/// The most live sessions (about ten times the roll of 100,000 voters).
pub const MAX_SESSIONS: usize = 1_000_000;
/// How far ahead of the server's clock a nonce's issue time may be (a clock adjusted backwards meanwhile).
const CHALLENGE_SKEW_SECONDS: i64 = 5;
const CHALLENGE_DOMAIN: &[u8] = b"jp-ivote:v1:challenge";
/// The length of a login nonce: issue time, random, HMAC-SHA256.
pub const NONCE_LEN: usize = 48;

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
pub struct Sessions {
    failures: Mutex<std::collections::BTreeMap<&'static str, u64>>,
    /// Refused casts by hour (Unix time / 3600) and refusal code: counts only, never who (R-SEC-5, issue 20).
    cast_refusals: Mutex<std::collections::BTreeMap<(i64, &'static str), u64>>,
    challenge_key: ring::hmac::Key,
    used: Mutex<HashMap<[u8; 32], DateTime<Utc>>>,
    sessions: Mutex<HashMap<[u8; 32], Session>>,
}

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions {
            failures: Mutex::default(),
            cast_refusals: Mutex::default(),
            challenge_key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &random32()),
            used: Mutex::default(),
            sessions: Mutex::default(),
        }
    }
}

/// Why a login cannot go on for now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeError {
    /// Not a nonce of this process, expired, or already used.
    Unknown,
    /// The used-nonce or session table is at its cap.
    Busy,
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
    /// Issues a [`NONCE_LEN`]-byte nonce: issue time (8 bytes), 8 random bytes, and HMAC-SHA256 over both under
    /// this process's key. Nothing is stored.
    pub fn challenge(&self, now: DateTime<Utc>) -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..8].copy_from_slice(&now.timestamp().to_be_bytes());
        nonce[8..16].copy_from_slice(&random32()[..8]);
        let tag = ring::hmac::sign(&self.challenge_key, &[CHALLENGE_DOMAIN, &nonce[..16]].concat());
        nonce[16..].copy_from_slice(tag.as_ref());
        nonce
    }

    /// Checks a nonce without using it: issued by this process, within its 5 minutes, not yet used. Returns its
    /// expiry. Takes no lock but the used set's, and stores nothing.
    pub fn check_challenge(&self, nonce: &[u8], now: DateTime<Utc>) -> Result<DateTime<Utc>, ChallengeError> {
        let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| ChallengeError::Unknown)?;
        // Constant time: ring compares the whole tag.
        ring::hmac::verify(&self.challenge_key, &[CHALLENGE_DOMAIN, &nonce[..16]].concat(), &nonce[16..])
            .map_err(|_| ChallengeError::Unknown)?;
        let mut issued = [0u8; 8];
        issued.copy_from_slice(&nonce[..8]);
        let issued = i64::from_be_bytes(issued);
        let age = now.timestamp() - issued;
        if !(-CHALLENGE_SKEW_SECONDS..CHALLENGE_SECONDS).contains(&age) {
            return Err(ChallengeError::Unknown);
        }
        let expires = DateTime::from_timestamp(issued + CHALLENGE_SECONDS, 0).ok_or(ChallengeError::Unknown)?;
        let used = self.used.lock().map_err(|_| ChallengeError::Busy)?;
        if used.contains_key(&nonce[16..]) { Err(ChallengeError::Unknown) } else { Ok(expires) }
    }

    /// Uses a nonce whose login signature verified: true once. Refuses a nonce that fails
    /// [`Sessions::check_challenge`], one already used, and any when [`MAX_USED_CHALLENGES`] are remembered.
    pub fn consume_challenge(&self, nonce: &[u8], now: DateTime<Utc>) -> Result<(), ChallengeError> {
        let expires = self.check_challenge(nonce, now)?;
        // The tag identifies the nonce (it is a MAC over the rest).
        let tag: [u8; 32] = nonce.get(16..).and_then(|t| t.try_into().ok()).ok_or(ChallengeError::Unknown)?;
        let mut used = self.used.lock().map_err(|_| ChallengeError::Busy)?;
        if used.len() >= MAX_USED_CHALLENGES {
            used.retain(|_, e| *e > now);
            if used.len() >= MAX_USED_CHALLENGES {
                return Err(ChallengeError::Busy);
            }
        }
        match used.entry(tag) {
            std::collections::hash_map::Entry::Occupied(_) => Err(ChallengeError::Unknown),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(expires);
                Ok(())
            }
        }
    }

    /// Forgets used nonces whose time is over (the serve loop calls it every minute).
    pub fn prune(&self, now: DateTime<Utc>) {
        if let Ok(mut used) = self.used.lock() {
            used.retain(|_, e| *e > now);
        }
        if let Ok(mut map) = self.sessions.lock() {
            map.retain(|_, s| s.clock.expires_at > now);
        }
    }

    /// Counts a failed login by its refusal code, in memory: nothing is written per request before a card has
    /// authenticated (issue 19). The counts go to the audit log as one row a minute
    /// ([`crate::voting::handlers::write_login_failures`]). At most one entry per stable code.
    pub fn count_failure(&self, code: &'static str) {
        if let Ok(mut f) = self.failures.lock() {
            *f.entry(code).or_default() += 1;
        }
    }

    /// Takes the failure counts gathered since the last call.
    pub fn take_failures(&self) -> std::collections::BTreeMap<&'static str, u64> {
        self.failures.lock().map(|mut f| std::mem::take(&mut *f)).unwrap_or_default()
    }

    /// Counts a refused cast by the hour and its code, in memory (at most one entry per hour and stable code);
    /// [`crate::voting::handlers::write_cast_refusals`] writes each hour as one audit row once it has ended.
    pub fn count_cast_refusal(&self, code: &'static str, now: DateTime<Utc>) {
        if let Ok(mut c) = self.cast_refusals.lock() {
            *c.entry((now.timestamp().div_euclid(3600), code)).or_default() += 1;
        }
    }

    /// Takes the refused-cast counts of the hours before `hour` (all of them with `i64::MAX`), by hour.
    pub fn take_cast_refusals_before(
        &self,
        hour: i64,
    ) -> std::collections::BTreeMap<i64, std::collections::BTreeMap<&'static str, u64>> {
        let mut out: std::collections::BTreeMap<i64, std::collections::BTreeMap<&'static str, u64>> =
            Default::default();
        if let Ok(mut c) = self.cast_refusals.lock() {
            let later = c.split_off(&(hour, ""));
            for ((h, code), n) in std::mem::replace(&mut *c, later) {
                out.entry(h).or_default().insert(code, n);
            }
        }
        out
    }

    /// How many used nonces and live sessions are held (for tests and the health figures).
    pub fn sizes(&self) -> (usize, usize) {
        let used = self.used.lock().map(|u| u.len()).unwrap_or(0);
        let sessions = self.sessions.lock().map(|s| s.len()).unwrap_or(0);
        (used, sessions)
    }

    /// Starts a session (its clock is set here); returns the token for the cookie, or `Busy` at
    /// [`MAX_SESSIONS`].
    pub fn start(
        &self,
        mut session: Session,
        now: DateTime<Utc>,
        lifetime: Duration,
    ) -> Result<(String, SessionClock), ChallengeError> {
        let key = random32();
        session.clock = SessionClock::start(now, lifetime);
        let clock = session.clock;
        let mut map = self.sessions.lock().map_err(|_| ChallengeError::Busy)?;
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| s.clock.expires_at > now);
            if map.len() >= MAX_SESSIONS {
                return Err(ChallengeError::Busy);
            }
        }
        map.insert(key, session);
        Ok((hex::encode(key), clock))
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
    fn challenges_are_single_use_expire_and_are_made_here() {
        let s = Sessions::default();
        let now = Utc::now();
        let n = s.challenge(now);
        assert!(s.check_challenge(&n, now).is_ok(), "checking does not use it");
        assert_eq!(s.consume_challenge(&n, now), Ok(()));
        assert_eq!(s.consume_challenge(&n, now), Err(ChallengeError::Unknown), "single use");
        assert_eq!(s.check_challenge(&n, now), Err(ChallengeError::Unknown));
        let n = s.challenge(now);
        let late = now + Duration::seconds(CHALLENGE_SECONDS);
        assert_eq!(s.consume_challenge(&n, late), Err(ChallengeError::Unknown), "expired");
        assert_eq!(s.check_challenge(&n, now - Duration::seconds(60)), Err(ChallengeError::Unknown), "future");
        assert_eq!(s.check_challenge(&[0u8; 31], now), Err(ChallengeError::Unknown));
        let mut forged = s.challenge(now);
        forged[8] ^= 1;
        assert_eq!(s.check_challenge(&forged, now), Err(ChallengeError::Unknown), "the MAC covers the random part");
        let other = Sessions::default().challenge(now);
        assert_eq!(s.check_challenge(&other, now), Err(ChallengeError::Unknown), "another process's nonce");
    }

    #[test]
    fn a_flood_of_challenges_stores_nothing_and_crowds_out_no_login() {
        let s = Sessions::default();
        let now = Utc::now();
        for _ in 0..200_000 {
            s.challenge(now);
        }
        assert_eq!(s.sizes(), (0, 0));
        let n = s.challenge(now);
        assert_eq!(s.consume_challenge(&n, now), Ok(()));
        assert_eq!(s.sizes(), (1, 0));
        s.prune(now + Duration::seconds(CHALLENGE_SECONDS));
        assert_eq!(s.sizes(), (0, 0), "used nonces are forgotten when their time is over");
    }

    #[test]
    fn sessions_end_absolutely() {
        let s = Sessions::default();
        let now = Utc::now();
        let (token, clock) = s.start(voter(), now, Duration::minutes(20)).unwrap();
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
        let (token, _) = s.start(voter(), now, life).unwrap();
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
