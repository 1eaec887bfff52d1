//! The JSON bodies of the verifier's voter API (`/api/v1`), shared so that the app and the server cannot drift.
//! Requests refuse unknown fields (a stray field is an error, never stored); responses accept them, so that an
//! app still cached in a browser keeps working when the server adds a field.

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

use crate::election::{Election, ElectionKind, Id, Text};
use crate::jst::to_jst;
use crate::sealed::SealedBallot;
use crate::window::WindowState;
use crate::wire::Base64;

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

/// `POST /api/v1/session/challenge`: a single-use nonce (base64, 48 bytes: issue time, random, and the server's MAC, so
/// that the server stores nothing until a card has signed it) valid for `expires_in` seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Challenge {
    /// The nonce, base64.
    pub nonce: Base64,
    /// Seconds it stays valid.
    pub expires_in: u64,
}

/// `POST /api/v1/session`: the authentication certificate and the card's signature over
/// `crypto::auth_digest(origin, nonce)`, made through the card helper.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// `vote` (the default: the certificate must belong to a registered internet voter) or `apply` (any valid
    /// card, to apply for or switch from internet voting, R-REG-1, R-REG-9).
    #[serde(default)]
    pub purpose: Option<Purpose>,
    /// The nonce from the challenge, base64.
    pub nonce: Base64,
    /// The user-authentication certificate, DER in base64.
    pub certificate: Base64,
    /// PKCS#1 v1.5 SHA-256 signature, base64.
    pub signature: Base64,
}

/// What a card login is for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// To vote: the certificate must belong to a registered internet voter.
    #[default]
    Vote,
    /// To apply for, or switch from, internet voting: any valid card (R-REG-1, R-REG-9).
    Apply,
}

/// The answer to a login: the session cookie is set; this says when it ends (absolute, R-VOTE-4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContestView {
    /// The contest: candidates, parties and judges in display order with readings.
    pub contest: crate::election::Contest,
    /// Whether this voter's ballot in this contest has been accepted.
    pub voted: bool,
}

/// `GET /api/v1/ballot`: what the logged-in voter may vote on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BallotView {
    /// The election's id (bound into every ballot).
    pub election_id: Id,
    /// The voter's contests (from the voter's municipality and districts).
    pub contests: Vec<ContestView>,
    /// The election public key, SubjectPublicKeyInfo DER in base64.
    pub public_key: Base64,
    /// Its fingerprint as the server states it: hex SHA-256 of the DER. The app derives the fingerprint it shows
    /// from `public_key` itself, and refuses a ballot view where the two differ.
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CastRequest {
    /// The contest's id.
    pub contest: Id,
    /// RSA-OAEP ciphertext, base64.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::contract::ciphertext_base64))]
    pub ciphertext: Base64,
    /// PKCS#1 v1.5 SHA-256 signature, base64.
    pub signature: Base64,
    /// The signing certificate, DER in base64.
    pub certificate: Base64,
}

impl CastRequest {
    /// The request for a sealed ballot of the session's election, signed by the card.
    pub fn of(ballot: &SealedBallot, signature: Vec<u8>, certificate: Vec<u8>) -> CastRequest {
        CastRequest {
            contest: ballot.contest().clone(),
            ciphertext: Base64(ballot.ciphertext().to_vec()),
            signature: Base64(signature),
            certificate: Base64(certificate),
        }
    }

    /// The ballot this request casts in an election.
    pub fn sealed(&self, election: &Id) -> SealedBallot {
        SealedBallot::new(election.clone(), self.contest.clone(), self.ciphertext.0.clone())
    }
}

/// The receipt of an accepted ballot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CastReceipt {
    /// The contest.
    pub contest: Id,
    /// The tracker: hex SHA-256 of the stored ciphertext, to check inclusion after the close.
    pub tracker: String,
}

