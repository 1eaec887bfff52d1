//! UX research in practice elections (tracker issue 9): the researcher's mode assignment and one task's anonymous
//! interaction metrics (one contest's choice until cast).
//!
//! The participant is a random id made here and kept in sessionStorage with the modes drawn for it, so a
//! participant keeps the same modes on reload and a new browser session is a new participant. Nothing recorded
//! names the voter, the session, the ballot or a time of day: times are durations measured in this page. The
//! metrics are sent only in a practice election (and a real election's verifier refuses them anyway).

use std::cell::RefCell;

use shared::api::{Assignment, DisplayCode, DrumStart, ResearchConfig, SelectionCode, TaskMetrics};
use shared::election::{Choice, ContestKind};

use crate::selection::{DisplayMode, SelectionMode};
use crate::services::verifier_api;

const PARTICIPANT_KEY: &str = "research-participant";
const ASSIGNMENT_KEY: &str = "research-assignment";

/// Returns the selection mode of a code.
pub fn selection_mode(code: SelectionCode) -> SelectionMode {
    match code {
        SelectionCode::List => SelectionMode::List,
        SelectionCode::FreeWordSearch => SelectionMode::Search,
        SelectionCode::InitialLetterInput => SelectionMode::InitialInput,
        SelectionCode::InitialLetterSelect => SelectionMode::InitialSelect,
    }
}

/// Returns the code of a selection mode.
pub fn selection_code(mode: SelectionMode) -> SelectionCode {
    match mode {
        SelectionMode::List => SelectionCode::List,
        SelectionMode::Search => SelectionCode::FreeWordSearch,
        SelectionMode::InitialInput => SelectionCode::InitialLetterInput,
        SelectionMode::InitialSelect => SelectionCode::InitialLetterSelect,
    }
}

/// Returns the display mode of a code.
pub fn display_mode(code: DisplayCode) -> DisplayMode {
    match code {
        DisplayCode::OneScreen => DisplayMode::OneScreen,
        DisplayCode::Scroll => DisplayMode::Scroll,
        DisplayCode::DrumRoll => DisplayMode::DrumRoll,
    }
}

/// Returns the code of a display mode.
pub fn display_code(mode: DisplayMode) -> DisplayCode {
    match mode {
        DisplayMode::OneScreen => DisplayCode::OneScreen,
        DisplayMode::Scroll => DisplayCode::Scroll,
        DisplayMode::DrumRoll => DisplayCode::DrumRoll,
    }
}

/// One task's record: plain data, with every instant passed in (milliseconds of this page's clock, used only for
/// differences). What will be sent is kept as the API's own type, [`TaskMetrics`] (the one metrics type: the
/// verifier stores it and its report reads it back as such); its participant and times are filled in by
/// [`Task::metrics`].
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// The contest's id (kept here, never sent).
    pub contest: String,
    /// A practice election: only then are the metrics sent.
    pub practice: bool,
    /// The modes and counts so far: steps (scroll-wheel, arrow-key and drum), keystrokes in the search and
    /// initial-letter fields, errors (searches with no match, rows with no entry, going back from the
    /// confirmation) and encryptions checked (「暗号化を確認する」, the Benaloh challenge).
    pub counts: TaskMetrics,
    opened_ms: f64,
    first_pick_ms: Option<f64>,
    confirm_ms: Option<f64>,
    choice: Option<Choice>,
}

