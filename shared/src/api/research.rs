//! The client configuration, and the UX research it carries in a practice election (tracker issue 9): the
//! candidate screen's modes by their stable codes, the researcher's assignment of them, and one task's
//! anonymous metrics.

use serde::{Deserialize, Serialize};

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
mod tests {
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
