//! Login challenges and voter sessions (R-VOTE-4, R-VOTE-5), shared by every front-end that loads the same
//! 32-byte key ([`Sessions::shared`], issue 24: a restart logs no one out), or kept to one process under a random
//! key ([`Sessions::default`]: a restart logs everyone out). Both are stateless, an HMAC-SHA256 under a key derived
//! from that key: issuing one stores nothing and takes no lock, so no flood of challenges crowds out a voter's
//! (issue 19), and a front-end checks what another issued.
//! - A nonce is its issue time, 8 random bytes and the MAC. [`Sessions::consume_challenge`] spends its tag only once
//!   a card's signature over it verified: single use, and a failed login costs no memory.
//! - A token ([`TOKEN_LEN`] bytes, base64url in the cookie) carries its kind, the card (its authentication
//!   certificate's SHA-256), start and absolute end (R-VOTE-4), extensions so far, 8 random bytes and the MAC. An
//!   extension (the same card logging in again, WCAG 2.2.1) issues a new token, count raised and time restarted,
//!   and spends the old one, so a replayed old cookie extends nothing. A logout spends the token.
//! - Spent tags stay in a [`Spent`] store until their time is over, plus [`SPENT_GRACE_SECONDS`] for clocks that
//!   differ: [`MemorySpent`] in one process, `store::pg::spent::PgSpent` for several. A store that cannot be reached
//!   refuses the request (`STORAGE_UNAVAILABLE`, try again in a minute): it never looks like a logout, and a token
//!   whose tag was not checked is never accepted.
//! - An applicant session (purpose apply) keeps its certificate and serial for the application (R-REG-2) in this
//!   process's memory, by the token's tag: the application must reach the front-end the applicant logged in to;
//!   another answers as for a missing session (log in again).
//!
//! What it must never do: put a name, a person id, a certificate or a ballot in a token or a spent store (a token
//! names its card by the certificate's hash; the store holds MAC tags and times), or write a session to disk
//! (R-VOTE-8). Caps: at most [`MAX_USED_CHALLENGES`] spent tags in memory within their time (each from a real
//! card's login, extension or logout), then a login is refused (`LOGIN_BUSY`, try again in a minute) rather than a
//! tag forgotten early; at most [`MAX_APPLICANT_SESSIONS`] applicant sessions per process, refused the same way.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use ring::hmac;
use shared::session::SessionClock;

mod spent;
pub use spent::{MemorySpent, Spent, SpentError};

/// How long a login challenge is valid.
pub const CHALLENGE_SECONDS: i64 = 300;
/// The most spent tags held in memory at once (used nonces, ended and extended tokens, within their time).
pub const MAX_USED_CHALLENGES: usize = 1_000_000;
/// The most applicant sessions a process keeps (about ten times the roll of 100,000 voters).
pub const MAX_APPLICANT_SESSIONS: usize = 1_000_000;
/// How long past its time a spent tag is kept: front-ends' clocks may differ by this much.
pub const SPENT_GRACE_SECONDS: i64 = 60;
/// How far ahead of the server's clock a nonce's issue time may be (a clock adjusted backwards meanwhile).
const CHALLENGE_SKEW_SECONDS: i64 = 5;
const CHALLENGE_DOMAIN: &[u8] = b"jp-ivote:v1:challenge";
const SESSION_DOMAIN: &[u8] = b"jp-ivote:v1:session";
const CHALLENGE_KEY_LABEL: &[u8] = b"jp-ivote:v1:key:challenge";
const SESSION_KEY_LABEL: &[u8] = b"jp-ivote:v1:key:session";
/// The length of a login nonce: issue time, random, HMAC-SHA256.
pub const NONCE_LEN: usize = 48;
const TOKEN_VERSION: u8 = 1;
/// Version, kind, card (32), start and end (nanoseconds, 8 each), extensions (4), random (8).
const PAYLOAD_LEN: usize = 62;
/// The length of a session token: the payload and HMAC-SHA256 over it.
pub const TOKEN_LEN: usize = PAYLOAD_LEN + 32;

