//! Instructed usability studies in practice elections (issue 22 part 6; [`shared::study`]).
//!
//! - `serve --research-study FILE` loads the researcher's study (TOML) and checks it against the practice election.
//! - `GET /api/v1/research/study` gives the app the study; `POST /api/v1/research/study/participants` hands out the
//!   next participant number with its order of layouts (a balanced Latin square within subjects,
//!   [`research::design::order`]; the layouts in turn between subjects); `POST /api/v1/research/study/results`
//!   takes one layout's tasks and questionnaire. A real election refuses all three with `NOT_PRACTICE`.
//! - `verifier research study-report` reads the rows back and writes the analysis ([`research::study`]) as CSV
//!   for R or Python and as one self-contained HTML page.
//!
//! No ballot is cast in a study, and no row can name a person: a participant is a number handed out in turn, the
//! tables have no time column and no session, and the verifier decides whether each choice was the target, so
//! that the rows hold whether it was, never which entry was chosen. This must never run in a real election.

use std::path::Path;

use anyhow::Context;
use rusqlite::{OptionalExtension, params};
use shared::api::Assignment;
use shared::study::{LayoutResult, Study, StudyDesign, StudyPlan};
use warp::Reply;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::AppState;
use crate::errors::Refusal;
use crate::store::Db;

/// Reads and checks a study file against the election it is to run in.
pub fn load(path: &Path, election: &shared::election::Election) -> anyhow::Result<Study> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let study: Study = toml::from_str(&text).with_context(|| format!("{} is not a study file", path.display()))?;
    study.check(election).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(study)
}

/// The layouts of participant `n` (from 1), in the order to use them.
pub fn plan(study: &Study, participant: u32) -> Vec<Assignment> {
    let i = participant.saturating_sub(1) as usize;
    let k = study.layouts.len();
    match study.design {
        StudyDesign::Within => research::design::order(i, k).into_iter().map(|j| study.layouts[j]).collect(),
        StudyDesign::Between => vec![study.layouts[i % k]],
    }
}

/// The study in force, or the refusal: `NOT_PRACTICE` in a real election, `NO_STUDY` when none was loaded.
fn study(state: &AppState) -> Result<&Study, Refusal> {
    if !state.election.get().practice {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "NOT_PRACTICE",
            "Usability studies run in practice elections only; this is a real election, so nothing was stored.",
        ));
    }
    state.config.study.as_deref().ok_or_else(|| {
        Refusal::new(
            StatusCode::NOT_FOUND,
            "NO_STUDY",
            "No usability study is set up on this server; the researcher starts it with `serve --research-study`.",
        )
    })
}

fn storage(e: impl std::fmt::Display) -> Refusal {
    Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "STORAGE_UNAVAILABLE", format!("Nothing was stored ({e})."))
}

/// Answers `GET /api/v1/research/study`.
pub fn describe(state: &AppState) -> Result<Response, Refusal> {
    Ok(warp::reply::json(study(state)?).into_response())
}

/// Answers `POST /api/v1/research/study/participants`: the next number, counted in the database so that a restart
/// goes on with the square where it was.
pub fn join(state: &AppState) -> Result<Response, Refusal> {
    let study = study(state)?;
    let participant: u32 = state
        .db
        .with(|c| {
            c.query_row(
                "INSERT INTO study_participants (study, handed_out) VALUES (?1, 1)
                 ON CONFLICT (study) DO UPDATE SET handed_out = handed_out + 1 RETURNING handed_out",
                params![study.id],
                |r| r.get(0),
            )
        })
        .map_err(storage)?;
    let answer = StudyPlan { participant, layouts: plan(study, participant) };
    Ok(warp::reply::with_status(warp::reply::json(&answer), StatusCode::CREATED).into_response())
}

/// Answers `POST /api/v1/research/study/results`: one layout of one participant, stored once, in one transaction.
pub fn receive(state: &AppState, result: LayoutResult) -> Result<Response, Refusal> {
    let study = study(state)?;
    result.check(study).map_err(|m| Refusal::new(StatusCode::BAD_REQUEST, "MALFORMED", format!("The result: {m}.")))?;
    let handed_out: Option<u32> = state
        .db
        .with(|c| {
            c.query_row("SELECT handed_out FROM study_participants WHERE study = ?1", params![study.id], |r| r.get(0))
                .optional()
        })
        .map_err(storage)?;
    let position = (result.participant >= 1 && result.participant <= handed_out.unwrap_or(0))
        .then(|| plan(study, result.participant).iter().position(|a| *a == result.layout))
        .flatten()
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "STUDY_NOT_IN_PLAN",
                format!(
                    "Participant {} was not handed out, or {} is not one of their layouts; start again from the \
                     study's first page.",
                    result.participant,
                    result.layout.code()
                ),
            )
        })?;
    let layout = result.layout.code();
    let sus: String = result.sus.iter().map(|a| char::from(b'0' + a)).collect();
    let stored = state.db.with(|c| {
        let tx = c.transaction()?;
        let fresh = tx.execute(
            "INSERT INTO study_layouts (study, participant, layout, position, sus) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO NOTHING",
            params![study.id, result.participant, layout, i64::try_from(position).unwrap_or(i64::MAX), sus],
        )? == 1;
        if fresh {
            for t in &result.trials {
                let target = study.task(&t.task).map(|task| shared::study::entry_code(task.target));
                tx.execute(
                    "INSERT INTO study_trials (study, participant, layout, task, completed, on_target, time_ms, steps,
                         keystrokes, changes_of_mind) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![
                        study.id,
                        result.participant,
                        layout,
                        t.task,
                        t.chosen.is_some(),
                        t.chosen.is_some() && t.chosen == target,
                        t.time_ms,
                        t.steps,
                        t.keystrokes,
                        t.changes_of_mind
                    ],
                )?;
            }
        }
        tx.commit()?;
        Ok(fresh)
    });
    if !stored.map_err(storage)? {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "STUDY_DUPLICATE",
            format!(
                "Participant {} has already finished {layout}; their first answers are kept. Go on with the next \
                 layout.",
                result.participant
            ),
        ));
    }
    Ok(warp::reply::with_status(warp::reply::json(&shared::api::Empty {}), StatusCode::CREATED).into_response())
}