/// What an application (申出) or a switch request (切替申出) says; its JSON bytes are what the card signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApplicationRequest {
    /// [`ApplicationInput`] as JSON text.
    pub application: String,
    /// PKCS#1 v1.5 SHA-256 signature over `crypto::application_digest(application, auth certificate)`, where the
    /// authentication certificate is the applicant session's (the same card), base64.
    pub signature: Base64,
    /// The signing certificate, DER in base64.
    pub certificate: Base64,
}

/// An application's state as the voter sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientConfig {
    /// The card helper's origin on the voter's PC, e.g. `http://127.0.0.1:24190`.
    pub card_helper_origin: String,
    /// The UX researcher's mode assignment; present only in a practice election (tracker issue 9).
    #[serde(default)]
    pub research: Option<ResearchConfig>,
}

/// A candidate-selection mode of the candidate screen (R-SYS-4), by its stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SelectionCode {
    /// 一覧選択.
    List,
    /// フリーワード検索.
    FreeWordSearch,
    /// 頭文字入力.
    InitialLetterInput,
    /// 頭文字選択.
    InitialLetterSelect,
}

/// A display mode of the candidate screen (R-SYS-4), by its stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DisplayCode {
    /// 一画面表示.
    OneScreen,
    /// スクロール表示.
    Scroll,
    /// ドラムロール.
    DrumRoll,
}

/// Where the drum roll starts: at the first entry, or rotated by a per-participant offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DrumStart {
    /// The first entry in filing order.
    First,
    /// An entry chosen per participant (position-effect research).
    Rotated,
}

macro_rules! codes {
    ($t:ty, $($v:ident = $c:literal),+) => {
        impl $t {
            /// Every value, in the order they are offered.
            pub const ALL: &'static [$t] = &[$(<$t>::$v),+];

            /// Returns the stable code (as in JSON and on the command line).
            pub fn code(self) -> &'static str {
                match self { $(<$t>::$v => $c),+ }
            }

            /// Reads a stable code.
            pub fn from_code(code: &str) -> Option<$t> {
                match code { $($c => Some(<$t>::$v),)+ _ => None }
            }
        }
    };
}
codes!(
    SelectionCode,
    List = "list",
    FreeWordSearch = "free_word_search",
    InitialLetterInput = "initial_letter_input",
    InitialLetterSelect = "initial_letter_select"
);
codes!(DisplayCode, OneScreen = "one_screen", Scroll = "scroll", DrumRoll = "drum_roll");
codes!(DrumStart, First = "first", Rotated = "rotated");

/// The researcher's assignment of modes (tracker issue 9): for each, the values participants are assigned from.
/// One value fixes it for everyone; several are drawn at random once per participant, in the browser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResearchConfig {
    /// Selection modes to assign from.
    pub selection: Vec<SelectionCode>,
    /// Display modes to assign from.
    pub display: Vec<DisplayCode>,
    /// Drum-roll start rules to assign from.
    pub drum_start: Vec<DrumStart>,
}

/// One participant's modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Assignment {
    /// The selection mode.
    pub selection: SelectionCode,
    /// The display mode.
    pub display: DisplayCode,
    /// The drum roll's start rule.
    pub drum_start: DrumStart,
}