/// What kind of login a session comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    /// A login to vote (purpose vote).
    Voter,
    /// A login to apply or see one's applications (purpose apply), by any valid card.
    Applicant,
}

/// A live session as a token proves it: the card, not the voter (handlers look the card up on the roll, so a
/// voter removed mid-session is refused), and the clock.
#[derive(Clone, Debug)]
pub struct Session {
    /// Vote or apply.
    pub kind: SessionKind,
    /// The authentication certificate that logged in (an extension must come from the same card).
    pub card: CardId,
    /// An applicant session's certificate and serial (R-REG-2), if it logged in at this front-end.
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
        let mut out = [0u8; 32];
        hex::decode_to_slice(fingerprint, &mut out).ok().map(|()| CardId(out))
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

/// What a token says, before its MAC.
#[derive(Clone, Copy)]
struct Token {
    kind: SessionKind,
    card: CardId,
    clock: SessionClock,
    extensions: u32,
    random: [u8; 8],
}

impl Token {
    fn payload(&self) -> Option<[u8; PAYLOAD_LEN]> {
        let mut p = [0u8; PAYLOAD_LEN];
        p[0] = TOKEN_VERSION;
        p[1] = u8::from(self.kind == SessionKind::Applicant);
        p[2..34].copy_from_slice(&self.card.0);
        p[34..42].copy_from_slice(&self.clock.started_at.timestamp_nanos_opt()?.to_be_bytes());
        p[42..50].copy_from_slice(&self.clock.expires_at.timestamp_nanos_opt()?.to_be_bytes());
        p[50..54].copy_from_slice(&self.extensions.to_be_bytes());
        p[54..].copy_from_slice(&self.random);
        Some(p)
    }

    fn parse(p: &[u8]) -> Option<Token> {
        let at =
            |i: usize| p.get(i..i + 8)?.try_into().ok().map(|b| DateTime::from_timestamp_nanos(i64::from_be_bytes(b)));
        let kind = match (p.first()?, p.get(1)?) {
            (&TOKEN_VERSION, 0) => SessionKind::Voter,
            (&TOKEN_VERSION, 1) => SessionKind::Applicant,
            _ => return None,
        };
        Some(Token {
            kind,
            card: CardId(p.get(2..34)?.try_into().ok()?),
            clock: SessionClock { started_at: at(34)?, expires_at: at(42)? },
            extensions: u32::from_be_bytes(p.get(50..54)?.try_into().ok()?),
            random: p.get(54..PAYLOAD_LEN)?.try_into().ok()?,
        })
    }
}

/// Challenges and sessions.
pub struct Sessions {
    failures: Mutex<BTreeMap<&'static str, u64>>,
    /// Refused casts by hour (Unix time / 3600) and refusal code: counts only, never who (R-SEC-5, issue 20).
    cast_refusals: Mutex<BTreeMap<(i64, &'static str), u64>>,
    challenge_key: hmac::Key,
    session_key: hmac::Key,
    spent: Arc<dyn Spent>,
    /// Applicant sessions that logged in here, by token tag, with their end.
    applicants: Mutex<Applicants>,
}

/// Applicant sessions by token tag: the card's certificate and the session's end.
type Applicants = HashMap<[u8; 32], (Arc<ApplicantCard>, DateTime<Utc>)>;

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions::shared(random(), Arc::new(MemorySpent::default()))
    }
}

/// Why a login cannot go on for now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeError {
    /// Not a nonce made under this key, expired, or already used.
    Unknown,
    /// The spent set or the applicant sessions are at their cap.
    Busy,
    /// The spent store cannot be reached: nothing is known about the nonce.
    Unavailable,
}

