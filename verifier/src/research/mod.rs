//! UX research in practice elections (R-SYS-4 leaves open which selection mode is fairest; tracker issue 9).
//!
//! - The researcher fixes or randomizes the selection mode, display mode and drum-roll start (`serve
//!   --research-*`); the app receives it through `GET /api/v1/client-config` in practice elections only.
//! - The app sends one task's anonymous metrics to `POST /api/v1/research/metrics`; a real election refuses them
//!   (`NOT_PRACTICE`) and stores nothing.
//!
//! Anonymity is a property of the `research_tasks` schema and of when rows are written: no person, no session, no
//! certificate, no tracker, no time column; rows keyed by a random id in a `WITHOUT ROWID` table; and a task's row
//! is not written when it arrives, right after the cast it describes (a disk reader would line it up with the
//! voter's mark and learn the chosen position). Tasks wait in memory ([`Pending`]); once 2K of a contest kind
//! wait (K: the ballot box's batch), the oldest K are written in one transaction, in random order, so that the
//! K or more still waiting make a crowd of at least K at the close, when they are written, or when the verifier
//! stops. The endpoint reads no cookie, and nothing here is logged.

pub mod report;
pub mod study;

use std::collections::HashMap;
use std::sync::Mutex;

use rusqlite::{Connection, params};
use shared::api::{DisplayCode, DrumStart, ResearchConfig, SelectionCode, TaskMetrics};
use shared::election::ContestKind;
use warp::Reply;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::AppState;
use crate::errors::Refusal;
use crate::store::Db;

/// Reads the `serve --research-*` values: each a code, a comma-separated list of codes, or `random` (every
/// value); `None` when no flag was given. A flag left out is `random`.
pub fn config_from_flags(
    selection: Option<&str>,
    display: Option<&str>,
    drum_start: Option<&str>,
) -> anyhow::Result<Option<ResearchConfig>> {
    if selection.is_none() && display.is_none() && drum_start.is_none() {
        return Ok(None);
    }
    fn list<T: Copy>(
        flag: &str,
        value: Option<&str>,
        all: &[T],
        code: fn(T) -> &'static str,
        from: fn(&str) -> Option<T>,
    ) -> anyhow::Result<Vec<T>> {
        let value = value.unwrap_or("random");
        if value == "random" {
            return Ok(all.to_vec());
        }
        value
            .split(',')
            .map(|v| {
                from(v.trim()).ok_or_else(|| {
                    let codes: Vec<&str> = all.iter().map(|t| code(*t)).collect();
                    anyhow::anyhow!("--research-{flag} {v:?}: use {} or random", codes.join(", "))
                })
            })
            .collect()
    }
    Ok(Some(ResearchConfig {
        selection: list("selection", selection, SelectionCode::ALL, SelectionCode::code, SelectionCode::from_code)?,
        display: list("display", display, DisplayCode::ALL, DisplayCode::code, DisplayCode::from_code)?,
        drum_start: list("drum-start", drum_start, DrumStart::ALL, DrumStart::code, DrumStart::from_code)?,
    }))
}

/// Answers `POST /api/v1/research/metrics`: stores one task's metrics in a practice election; refuses them in a
/// real one with `NOT_PRACTICE` and stores nothing.
pub fn receive(state: &AppState, metrics: TaskMetrics) -> Result<Response, Refusal> {
    if !state.election.get().practice {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "NOT_PRACTICE",
            "UX metrics are collected in practice elections only; this is a real election, so nothing was stored.",
        ));
    }
    metrics.check().map_err(|m| Refusal::new(StatusCode::BAD_REQUEST, "MALFORMED", format!("The metrics: {m}.")))?;
    store(&state.db, state.election.get().id.as_str(), &metrics).map_err(|e| {
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "STORAGE_UNAVAILABLE",
            format!("The metrics were not stored ({e})."),
        )
    })?;
    Ok(warp::reply::with_status(warp::reply::json(&shared::api::Empty {}), StatusCode::CREATED).into_response())
}

/// Tasks waiting to be written, per (election, contest kind).
#[derive(Default)]
pub struct Pending(Mutex<HashMap<(String, String), Vec<TaskMetrics>>>);

/// Takes one task's metrics: it waits with others of its election and contest kind; once 2K wait, the oldest K
/// are written in one transaction, in random order, each under a random id.
pub fn store(db: &Db, election_id: &str, m: &TaskMetrics) -> anyhow::Result<()> {
    let kind = serde_json::to_value(m.contest_kind)?.as_str().unwrap_or_default().to_string();
    let k = db.ballot_box().batch_size();
    let due = {
        let mut pending = db.research_pending().0.lock().map_err(|_| anyhow::anyhow!("a lock is poisoned"))?;
        let waiting = pending.entry((election_id.to_string(), kind)).or_default();
        waiting.push(m.clone());
        (waiting.len() >= 2 * k).then(|| waiting.drain(..k).collect::<Vec<_>>())
    };
    if let Some(batch) = due {
        write(db, election_id, batch)?;
    }
    Ok(())
}

/// Writes every task still waiting (at the close, and when the verifier stops); returns how many.
pub fn flush(db: &Db) -> anyhow::Result<usize> {
    let all: Vec<((String, String), Vec<TaskMetrics>)> = {
        let mut pending = db.research_pending().0.lock().map_err(|_| anyhow::anyhow!("a lock is poisoned"))?;
        pending.drain().collect()
    };
    let mut n = 0;
    for ((election, _), batch) in all {
        n += batch.len();
        write(db, &election, batch)?;
    }
    Ok(n)
}