impl ResearchConfig {
    /// Draws one participant's modes from a per-participant seed; an empty list falls back to the real election's
    /// modes (list, scroll, first).
    pub fn draw(&self, seed: u64) -> Assignment {
        // Three independent picks from one seed (SplitMix64 steps).
        let mut s = seed;
        let mut next = || {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        fn pick<T: Copy>(v: &[T], r: u64, fallback: T) -> T {
            if v.is_empty() { fallback } else { v[(r % v.len() as u64) as usize] }
        }
        Assignment {
            selection: pick(&self.selection, next(), SelectionCode::List),
            display: pick(&self.display, next(), DisplayCode::Scroll),
            drum_start: pick(&self.drum_start, next(), DrumStart::First),
        }
    }

    /// Returns whether an assignment (e.g. one kept in the browser) is still one this configuration can give.
    pub fn allows(&self, a: &Assignment) -> bool {
        self.selection.contains(&a.selection)
            && self.display.contains(&a.display)
            && self.drum_start.contains(&a.drum_start)
    }
}

/// `POST /api/v1/research/metrics`: one task's anonymous interaction metrics (one contest's choice until cast),
/// accepted in practice elections only. Nothing in it names a voter, a session, a ballot or a time of day:
/// the participant is a random id made by the browser, and every time is a duration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TaskMetrics {
    /// A random participant id made by the browser (16 to 64 lowercase hex digits).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{16,64}$"))]
    pub participant: String,
    /// The contest's kind.
    pub contest_kind: crate::election::ContestKind,
    /// The modes were assigned by the researcher (not switched by the participant).
    pub assigned: bool,
    /// The selection mode when the choice was confirmed.
    pub selection: SelectionCode,
    /// The display mode when the choice was confirmed.
    pub display: DisplayCode,
    /// The drum roll's start rule.
    pub drum_start: DrumStart,
    /// How many entries the candidate screen offered.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
    pub candidates: u32,
    /// Milliseconds from the candidate screen opening to the first pick.
    #[cfg_attr(feature = "openapi", schema(maximum = 3_600_000))]
    pub time_to_first_selection_ms: Option<u32>,
    /// Milliseconds from the candidate screen opening to pressing "continue to confirm" (the last time).
    #[cfg_attr(feature = "openapi", schema(maximum = 3_600_000))]
    pub time_to_confirm_ms: u32,
    /// Picks after the first that changed the choice.
    #[cfg_attr(feature = "openapi", schema(maximum = 100_000))]
    pub changes_of_mind: u32,
    /// Scroll-wheel, arrow-key and drum-roll steps.
    #[cfg_attr(feature = "openapi", schema(maximum = 100_000))]
    pub steps: u32,
    /// Keystrokes (input events) in the search and initial-letter fields.
    #[cfg_attr(feature = "openapi", schema(maximum = 100_000))]
    pub search_keystrokes: u32,
    /// Errors: a search or initial letter with no match, going back from the confirmation.
    #[cfg_attr(feature = "openapi", schema(maximum = 100_000))]
    pub errors: u32,
    /// Encryptions the participant checked (「暗号化を確認する」, the Benaloh challenge) before casting.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 100))]
    pub challenges: u32,
    /// The chosen entry's 1-based position in the display (filing) order; none for 白票.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
    pub chosen_position: Option<u32>,
    /// Whether the chosen entry was off the first screen (below the fold, beyond the list box, or not the drum
    /// roll's first entry); none for 白票.
    pub off_first_screen: Option<bool>,
}

/// The longest task accepted (one hour, longer than any session).
pub const MAX_TASK_MS: u32 = 3_600_000;