/// Why a request has no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    /// No cookie, a token not made under this key, or one ended, extended or applying at another front-end.
    Missing,
    /// The session's time is up.
    Expired,
    /// The spent store cannot be reached: whether the session ended is unknown (it is not accepted).
    Unavailable,
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
    /// The spent set is at its cap.
    Busy,
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // Without the OS RNG there is no safe nonce or session token: stop rather than continue predictably.
    if getrandom::fill(&mut b).is_err() {
        std::process::abort();
    }
    b
}

fn derive(key: &[u8; 32], label: &[u8]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), label).as_ref())
}

fn challenge_error(e: SpentError) -> ChallengeError {
    if e == SpentError::Full { ChallengeError::Busy } else { ChallengeError::Unavailable }
}

impl Sessions {
    /// Makes challenges and sessions that every front-end loading the same `key` accepts, with spent tags in
    /// `spent` (which they must share too).
    pub fn shared(key: [u8; 32], spent: Arc<dyn Spent>) -> Sessions {
        Sessions {
            failures: Mutex::default(),
            cast_refusals: Mutex::default(),
            challenge_key: derive(&key, CHALLENGE_KEY_LABEL),
            session_key: derive(&key, SESSION_KEY_LABEL),
            spent,
            applicants: Mutex::default(),
        }
    }