/// One stored task, as the report reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialRow {
    /// The participant's number.
    pub participant: u32,
    /// The layout's code.
    pub layout: String,
    /// The layout's place in the participant's order (0 first).
    pub position: u32,
    /// The task's id.
    pub task: String,
    /// A choice was confirmed.
    pub completed: bool,
    /// The confirmed choice was the target.
    pub on_target: bool,
    /// Milliseconds on the task.
    pub time_ms: u32,
    /// Scroll, wheel and drum steps.
    pub steps: u32,
    /// Keystrokes in the search fields.
    pub keystrokes: u32,
    /// Changes of mind.
    pub changes_of_mind: u32,
}

/// The label of participant `n` in the report: `P001`, `P002`, ...
pub fn label(n: u32) -> String {
    format!("P{n:03}")
}

/// Reads a study's rows: its trials, and its questionnaires (participants as [`label`]s).
pub fn rows(db: &Db, study: &str) -> rusqlite::Result<(Vec<TrialRow>, Vec<research::study::Questionnaire>)> {
    db.with(|c| {
        let mut stmt = c.prepare(
            "SELECT t.participant, t.layout, l.position, t.task, t.completed, t.on_target, t.time_ms, t.steps,
                    t.keystrokes, t.changes_of_mind
             FROM study_trials t JOIN study_layouts l USING (study, participant, layout)
             WHERE t.study = ?1 ORDER BY t.participant, l.position, t.task",
        )?;
        let trials = stmt
            .query_map(params![study], |r| {
                Ok(TrialRow {
                    participant: r.get(0)?,
                    layout: r.get(1)?,
                    position: r.get(2)?,
                    task: r.get(3)?,
                    completed: r.get(4)?,
                    on_target: r.get(5)?,
                    time_ms: r.get(6)?,
                    steps: r.get(7)?,
                    keystrokes: r.get(8)?,
                    changes_of_mind: r.get(9)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut stmt = c.prepare(
            "SELECT participant, layout, sus FROM study_layouts WHERE study = ?1 ORDER BY participant, position",
        )?;
        let questionnaires = stmt
            .query_map(params![study], |r| {
                let sus: String = r.get(2)?;
                Ok(research::study::Questionnaire {
                    participant: label(r.get(0)?),
                    layout: r.get(1)?,
                    answers: sus.bytes().map(|b| b.wrapping_sub(b'0')).collect(),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((trials, questionnaires))
    })
}

/// The files `verifier research study-report` writes.
pub const FILES: [&str; 4] = ["study-trials.csv", "study-estimates.csv", "study-tests.csv", "study.html"];

/// Analyses a study's rows and writes [`FILES`] into `out`; returns the analysis.
pub fn write_report(db: &Db, study: &Study, out: &Path, seed: u64) -> anyhow::Result<research::study::Report> {
    let (trials, answered) = rows(db, &study.id)?;
    let analysed: Vec<research::study::Trial> = trials
        .iter()
        .map(|t| research::study::Trial {
            participant: label(t.participant),
            layout: t.layout.clone(),
            task: t.task.clone(),
            completed: t.completed,
            on_target: t.on_target,
            time_ms: f64::from(t.time_ms),
        })
        .collect();
    let design = match study.design {
        StudyDesign::Within => research::study::Design::Within,
        StudyDesign::Between => research::study::Design::Between,
    };
    let report = research::study::analyse(design, &analysed, &answered, seed)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut raw =
        String::from("participant,layout,position,task,completed,on_target,time_ms,steps,keystrokes,changes_of_mind\n");
    for t in &trials {
        raw.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            label(t.participant),
            t.layout,
            t.position + 1,
            t.task,
            u8::from(t.completed),
            u8::from(t.on_target),
            t.time_ms,
            t.steps,
            t.keystrokes,
            t.changes_of_mind
        ));
    }
    let (estimates, tests) = research::study::csv(&report);
    let title = format!("{} / {} ({})", study.title.ja, study.title.en, study.id);
    for (name, text) in FILES.iter().zip([raw, estimates, tests, research::study::html(&report, &title)]) {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::election::Text;

    fn study(design: StudyDesign, codes: &[&str]) -> Study {
        Study {
            id: "s".into(),
            title: Text { ja: "調査".into(), en: "Study".into() },
            design,
            layouts: codes.iter().map(|c| Assignment::from_code(c).unwrap()).collect(),
            tasks: Vec::new(),
        }
    }

    #[test]
    fn within_subjects_each_layout_comes_first_equally_often_and_between_they_take_turns() {
        let codes = ["list/scroll/first", "list/one_screen/first", "free_word_search/scroll/first"];
        let s = study(StudyDesign::Within, &codes);
        let mut first = std::collections::BTreeMap::new();
        for p in 1..=48 {
            let order = plan(&s, p);
            assert_eq!(order.len(), 3);
            *first.entry(order[0].code()).or_insert(0) += 1;
        }
        assert!(first.values().all(|n| *n == 16), "{first:?}");
        let b = study(StudyDesign::Between, &codes);
        let got: Vec<String> = (1..=4).map(|p| plan(&b, p)[0].code()).collect();
        assert_eq!(got, [codes[0], codes[1], codes[2], codes[0]]);
    }
}