/// Writes tasks in one transaction, in random order.
fn write(db: &Db, election_id: &str, mut batch: Vec<TaskMetrics>) -> anyhow::Result<()> {
    ballot_box::shuffle(&mut batch)?;
    db.with(|c| {
        let tx = c.transaction()?;
        for m in &batch {
            insert(&tx, election_id, m)?;
        }
        tx.commit()
    })?;
    Ok(())
}

fn insert(c: &Connection, election_id: &str, m: &TaskMetrics) -> rusqlite::Result<()> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| rusqlite::Error::InvalidParameterName(format!("no randomness: {e}")))?;
    let kind = kind_code(m.contest_kind);
    {
        c.execute(
            "INSERT INTO research_tasks (id, election_id, participant, contest_kind, assigned, selection, display,
                 drum_start, candidates, time_to_first_selection_ms, time_to_confirm_ms, changes_of_mind, steps,
                 search_keystrokes, errors, chosen_position, off_first_screen, challenges)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            params![
                id.to_vec(),
                election_id,
                m.participant,
                kind,
                m.assigned,
                m.selection.code(),
                m.display.code(),
                m.drum_start.code(),
                m.candidates,
                m.time_to_first_selection_ms,
                m.time_to_confirm_ms,
                m.changes_of_mind,
                m.steps,
                m.search_keystrokes,
                m.errors,
                m.chosen_position,
                m.off_first_screen,
                m.challenges,
            ],
        )?;
    }
    Ok(())
}

/// One stored task, as the report reads it: the metrics as the app sent them (the one metrics type, issue 23
/// part 3), and the practice election they belong to.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRow {
    /// The practice election.
    pub election_id: String,
    /// The task's metrics.
    pub metrics: TaskMetrics,
}

impl TaskRow {
    /// Returns the mode pair as `selection × display`.
    pub fn pair(&self) -> String {
        format!("{} × {}", self.metrics.selection.code(), self.metrics.display.code())
    }
}

/// Returns a contest kind's code as stored (its serde name, e.g. `hoc_district`).
pub fn kind_code(kind: ContestKind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Reads a stored code back into its type, naming the column of a code this build does not know.
fn code<T>(column: usize, text: String, parse: impl FnOnce(&str) -> Option<T>) -> rusqlite::Result<T> {
    parse(&text).ok_or_else(|| {
        let e = format!("unknown code {text:?}");
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, e.into())
    })
}

/// Reads every stored task, ordered by mode pair and participant (never by arrival: there is no such order).
pub fn tasks(db: &Db) -> rusqlite::Result<Vec<TaskRow>> {
    db.with(|c| {
        let mut stmt = c.prepare(
            "SELECT election_id, participant, contest_kind, assigned, selection, display, drum_start, candidates,
                    time_to_first_selection_ms, time_to_confirm_ms, changes_of_mind, steps, search_keystrokes, errors,
                    chosen_position, off_first_screen, challenges
             FROM research_tasks ORDER BY selection, display, participant, time_to_confirm_ms, id",
        )?;
        let rows = stmt.query_map([], |r| {
            let kind = |s: &str| serde_json::from_value(serde_json::Value::String(s.to_owned())).ok();
            Ok(TaskRow {
                election_id: r.get(0)?,
                metrics: TaskMetrics {
                    participant: r.get(1)?,
                    contest_kind: code(2, r.get(2)?, kind)?,
                    assigned: r.get(3)?,
                    selection: code(4, r.get(4)?, SelectionCode::from_code)?,
                    display: code(5, r.get(5)?, DisplayCode::from_code)?,
                    drum_start: code(6, r.get(6)?, DrumStart::from_code)?,
                    candidates: r.get(7)?,
                    time_to_first_selection_ms: r.get(8)?,
                    time_to_confirm_ms: r.get(9)?,
                    changes_of_mind: r.get(10)?,
                    steps: r.get(11)?,
                    search_keystrokes: r.get(12)?,
                    errors: r.get(13)?,
                    chosen_position: r.get(14)?,
                    off_first_screen: r.get(15)?,
                    challenges: r.get(16)?,
                },
            })
        })?;
        rows.collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_codes_lists_and_random() {
        assert_eq!(config_from_flags(None, None, None).unwrap(), None);
        let c = config_from_flags(Some("free_word_search"), Some("scroll,drum_roll"), None).unwrap().unwrap();
        assert_eq!(c.selection, vec![SelectionCode::FreeWordSearch]);
        assert_eq!(c.display, vec![DisplayCode::Scroll, DisplayCode::DrumRoll]);
        assert_eq!(c.drum_start, DrumStart::ALL.to_vec(), "a flag left out is random");
        let c = config_from_flags(Some("random"), None, Some("first")).unwrap().unwrap();
        assert_eq!(c.selection, SelectionCode::ALL.to_vec());
        assert_eq!(c.drum_start, vec![DrumStart::First]);
        let e = config_from_flags(Some("wheel"), None, None).unwrap_err().to_string();
        assert!(e.contains("--research-selection \"wheel\"") && e.contains("initial_letter_select"), "{e}");
    }
}