    /// Issues a [`NONCE_LEN`]-byte nonce: issue time (8 bytes), 8 random bytes, and HMAC-SHA256 over both.
    /// Nothing is stored.
    pub fn challenge(&self, now: DateTime<Utc>) -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..8].copy_from_slice(&now.timestamp().to_be_bytes());
        nonce[8..16].copy_from_slice(&random::<8>());
        let tag = hmac::sign(&self.challenge_key, &[CHALLENGE_DOMAIN, &nonce[..16]].concat());
        nonce[16..].copy_from_slice(tag.as_ref());
        nonce
    }

    /// A nonce's tag (the MAC identifies it) and expiry, if it was made under this key and is within its time.
    fn open_nonce(&self, nonce: &[u8], now: DateTime<Utc>) -> Result<([u8; 32], DateTime<Utc>), ChallengeError> {
        let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| ChallengeError::Unknown)?;
        // Constant time: ring compares the whole tag.
        hmac::verify(&self.challenge_key, &[CHALLENGE_DOMAIN, &nonce[..16]].concat(), &nonce[16..])
            .map_err(|_| ChallengeError::Unknown)?;
        let mut issued = [0u8; 8];
        issued.copy_from_slice(&nonce[..8]);
        let issued = i64::from_be_bytes(issued);
        if !(-CHALLENGE_SKEW_SECONDS..CHALLENGE_SECONDS).contains(&(now.timestamp() - issued)) {
            return Err(ChallengeError::Unknown);
        }
        let expires = DateTime::from_timestamp(issued + CHALLENGE_SECONDS, 0).ok_or(ChallengeError::Unknown)?;
        let mut tag = [0u8; 32];
        tag.copy_from_slice(&nonce[16..]);
        Ok((tag, expires))
    }

    /// Checks a nonce without using it: made under this key, within its 5 minutes, not yet used. Returns its
    /// expiry. Stores nothing.
    pub fn check_challenge(&self, nonce: &[u8], now: DateTime<Utc>) -> Result<DateTime<Utc>, ChallengeError> {
        let (tag, expires) = self.open_nonce(nonce, now)?;
        if self.is_spent(&tag).map_err(challenge_error)? { Err(ChallengeError::Unknown) } else { Ok(expires) }
    }

    /// Uses a nonce whose login signature verified: once, at any front-end sharing the key and spent store.
    /// Refuses a nonce that fails [`Sessions::check_challenge`], and any when the spent set is full.
    pub fn consume_challenge(&self, nonce: &[u8], now: DateTime<Utc>) -> Result<(), ChallengeError> {
        let (tag, expires) = self.open_nonce(nonce, now)?;
        if self.spend(tag, expires, now).map_err(challenge_error)? { Ok(()) } else { Err(ChallengeError::Unknown) }
    }

    /// Spends a tag until `until` and the grace, logging a failure (the caller refuses the request).
    fn spend(&self, tag: [u8; 32], until: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool, SpentError> {
        let until = until + Duration::seconds(SPENT_GRACE_SECONDS);
        self.spent.spend(tag, until, now).inspect_err(|e| tracing::error!(error = %e, "a tag could not be spent"))
    }

    fn is_spent(&self, tag: &[u8; 32]) -> Result<bool, SpentError> {
        self.spent.is_spent(tag).inspect_err(|e| tracing::error!(error = %e, "the spent store cannot be read"))
    }

    /// Forgets spent tags and applicant sessions whose time is over (the serve loop calls it every minute).
    pub fn prune(&self, now: DateTime<Utc>) {
        self.spent.prune(now);
        if let Ok(mut map) = self.applicants.lock() {
            map.retain(|_, (_, end)| *end > now);
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
    pub fn take_failures(&self) -> BTreeMap<&'static str, u64> {
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
    pub fn take_cast_refusals_before(&self, hour: i64) -> BTreeMap<i64, BTreeMap<&'static str, u64>> {
        let mut out: BTreeMap<i64, BTreeMap<&'static str, u64>> = BTreeMap::new();
        if let Ok(mut c) = self.cast_refusals.lock() {
            let later = c.split_off(&(hour, ""));
            for ((h, code), n) in std::mem::replace(&mut *c, later) {
                out.entry(h).or_default().insert(code, n);
            }
        }
        out
    }

    /// How many spent tags and applicant sessions are held (for tests and the health figures); a spent store
    /// that cannot be reached counts 0.
    pub fn sizes(&self) -> (usize, usize) {
        let spent = self.spent.held().unwrap_or(0);
        (spent, self.applicants.lock().map(|m| m.len()).unwrap_or(0))
    }

    /// The token's text (base64url) and tag; an applicant's card is kept here by the tag.
    fn issue(
        &self,
        token: Token,
        applicant: Option<Arc<ApplicantCard>>,
        now: DateTime<Utc>,
    ) -> Result<(String, Session), ChallengeError> {
        let payload = token.payload().ok_or(ChallengeError::Unknown)?;
        let tag = hmac::sign(&self.session_key, &[SESSION_DOMAIN, &payload].concat());
        if let Some(a) = &applicant {
            let mut map = self.applicants.lock().map_err(|_| ChallengeError::Busy)?;
            if map.len() >= MAX_APPLICANT_SESSIONS {
                map.retain(|_, (_, end)| *end > now);
                if map.len() >= MAX_APPLICANT_SESSIONS {
                    return Err(ChallengeError::Busy);
                }
            }
            let key = tag.as_ref().try_into().map_err(|_| ChallengeError::Busy)?;
            map.insert(key, (Arc::clone(a), token.clock.expires_at));
        }
        let text = URL_SAFE_NO_PAD.encode([&payload[..], tag.as_ref()].concat());
        let Token { kind, card, clock, extensions, .. } = token;
        Ok((text, Session { kind, card, applicant, clock, extensions }))
    }

    /// A token's contents and tag, if its MAC verifies under this key (constant time); nothing about its time.
    fn open(&self, text: &str) -> Option<(Token, [u8; 32])> {
        if text.len() != TOKEN_LEN.div_ceil(3) * 4 - 2 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let (payload, tag) = bytes.split_at_checked(PAYLOAD_LEN)?;
        hmac::verify(&self.session_key, &[SESSION_DOMAIN, payload].concat(), tag).ok()?;
        Some((Token::parse(payload)?, tag.try_into().ok()?))
    }

    /// A token's contents and tag if it opens and its time is not over (whether it is spent is not checked).
    fn live(&self, token: Option<&str>, now: DateTime<Utc>) -> Result<(Token, [u8; 32]), SessionError> {
        let (t, tag) = token.and_then(|t| self.open(t)).ok_or(SessionError::Missing)?;
        if t.clock.expires_at <= now { Err(SessionError::Expired) } else { Ok((t, tag)) }
    }

    fn applicant(&self, tag: &[u8; 32]) -> Option<Arc<ApplicantCard>> {
        self.applicants.lock().ok()?.get(tag).map(|(a, _)| Arc::clone(a))
    }

    /// Starts a session for a card (an applicant's when `applicant` is given); returns the token for the cookie
    /// and the session, or `Busy` at [`MAX_APPLICANT_SESSIONS`].
    pub fn start(
        &self,
        card: CardId,
        applicant: Option<ApplicantCard>,
        now: DateTime<Utc>,
        lifetime: Duration,
    ) -> Result<(String, Session), ChallengeError> {
        let kind = if applicant.is_some() { SessionKind::Applicant } else { SessionKind::Voter };
        let token = Token { kind, card, clock: SessionClock::start(now, lifetime), extensions: 0, random: random() };
        self.issue(token, applicant.map(Arc::new), now)
    }

    /// Returns the live session of a token, or why there is none: its MAC, its end and its tag are checked.
    pub fn get(&self, token: Option<&str>, now: DateTime<Utc>) -> Result<Session, SessionError> {
        let (t, tag) = self.live(token, now)?;
        if self.is_spent(&tag).map_err(|_| SessionError::Unavailable)? {
            return Err(SessionError::Missing);
        }
        let applicant = if t.kind == SessionKind::Applicant { self.applicant(&tag) } else { None };
        Ok(Session { kind: t.kind, card: t.card, applicant, clock: t.clock, extensions: t.extensions })
    }

    /// Extends a live session after the same card logged in again: returns a new token whose end is `lifetime`
    /// after `now`, and spends the old one. Refuses another card, an ended session, and more than `limit`
    /// extensions.
    pub fn extend(
        &self,
        token: Option<&str>,
        card: CardId,
        now: DateTime<Utc>,
        lifetime: Duration,
        limit: u32,
    ) -> Result<(String, Session), ExtendError> {
        let missing = ExtendError::Session(SessionError::Missing);
        let (t, tag) = self.live(token, now).map_err(ExtendError::Session)?;
        if t.card != card {
            return Err(ExtendError::OtherCard);
        }
        if t.extensions >= limit {
            return Err(ExtendError::Limit);
        }
        let applicant = match t.kind {
            SessionKind::Applicant => Some(self.applicant(&tag).ok_or(missing)?),
            SessionKind::Voter => None,
        };
        let spent = self.spend(tag, t.clock.expires_at, now).map_err(|e| match e {
            SpentError::Full => ExtendError::Busy,
            SpentError::Unavailable(_) => ExtendError::Session(SessionError::Unavailable),
        })?;
        if !spent {
            return Err(missing);
        }
        self.forget_applicant(&tag);
        let clock = SessionClock::start(now, lifetime);
        let next = Token { extensions: t.extensions + 1, clock, random: random(), ..t };
        self.issue(next, applicant, now).map_err(|_| ExtendError::Busy)
    }

    /// Ends a session (logout): its token is spent at every front-end. A token not made under this key has
    /// nothing to end.
    pub fn end(&self, token: &str, now: DateTime<Utc>) -> Result<(), SpentError> {
        let Some((t, tag)) = self.open(token) else { return Ok(()) };
        self.spend(tag, t.clock.expires_at, now)?;
        self.forget_applicant(&tag);
        Ok(())
    }

    fn forget_applicant(&self, tag: &[u8; 32]) {
        if let Ok(mut map) = self.applicants.lock() {
            map.remove(tag);
        }
    }
}

#[cfg(test)]
mod tests;
