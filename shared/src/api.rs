//! The JSON bodies of the verifier's voter API (`/api/v1`), shared so that the app and the server cannot drift.
//! Requests refuse unknown fields (a stray field is an error, never stored); responses accept them, so that an
//! app still cached in a browser keeps working when the server adds a field.
//!
//! Map: the public facts (time, election, definition, health, refusals) are here; `session`: the card login;
//! `voting`: the voter's ballot and the cast; `application`: applications (申出) and their state; `research`:
//! the client configuration with the UX research's modes, and the task metrics.

mod application;
mod research;
mod session;
mod voting;

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

use crate::election::{Election, ElectionKind, Text};
use crate::jst::to_jst;
use crate::window::WindowState;
use crate::wire::Base64;

pub use application::{ApplicationInput, ApplicationRequest, ApplicationStatus};
pub use research::{
    Assignment, ClientConfig, DisplayCode, DrumStart, MAX_TASK_MS, ResearchConfig, SelectionCode, TaskMetrics,
};
pub use session::{Challenge, LoginRequest, LoginResponse, Purpose};
pub use voting::{BallotView, CastReceipt, CastRequest, ContestView};

/// `GET /api/v1/time`: the server's clock, from which the app computes JST (R-VOTE-1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// `GET /api/v1/elections/current/definition`: the whole public definition of the election (contests,
/// candidates, parties, judges) and its public key. The card helper reads it from the voting site itself, so that
/// it shows the voter's choice in words without trusting the page (what you see is what you sign).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ElectionDefinition {
    /// The election as filed.
    pub election: Election,
    /// The election public key, SubjectPublicKeyInfo DER in base64.
    pub public_key: Base64,
    /// Its fingerprint: hex SHA-256 of the DER.
    pub key_fingerprint: String,
}

/// `GET /api/v1/health`: `{"status": "ok"}` while the server runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// An answer with nothing more to say: `{}` (a logout, stored metrics).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Empty {}

/// Every refusal: a stable code and a sentence saying what to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
