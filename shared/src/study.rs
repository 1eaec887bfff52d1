//! Instructed usability studies in practice elections (issue 22 part 6), as ballot-usability research runs them
//! (Rice University's ballot usability studies; NIST's usability performance benchmarks for the VVSG): the
//! researcher lists tasks, each a contest with the entry the participant is told to choose, and the layouts to
//! compare; each participant does every task in each of their layouts (within subjects, in a counterbalanced
//! order) or in one layout (between subjects), and answers the System Usability Scale after each layout.
//!
//! The study file (TOML, `verifier serve --research-study`) is [`Study`]; the app reads it from `GET
//! /api/v1/research/study`, gets a participant number and its order of layouts ([`StudyPlan`]) and sends one
//! [`LayoutResult`] per layout. The verifier, not the app, decides whether a choice was the target.
//!
//! What this must never carry: a person, a session, a ballot or a time of day. A participant is a number the
//! verifier hands out in turn; every time is a duration measured in the page.

use serde::{Deserialize, Serialize};

use crate::api::{Assignment, DisplayCode, DrumStart, SelectionCode};
use crate::election::{Choice, Election, Rules, Text};

/// The longest task the lab records (an hour), in milliseconds.
pub const MAX_TRIAL_MS: u32 = 3_600_000;

/// How participants meet the layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StudyDesign {
    /// Every participant uses every layout, in the order of a balanced Latin square.
    Within,
    /// Each participant uses one layout, the layouts taken in turn.
    Between,
}

/// One instructed task: a contest, and the entry the participant is told to choose in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StudyTask {
    /// The task's id, as in the report (`a-z`, `0-9`, `-`, `_`).
    pub id: String,
    /// The contest's id in the practice election.
    pub contest: String,
    /// The entry to choose: a candidate or a party of that contest.
    pub target: Choice,
}

/// A study, as the researcher writes it and as the app reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Study {
    /// The study's id, kept with every row (`a-z`, `0-9`, `-`, `_`).
    pub id: String,
    /// Its title, shown to participants.
    pub title: Text,
    /// Within or between subjects.
    pub design: StudyDesign,
    /// The layouts compared, in the study's own order (the square's conditions 0, 1, ...).
    pub layouts: Vec<Assignment>,
    /// The tasks of each layout, in order.
    pub tasks: Vec<StudyTask>,
}

/// One participant's part: their number and their layouts, in the order to use them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StudyPlan {
    /// The participant's number (1, 2, ...), handed out in turn.
    pub participant: u32,
    /// Their layouts, in order.
    pub layouts: Vec<Assignment>,
}

/// One task as the participant did it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TrialResult {
    /// The task's id.
    pub task: String,
    /// The entry confirmed, by its [`entry_code`] (`candidate-5`, `party-2`, `blank`); none when the participant
    /// gave the task up.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(blank|candidate-[0-9]{1,5}|party-[0-9]{1,5})$", max_length = 16)
    )]
    pub chosen: Option<String>,
    /// Milliseconds from the task's screen to the confirmation (or to giving up).
    pub time_ms: u32,
    /// Scroll-wheel, arrow-key and drum steps.
    pub steps: u32,
    /// Input events in the search and initial-letter fields.
    pub keystrokes: u32,
    /// Picks of another entry after the first.
    pub changes_of_mind: u32,
}

/// One layout's tasks and the questionnaire answered after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LayoutResult {
    /// The study's id.
    pub study: String,
    /// The participant's number.
    pub participant: u32,
    /// The layout.
    pub layout: Assignment,
    /// Every task of the study, once, in any order.
    pub trials: Vec<TrialResult>,
    /// The ten SUS answers, 1 (strongly disagree) to 5 (strongly agree).
    #[cfg_attr(feature = "openapi", schema(min_items = 10, max_items = 10))]
    pub sus: Vec<u8>,
}

/// An entry's code in a study's result: `candidate-N`, `party-N` or `blank` (a review's marks have no entry).
pub fn entry_code(choice: Choice) -> String {
    match choice {
        Choice::Candidate(n) => format!("candidate-{n}"),
        Choice::Party(n) => format!("party-{n}"),
        Choice::Blank => "blank".into(),
        Choice::Review(marks) => format!("review-{marks}"),
    }
}

impl Assignment {
    /// The layout's code, `selection/display/drum start` (e.g. `list/scroll/first`), as in reports and URLs.
    pub fn code(&self) -> String {
        format!("{}/{}/{}", self.selection.code(), self.display.code(), self.drum_start.code())
    }

    /// Reads a layout's code.
    pub fn from_code(code: &str) -> Option<Assignment> {
        let mut parts = code.split('/');
        let a = Assignment {
            selection: SelectionCode::from_code(parts.next()?)?,
            display: DisplayCode::from_code(parts.next()?)?,
            drum_start: DrumStart::from_code(parts.next()?)?,
        };
        parts.next().is_none().then_some(a)
    }
}

fn plain_id(what: &str, id: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(format!("{what} {id:?} must be 1 to 64 of a-z, 0-9, - and _")) }
}

