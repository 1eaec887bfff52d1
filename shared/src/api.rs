//! The JSON bodies of the verifier's voter API (`/api/v1`), shared so that the app and the server cannot drift.
//! Requests refuse unknown fields (a stray field is an error, never stored); responses accept them, so that an
//! app still cached in a browser keeps working when the server adds a field.

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

use crate::election::{Election, ElectionKind, Text};
use crate::jst::to_jst;
use crate::window::WindowState;

/// `GET /api/v1/time`: the server's clock, from which the app computes JST (R-VOTE-1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeResponse {
    /// Milliseconds since the Unix epoch.
    pub unix_ms: i64,
    /// The instant in UTC.
    pub utc: DateTime<Utc>,
    /// The same instant in JST (+09:00).
    pub jst: DateTime<FixedOffset>,
}

impl TimeResponse {
    /// Describes an instant.
    pub fn at(now: DateTime<Utc>) -> TimeResponse {
        TimeResponse { unix_ms: now.timestamp_millis(), utc: now, jst: to_jst(now) }
    }
}

/// The voting window in UTC and in JST.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowView {
    /// Opening instant, UTC.
    pub opens_at: DateTime<Utc>,
    /// Closing instant, UTC.
    pub closes_at: DateTime<Utc>,
    /// Opening instant, JST.
    pub opens_at_jst: DateTime<FixedOffset>,
    /// Closing instant, JST.
    pub closes_at_jst: DateTime<FixedOffset>,
    /// Where the server's clock is relative to the window.
    pub state: WindowState,
}

/// `GET /api/v1/elections/current`: the public facts of the election.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectionSummary {
    /// Identifier.
    pub id: String,
    /// Name.
    pub name: Text,
    /// Kind.
    pub kind: ElectionKind,
    /// The kind's name.
    pub kind_name: Text,
    /// A practice election (demo, UX research), not a real one.
    pub practice: bool,
    /// Public notice date (JST).
    pub notice_date: chrono::NaiveDate,
    /// Election day (JST).
    pub election_day: chrono::NaiveDate,
    /// The online voting window (R-VOTE-2).
    pub window: WindowView,
    /// The server's time when this was made.
    pub server_time: DateTime<Utc>,
    /// Why voting is paused, if it is (R-VOTE-3).
    pub paused: Option<String>,
    /// The server runs an INSECURE shifted test clock (a rehearsal, never a real election).
    #[serde(default)]
    pub insecure_test_clock: bool,
}

impl ElectionSummary {
    /// Describes an election as seen at an instant, with the pause reason if voting is paused.
    pub fn of(election: &Election, now: DateTime<Utc>, paused: Option<String>) -> ElectionSummary {
        let w = election.window();
        let (ja, en) = election.kind.text();
        ElectionSummary {
            id: election.id.to_string(),
            name: election.name.clone(),
            kind: election.kind,
            kind_name: Text { ja: ja.into(), en: en.into() },
            practice: election.practice,
            notice_date: election.notice_date,
            election_day: election.election_day,
            window: WindowView {
                opens_at: w.opens_at,
                closes_at: w.closes_at,
                opens_at_jst: to_jst(w.opens_at),
                closes_at_jst: to_jst(w.closes_at),
                state: w.state(now),
            },
            server_time: now,
            paused,
            insecure_test_clock: false,
        }
    }
}

/// Every refusal: a stable code and a sentence saying what to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable machine-readable code, e.g. `NOT_FOUND`.
    pub code: String,
    /// What happened and what to do next, for a person.
    pub message: String,
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::election::tests::sample_election;

    #[test]
    fn summary_shows_window_in_jst_and_state() {
        let e = sample_election();
        let now = DateTime::parse_from_rfc3339("2028-07-10T12:00:00+09:00").unwrap().with_timezone(&Utc);
        let s = ElectionSummary::of(&e, now, None);
        assert_eq!(s.window.opens_at_jst.to_rfc3339(), "2028-07-07T08:30:00+09:00");
        assert_eq!(s.window.closes_at_jst.to_rfc3339(), "2028-07-22T20:00:00+09:00");
        assert_eq!(s.window.state, WindowState::Open);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<ElectionSummary>(&json).unwrap(), s);
    }

    #[test]
    fn time_response_carries_jst() {
        let now = DateTime::parse_from_rfc3339("2026-11-24T15:00:00Z").unwrap().with_timezone(&Utc);
        let t = TimeResponse::at(now);
        assert_eq!(t.jst.to_rfc3339(), "2026-11-25T00:00:00+09:00");
        assert_eq!(t.unix_ms, now.timestamp_millis());
    }
}

/// `POST /api/v1/session/challenge`: a single-use nonce (base64, 32 bytes) valid for `expires_in` seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// The nonce, base64.
    pub nonce: String,
    /// Seconds it stays valid.
    pub expires_in: u64,
}