impl Task {
    /// Starts a task when the candidate screen opens.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        contest: &str,
        kind: ContestKind,
        practice: bool,
        assigned: bool,
        selection: SelectionCode,
        display: DisplayCode,
        drum_start: DrumStart,
        candidates: usize,
        now_ms: f64,
    ) -> Task {
        Task {
            contest: contest.to_string(),
            practice,
            counts: TaskMetrics {
                participant: String::new(),
                contest_kind: kind,
                assigned,
                selection,
                display,
                drum_start,
                candidates: u32::try_from(candidates).unwrap_or(u32::MAX),
                time_to_first_selection_ms: None,
                time_to_confirm_ms: 0,
                changes_of_mind: 0,
                steps: 0,
                search_keystrokes: 0,
                errors: 0,
                challenges: 0,
                chosen_position: None,
                off_first_screen: None,
            },
            opened_ms: now_ms,
            first_pick_ms: None,
            confirm_ms: None,
            choice: None,
        }
    }

    /// Records a pick: its 1-based position in the display order (none for 白票) and whether it was off the first
    /// screen. A pick of another entry after the first is a change of mind.
    pub fn pick(&mut self, choice: Choice, position: Option<u32>, off_first_screen: Option<bool>, now_ms: f64) {
        match self.choice {
            None => self.first_pick_ms = Some(now_ms),
            Some(c) if c != choice => self.counts.changes_of_mind += 1,
            Some(_) => {}
        }
        self.choice = Some(choice);
        self.counts.chosen_position = position;
        self.counts.off_first_screen = off_first_screen;
    }

    /// Records "continue to confirm" (the last press counts).
    pub fn confirm(&mut self, now_ms: f64) {
        self.confirm_ms = Some(now_ms);
    }

    /// Records going back from the confirmation to change the choice (an error).
    pub fn back_from_confirm(&mut self) {
        self.counts.errors += 1;
    }

    /// Records a check of the encryption on the confirmation screen (a Benaloh challenge); at most 100 count.
    pub fn challenged(&mut self) {
        self.counts.challenges = (self.counts.challenges + 1).min(100);
    }

    /// Returns the metrics to send, once the choice was confirmed.
    pub fn metrics(&self, participant: &str) -> Option<TaskMetrics> {
        let ms = |t: f64| (t - self.opened_ms).max(0.0).round().min(f64::from(shared::api::MAX_TASK_MS)) as u32;
        let confirm = ms(self.confirm_ms?);
        Some(TaskMetrics {
            participant: participant.to_string(),
            time_to_first_selection_ms: self.first_pick_ms.map(ms).map(|t| t.min(confirm)),
            time_to_confirm_ms: confirm,
            ..self.counts.clone()
        })
    }
}