impl Study {
    /// Checks the study against the practice election it runs in: plain ids, at least one layout (two within
    /// subjects) with none twice, at least one task, each task's contest a candidate screen of the election and its
    /// target an entry offered there.
    pub fn check(&self, election: &Election) -> Result<(), String> {
        plain_id("the study id", &self.id)?;
        if !election.practice {
            return Err(format!("{} is a real election; studies run in practice elections only", election.id));
        }
        let least = if self.design == StudyDesign::Within { 2 } else { 1 };
        if self.layouts.len() < least || self.layouts.len() > 16 {
            return Err(format!("the study needs {least} to 16 layouts; it lists {}", self.layouts.len()));
        }
        for (i, a) in self.layouts.iter().enumerate() {
            if self.layouts[..i].contains(a) {
                return Err(format!("the layout {} is listed twice", a.code()));
            }
        }
        if self.tasks.is_empty() || self.tasks.len() > 20 {
            return Err(format!("the study needs 1 to 20 tasks; it lists {}", self.tasks.len()));
        }
        for (i, t) in self.tasks.iter().enumerate() {
            plain_id("the task id", &t.id)?;
            if self.tasks[..i].iter().any(|u| u.id == t.id) {
                return Err(format!("the task id {} is used twice", t.id));
            }
            let contest = election
                .contest(&t.contest)
                .ok_or_else(|| format!("task {}: no contest {:?} in {}", t.id, t.contest, election.id))?;
            if matches!(contest.rules, Rules::JudicialReview { .. }) {
                return Err(format!("task {}: the judicial review has no candidate screen", t.id));
            }
            if matches!(t.target, Choice::Blank | Choice::Review(_)) {
                return Err(format!("task {}: the target must be a candidate or a party", t.id));
            }
            contest.check(&t.target).map_err(|e| format!("task {}: the target is not offered: {e}", t.id))?;
        }
        Ok(())
    }

    /// The task with this id.
    pub fn task(&self, id: &str) -> Option<&StudyTask> {
        self.tasks.iter().find(|t| t.id == id)
    }
}

impl LayoutResult {
    /// Checks the result's shape against the study: every task once, plausible numbers, ten answers from 1 to 5.
    pub fn check(&self, study: &Study) -> Result<(), String> {
        if self.study != study.id {
            return Err(format!("the result is for study {:?}; this is study {:?}", self.study, study.id));
        }
        if self.trials.len() != study.tasks.len() {
            return Err(format!("the study has {} tasks; {} were sent", study.tasks.len(), self.trials.len()));
        }
        for (i, t) in self.trials.iter().enumerate() {
            if study.task(&t.task).is_none() || self.trials[..i].iter().any(|u| u.task == t.task) {
                return Err(format!("task {:?} is not in the study or was sent twice", t.task));
            }
            if t.chosen.as_ref().is_some_and(|c| c.len() > 16) {
                return Err(format!("task {}: chosen must be an entry code of at most 16 characters", t.task));
            }
            if t.time_ms > MAX_TRIAL_MS {
                return Err(format!("task {}: time_ms must be at most {MAX_TRIAL_MS}", t.task));
            }
            if [t.steps, t.keystrokes, t.changes_of_mind].iter().any(|n| *n > 100_000) {
                return Err(format!("task {}: a count above 100000", t.task));
            }
        }
        if self.sus.len() != 10 || self.sus.iter().any(|a| !(1..=5).contains(a)) {
            return Err("the questionnaire needs ten answers, each 1 to 5".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(code: &str) -> Assignment {
        Assignment::from_code(code).unwrap()
    }

    #[test]
    fn a_layout_code_reads_back_and_a_bad_one_is_refused() {
        let a = layout("initial_letter_select/drum_roll/rotated");
        assert_eq!(a.code(), "initial_letter_select/drum_roll/rotated");
        for bad in ["list/scroll", "list/scroll/first/x", "list/sideways/first", ""] {
            assert_eq!(Assignment::from_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_result_must_answer_every_task_once_and_ten_statements() {
        let study = Study {
            id: "s1".into(),
            title: Text { ja: "調査".into(), en: "Study".into() },
            design: StudyDesign::Within,
            layouts: vec![layout("list/scroll/first"), layout("list/one_screen/first")],
            tasks: vec![StudyTask { id: "t1".into(), contest: "tokyo".into(), target: Choice::Candidate(3) }],
        };
        let trial = TrialResult {
            task: "t1".into(),
            chosen: Some(entry_code(Choice::Candidate(3))),
            time_ms: 4_000,
            steps: 0,
            keystrokes: 0,
            changes_of_mind: 0,
        };
        let ok = LayoutResult {
            study: "s1".into(),
            participant: 1,
            layout: study.layouts[0],
            trials: vec![trial.clone()],
            sus: vec![3; 10],
        };
        assert_eq!(ok.check(&study), Ok(()));
        let twice = LayoutResult { trials: vec![trial.clone(), trial.clone()], ..ok.clone() };
        assert!(twice.check(&study).is_err());
        let short = LayoutResult { sus: vec![3; 9], ..ok.clone() };
        assert!(short.check(&study).unwrap_err().contains("ten answers"));
        let zero = LayoutResult { sus: vec![0; 10], ..ok.clone() };
        assert!(zero.check(&study).is_err());
        let other = LayoutResult { study: "s2".into(), ..ok.clone() };
        assert!(other.check(&study).is_err());
        let slow = LayoutResult { trials: vec![TrialResult { time_ms: MAX_TRIAL_MS + 1, ..trial }], ..ok };
        assert!(slow.check(&study).is_err());
    }
}