/// `POST /api/v1/session`: the authentication certificate and the card's signature over
/// `crypto::auth_digest(origin, nonce)`, made through the card helper.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// `vote` (the default: the certificate must belong to a registered internet voter) or `apply` (any valid
    /// card, to apply for or switch from internet voting, R-REG-1, R-REG-9).
    #[serde(default)]
    pub purpose: Option<String>,
    /// The nonce from the challenge, base64.
    pub nonce: String,
    /// The user-authentication certificate, DER in base64.
    pub certificate: String,
    /// PKCS#1 v1.5 SHA-256 signature, base64.
    pub signature: String,
}

/// The answer to a login: the session cookie is set; this says when it ends (absolute, R-VOTE-4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResponse {
    /// Server time of login.
    pub started_at: DateTime<Utc>,
    /// The session ends here unless the voter extends it by logging in again with the same card.
    pub expires_at: DateTime<Utc>,
    /// How many more times the session may be extended (WCAG 2.2.1).
    #[serde(default)]
    pub extensions_left: u32,
}

/// One contest on the voter's ballot, with whether this voter has voted in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContestView {
    /// The contest: candidates, parties and judges in display order with readings.
    pub contest: crate::election::Contest,
    /// Whether this voter's ballot in this contest has been accepted.
    pub voted: bool,
}

/// `GET /api/v1/ballot`: what the logged-in voter may vote on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BallotView {
    /// The election's id (bound into every ballot).
    pub election_id: String,
    /// The voter's contests (from the voter's municipality and districts).
    pub contests: Vec<ContestView>,
    /// The election public key, SubjectPublicKeyInfo DER in base64.
    pub public_key: String,
    /// Its fingerprint: hex SHA-256 of the DER (shown on the confirmation screen).
    pub key_fingerprint: String,
    /// When the session ends.
    pub session_expires_at: DateTime<Utc>,
    /// How many more times the session may be extended by re-authenticating with the card (WCAG 2.2.1).
    #[serde(default)]
    pub session_extensions_left: u32,
    /// When voting closes.
    pub window_closes_at: DateTime<Utc>,
    /// Why voting is paused, if it is (R-VOTE-3).
    pub paused: Option<String>,
}

/// `POST /api/v1/ballots`: one contest's encrypted ballot, the card's signature over
/// `crypto::envelope_digest(election, contest, ciphertext)`, and the signing certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CastRequest {
    /// The contest's id.
    pub contest: String,
    /// RSA-OAEP ciphertext, base64.
    pub ciphertext: String,
    /// PKCS#1 v1.5 SHA-256 signature, base64.
    pub signature: String,
    /// The signing certificate, DER in base64.
    pub certificate: String,
}

/// The receipt of an accepted ballot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CastReceipt {
    /// The contest.
    pub contest: String,
    /// The tracker: hex SHA-256 of the stored ciphertext, to check inclusion after the close.
    pub tracker: String,
}

/// What an application (申出) or a switch request (切替申出) says; its JSON bytes are what the card signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    /// `apply` (to vote online) or `switch` (back to paper voting).
    pub kind: String,
    /// The municipality code of the overseas roll entry (名簿登録地).
    pub municipality: String,
    /// The roll entry number, or none when the roll registration is pending.
    pub roll_entry: Option<String>,
    /// The roll registration is pending (R-REG-4).
    #[serde(default)]
    pub registration_pending: bool,
    /// Name, as in the signing certificate.
    pub name: String,
    /// Birth date, as in the signing certificate.
    pub birth_date: chrono::NaiveDate,
    /// Address abroad.
    pub address_abroad: String,
    /// E-mail address for notices (R-REG-7).
    pub email: String,
}

/// `POST /api/v1/applications`: the application's JSON (exact bytes signed), the signature and the signing
/// certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRequest {
    /// [`ApplicationInput`] as JSON text.
    pub application: String,
    /// PKCS#1 v1.5 SHA-256 signature over `crypto::application_digest(application)`, base64.
    pub signature: String,
    /// The signing certificate, DER in base64.
    pub certificate: String,
}

/// An application's state as the voter sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationStatus {
    /// The receipt number.
    pub receipt_no: String,
    /// `apply` or `switch`.
    pub kind: String,
    /// `awaiting_card`, `established`, `accepted`, `rejected`, or `kept_for_next_election`.
    pub status: String,
    /// The date it counts as received (R-REG-10).
    pub receipt_date: chrono::NaiveDate,
    /// The reason of a rejection.
    pub reason: Option<String>,
    /// Every exchange about it so far: (when, what), e.g. `application_received`, `card_arrived`, `accepted`.
    #[serde(default)]
    pub history: Vec<(String, String)>,
}

/// `GET /api/v1/client-config`: what the voter app needs to know about its surroundings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// The card helper's origin on the voter's PC, e.g. `http://127.0.0.1:24190`.
    pub card_helper_origin: String,
}