impl TaskMetrics {
    /// Checks that the numbers are plausible and the participant id is only a random id.
    pub fn check(&self) -> Result<(), String> {
        let p = &self.participant;
        if !(16..=64).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err("the participant id must be 16 to 64 lowercase hex digits".into());
        }
        if self.candidates == 0 || self.candidates > 1000 {
            return Err(format!("candidates must be 1 to 1000; got {}", self.candidates));
        }
        if self.time_to_confirm_ms > MAX_TASK_MS {
            return Err(format!("time_to_confirm_ms must be at most {MAX_TASK_MS}"));
        }
        if self.time_to_first_selection_ms.is_some_and(|t| t > self.time_to_confirm_ms) {
            return Err("the first selection cannot come after the confirmation".into());
        }
        if [self.changes_of_mind, self.steps, self.search_keystrokes, self.errors].iter().any(|n| *n > 100_000) {
            return Err("a count above 100000".into());
        }
        if self.challenges > 100 {
            return Err("challenges must be at most 100".into());
        }
        if self.chosen_position.is_some_and(|p| p == 0 || p > self.candidates) {
            return Err("chosen_position must be 1 to candidates".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod research_tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::election::ContestKind;

    pub(crate) fn metrics() -> TaskMetrics {
        TaskMetrics {
            participant: "0123456789abcdef0123456789abcdef".into(),
            contest_kind: ContestKind::HocDistrict,
            assigned: true,
            selection: SelectionCode::FreeWordSearch,
            display: DisplayCode::DrumRoll,
            drum_start: DrumStart::Rotated,
            candidates: 120,
            time_to_first_selection_ms: Some(4_000),
            time_to_confirm_ms: 9_000,
            changes_of_mind: 1,
            steps: 3,
            search_keystrokes: 5,
            errors: 0,
            challenges: 0,
            chosen_position: Some(77),
            off_first_screen: Some(true),
        }
    }

    #[test]
    fn an_old_client_config_without_research_still_reads() {
        let c: ClientConfig = serde_json::from_str(r#"{"card_helper_origin":"http://127.0.0.1:24190"}"#).unwrap();
        assert_eq!(c.research, None);
    }

    #[test]
    fn codes_round_trip_through_json_and_text() {
        for s in SelectionCode::ALL {
            assert_eq!(serde_json::to_string(s).unwrap(), format!("\"{}\"", s.code()));
            assert_eq!(SelectionCode::from_code(s.code()), Some(*s));
        }
        for d in DisplayCode::ALL {
            assert_eq!(serde_json::to_string(d).unwrap(), format!("\"{}\"", d.code()));
        }
        assert_eq!(DrumStart::from_code("rotated"), Some(DrumStart::Rotated));
        assert_eq!(SelectionCode::from_code("random"), None);
    }

    #[test]
    fn a_fixed_assignment_is_everyones_and_a_random_one_covers_every_mode() {
        let fixed = ResearchConfig {
            selection: vec![SelectionCode::InitialLetterSelect],
            display: vec![DisplayCode::OneScreen],
            drum_start: vec![DrumStart::First],
        };
        for seed in 0..50 {
            let a = fixed.draw(seed);
            assert_eq!(
                (a.selection, a.display, a.drum_start),
                (SelectionCode::InitialLetterSelect, DisplayCode::OneScreen, DrumStart::First)
            );
        }
        let random = ResearchConfig {
            selection: SelectionCode::ALL.to_vec(),
            display: DisplayCode::ALL.to_vec(),
            drum_start: DrumStart::ALL.to_vec(),
        };
        let pairs: std::collections::BTreeSet<_> =
            (0..500).map(|s| random.draw(s)).map(|a| (a.selection, a.display, a.drum_start)).collect();
        assert_eq!(pairs.len(), 4 * 3 * 2, "every combination is drawn");
        assert!(random.allows(&random.draw(9)));
        let other = Assignment {
            selection: SelectionCode::List,
            display: DisplayCode::OneScreen,
            drum_start: DrumStart::First,
        };
        assert!(!fixed.allows(&other), "a kept assignment the researcher no longer gives is drawn again");
    }

    #[test]
    fn metrics_refuse_unknown_fields_and_implausible_numbers() {
        let m = metrics();
        m.check().unwrap();
        let mut json = serde_json::to_value(&m).unwrap();
        json["voter"] = "x".into();
        assert!(serde_json::from_value::<TaskMetrics>(json).is_err(), "a stray field is refused, never stored");
        for bad in [
            TaskMetrics { participant: "13101:E-1".into(), ..metrics() },
            TaskMetrics { chosen_position: Some(121), ..metrics() },
            TaskMetrics { time_to_first_selection_ms: Some(10_000), ..metrics() },
            TaskMetrics { time_to_confirm_ms: MAX_TASK_MS + 1, time_to_first_selection_ms: None, ..metrics() },
            TaskMetrics { candidates: 0, chosen_position: None, ..metrics() },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