thread_local! {
    static TASK: RefCell<Option<Task>> = const { RefCell::new(None) };
    static CONFIG: RefCell<Option<Option<ResearchConfig>>> = const { RefCell::new(None) };
    static PARTICIPANT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Returns this page's clock in milliseconds (only differences are used).
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Starts a task, unless one for the same contest is under way (the voter came back from the confirmation).
pub fn begin(task: Task) {
    TASK.with(|t| {
        let mut t = t.borrow_mut();
        if t.as_ref().map(|x| x.contest.as_str()) != Some(task.contest.as_str()) {
            *t = Some(task);
        }
    });
}

/// Drops the task under way without sending it.
pub fn discard() {
    TASK.with(|t| *t.borrow_mut() = None);
}

/// Records something in the task under way, if any.
pub fn record(f: impl FnOnce(&mut Task)) {
    TASK.with(|t| {
        if let Some(task) = t.borrow_mut().as_mut() {
            f(task);
        }
    });
}

/// Returns a copy of the task under way (tests, diagnostics).
pub fn current() -> Option<Task> {
    TASK.with(|t| t.borrow().clone())
}

fn record_for(contest: &str, f: impl FnOnce(&mut Task)) {
    record(|t| {
        if t.contest == contest {
            f(t)
        }
    });
}

/// Records "continue to confirm" in a contest.
pub fn to_confirm(contest: &str) {
    record_for(contest, |t| t.confirm(now_ms()));
}

/// Records going back from a contest's confirmation.
pub fn back_from_confirm(contest: &str) {
    record_for(contest, Task::back_from_confirm);
}

/// Records a check of the encryption on a contest's confirmation screen (a Benaloh challenge).
pub fn challenged(contest: &str) {
    record_for(contest, Task::challenged);
}

/// Ends the task of a contest whose ballot was accepted and, in a practice election only, sends its metrics (a
/// lost report is not retried: it must never get in the way of voting).
pub fn cast_done(contest: &str) {
    let task = TASK.with(|t| {
        let mut t = t.borrow_mut();
        if t.as_ref().is_some_and(|x| x.contest == contest) { t.take() } else { None }
    });
    let Some(task) = task.filter(|t| t.practice) else { return };
    if let Some(m) = task.metrics(&participant()) {
        wasm_bindgen_futures::spawn_local(async move {
            let _ = verifier_api::research_metrics(&m).await;
        });
    }
}

/// Returns the researcher's configuration if it is known already (`Some(None)`: there is none).
pub fn cached_config() -> Option<Option<ResearchConfig>> {
    CONFIG.with(|c| c.borrow().clone())
}

/// Keeps the researcher's configuration read with the client configuration (the voting page reads it once), so that
/// the candidate screen does not ask again.
pub fn remember_config(config: Option<ResearchConfig>) {
    CONFIG.with(|c| *c.borrow_mut() = Some(config));
}

/// Fetches the researcher's configuration once (a failure counts as none).
pub async fn load_config() -> Option<ResearchConfig> {
    if let Some(c) = cached_config() {
        return c;
    }
    let config = verifier_api::client_config().await.ok().and_then(|c| c.research);
    CONFIG.with(|c| *c.borrow_mut() = Some(config.clone()));
    config
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

/// Returns this participant's random id (32 hex digits), made once per browser session.
pub fn participant() -> String {
    if let Some(p) = PARTICIPANT.with(|p| p.borrow().clone()) {
        return p;
    }
    let storage = session_storage();
    let kept = storage
        .as_ref()
        .and_then(|s| s.get_item(PARTICIPANT_KEY).ok().flatten())
        .filter(|p| p.len() == 32 && p.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    let p = kept.unwrap_or_else(|| {
        let mut b = [0u8; 16];
        if getrandom::fill(&mut b).is_err() {
            // No randomness: the page's clock still separates participants well enough for research.
            b[..8].copy_from_slice(&(now_ms() as u64).to_le_bytes());
        }
        let p = hex::encode(b);
        if let Some(s) = &storage {
            let _ = s.set_item(PARTICIPANT_KEY, &p);
        }
        p
    });
    PARTICIPANT.with(|c| *c.borrow_mut() = Some(p.clone()));
    p
}

/// Returns this participant's seed (drum-roll rotation, mode draw).
pub fn seed() -> u64 {
    u64::from_str_radix(&participant()[..16], 16).unwrap_or(0)
}

/// Returns this participant's modes: the ones kept for this browser session if the configuration still allows
/// them, else drawn once from the participant's seed and kept.
pub fn assignment(config: &ResearchConfig) -> Assignment {
    let storage = session_storage();
    let kept = storage
        .as_ref()
        .and_then(|s| s.get_item(ASSIGNMENT_KEY).ok().flatten())
        .and_then(|j| serde_json::from_str::<Assignment>(&j).ok())
        .filter(|a| config.allows(a));
    kept.unwrap_or_else(|| {
        let a = config.draw(seed());
        if let (Some(s), Ok(j)) = (&storage, serde_json::to_string(&a)) {
            let _ = s.set_item(ASSIGNMENT_KEY, &j);
        }
        a
    })
}

/// Returns whether the entry with this element id was off the first screen: below the list box's first view
/// (scroll), below the page's first view (one screen). The drum roll is decided by the caller.
pub fn off_first_screen(element_id: &str, display: DisplayMode) -> Option<bool> {
    let window = web_sys::window()?;
    let input = window.document()?.get_element_by_id(element_id)?;
    let item = input.closest("li").ok()??;
    let top = item.get_bounding_client_rect().top();
    match display {
        DisplayMode::Scroll => {
            let list = item.closest("ul").ok()??;
            let offset = top - list.get_bounding_client_rect().top() + f64::from(list.scroll_top());
            Some(offset >= f64::from(list.client_height()))
        }
        DisplayMode::OneScreen => {
            let fold = window.inner_height().ok()?.as_f64()?;
            Some(top + window.scroll_y().ok()? >= fold)
        }
        DisplayMode::DrumRoll => None,
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn task() -> Task {
        Task::new(
            "tokyo",
            ContestKind::HocDistrict,
            true,
            true,
            SelectionCode::FreeWordSearch,
            DisplayCode::DrumRoll,
            DrumStart::Rotated,
            9,
            1_000.0,
        )
    }

    #[wasm_bindgen_test]
    fn a_task_measures_durations_changes_and_position() {
        let mut t = task();
        assert_eq!(t.metrics("00"), None, "nothing to send before the confirmation");
        t.pick(Choice::Candidate(3), Some(3), Some(false), 3_500.0);
        t.pick(Choice::Candidate(3), Some(3), Some(false), 3_700.0);
        t.pick(Choice::Candidate(5), Some(5), Some(true), 4_000.0);
        t.confirm(6_000.0);
        t.back_from_confirm();
        t.challenged();
        t.challenged();
        t.confirm(9_000.0);
        t.counts.steps += 4;
        t.counts.search_keystrokes += 6;
        let m = t.metrics("0123456789abcdef").unwrap();
        assert_eq!(m.time_to_first_selection_ms, Some(2_500));
        assert_eq!(m.time_to_confirm_ms, 8_000, "the last press of continue-to-confirm counts");
        assert_eq!(m.changes_of_mind, 1, "picking the same entry again is not a change of mind");
        assert_eq!((m.chosen_position, m.off_first_screen), (Some(5), Some(true)));
        assert_eq!((m.errors, m.steps, m.search_keystrokes), (1, 4, 6));
        assert_eq!(m.challenges, 2, "each check of the encryption counts, and is not an error");
        assert_eq!(
            (m.selection, m.display, m.drum_start),
            (SelectionCode::FreeWordSearch, DisplayCode::DrumRoll, DrumStart::Rotated)
        );
        m.check().unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert!(!json.contains("tokyo"), "the contest id is not sent: {json}");
    }

    #[wasm_bindgen_test]
    fn a_task_goes_on_after_the_confirmation_and_ends_with_the_cast() {
        begin(task());
        record(|t| t.counts.steps += 2);
        let mut other = task();
        other.counts.steps = 99;
        begin(other);
        assert_eq!(current().map(|t| t.counts.steps), Some(2), "coming back to the same contest keeps its task");
        cast_done("national-pr");
        assert!(current().is_some(), "another contest's cast does not end it");
        record(|t| t.practice = false);
        cast_done("tokyo");
        assert_eq!(current(), None);
    }

    #[wasm_bindgen_test]
    fn the_participant_and_the_assignment_are_kept_for_the_browser_session() {
        let p = participant();
        assert_eq!(p.len(), 32);
        assert_eq!(participant(), p);
        let config = ResearchConfig {
            selection: SelectionCode::ALL.to_vec(),
            display: DisplayCode::ALL.to_vec(),
            drum_start: DrumStart::ALL.to_vec(),
        };
        let a = assignment(&config);
        assert_eq!(assignment(&config), a, "drawn once per participant");
        let fixed = ResearchConfig {
            selection: vec![SelectionCode::List],
            display: vec![DisplayCode::Scroll],
            drum_start: vec![DrumStart::First],
        };
        let b = assignment(&fixed);
        assert_eq!(
            (b.selection, b.display, b.drum_start),
            (SelectionCode::List, DisplayCode::Scroll, DrumStart::First)
        );
    }
}
