//! Instructed usability studies (issue 22 part 6) through warp's test harness: a real election refuses every study
//! route and a study file; participants get numbers in turn and their layouts in a counterbalanced order; each
//! layout's result is stored once, with the verifier deciding whether each choice was the target; a result for a
//! participant or a layout never handed out is refused; the stored rows hold no chosen entry and no time of day.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use shared::api::{ApiError, Assignment};
use shared::election::Choice;
use shared::study::{LayoutResult, Study, StudyPlan, TrialResult};
use support::*;
use verifier::voting::filters::routes;
use verifier::{AppState, Config};

const STUDY: &str = include_str!("../elections/demo-study.toml");

fn study_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("elections/demo-study.toml")
}

fn with_study(state: &AppState) -> (AppState, Study) {
    let study = verifier::research::study::load(&study_path(), &state.election.get()).unwrap();
    let state = AppState {
        config: Arc::new(Config { study: Some(Arc::new(study.clone())), ..(*state.config).clone() }),
        ..state.clone()
    };
    (state, study)
}

async fn call(state: &AppState, method: &str, path: &str, body: Option<&impl serde::Serialize>) -> (u16, Vec<u8>) {
    let mut req = warp::test::request().method(method).path(path);
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.reply(&routes(state.clone(), None)).await;
    (r.status().as_u16(), r.body().to_vec())
}

fn code(body: &[u8]) -> String {
    serde_json::from_slice::<ApiError>(body).unwrap().code
}

fn result(study: &Study, participant: u32, layout: Assignment, hit: bool) -> LayoutResult {
    let trials = study
        .tasks
        .iter()
        .map(|t| TrialResult {
            task: t.id.clone(),
            chosen: Some(shared::study::entry_code(if hit { t.target } else { Choice::Candidate(1) })),
            time_ms: 5_000,
            steps: 1,
            keystrokes: 2,
            changes_of_mind: 0,
        })
        .collect();
    LayoutResult { study: study.id.clone(), participant, layout, trials, sus: vec![4, 2, 4, 2, 4, 2, 4, 2, 4, 2] }
}

#[tokio::test]
async fn a_real_election_refuses_every_study_route_and_the_study_file() {
    let mut real = verifier::demo::demo_election(chrono::Utc::now()).unwrap();
    real.practice = false;
    let e = verifier::research::study::load(&study_path(), &real).unwrap_err().to_string();
    assert!(e.contains("real election") && e.contains("practice elections only"), "{e}");

    let practice = fixture(0);
    let (state, study) = with_study(&practice.state);
    let real_fixture = fixture_with(0, real, chrono::Duration::minutes(20));
    let real_state = AppState { config: state.config.clone(), ..real_fixture.state.clone() };
    let body = result(&study, 1, study.layouts[0], true);
    for (method, path) in [
        ("GET", "/api/v1/research/study"),
        ("POST", "/api/v1/research/study/participants"),
        ("POST", "/api/v1/research/study/results"),
    ] {
        let (status, answer) = call(&real_state, method, path, Some(&body)).await;
        assert_eq!((status, code(&answer)), (403, "NOT_PRACTICE".to_string()), "{method} {path}");
        let (status, answer) = call(&practice.state, method, path, Some(&body)).await;
        assert_eq!((status, code(&answer)), (404, "NO_STUDY".to_string()), "{method} {path} without a study");
    }
    let handed: i64 = real_fixture
        .state
        .db
        .with(|c| c.query_row("SELECT count(*) FROM study_participants", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(handed, 0, "a real election hands out no participant");
}

#[tokio::test]
async fn a_study_file_with_a_target_not_on_the_ballot_is_refused_with_its_task() {
    let practice = fixture(0);
    let dir = tempfile::tempdir().unwrap();
    for (from, to, why) in [
        ("value = 5", "value = 42", "task district: the target is not offered"),
        ("contest = \"tokyo\"", "contest = \"osaka\"", "no contest \"osaka\""),
        ("design = \"within\"", "design = \"sideways\"", "not a study file"),
        ("type = \"party\", value = 2", "type = \"blank\"", "must be a candidate or a party"),
    ] {
        let path = dir.path().join("study.toml");
        std::fs::write(&path, STUDY.replace(from, to)).unwrap();
        let e = format!("{:#}", verifier::research::study::load(&path, &practice.state.election.get()).unwrap_err());
        assert!(e.contains(why), "{from} → {to}: {e}");
    }
}

#[tokio::test]
async fn participants_get_numbers_in_turn_and_each_layout_is_stored_once_with_the_target_decided_here() {
    let practice = fixture(0);
    let (state, study) = with_study(&practice.state);
    let (status, body) = call(&state, "GET", "/api/v1/research/study", None::<&()>).await;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_slice::<Study>(&body).unwrap(), study);

    let mut plans = Vec::new();
    for n in 1..=4u32 {
        let (status, body) = call(&state, "POST", "/api/v1/research/study/participants", None::<&()>).await;
        assert_eq!(status, 201);
        let plan: StudyPlan = serde_json::from_slice(&body).unwrap();
        assert_eq!(plan.participant, n, "numbers are handed out in turn");
        plans.push(plan);
    }
    assert_eq!(plans[0].layouts, study.layouts, "participant 1 takes the square's first row");
    assert_eq!(plans[1].layouts, [study.layouts[1], study.layouts[0]], "participant 2 the second");

    // Participant 1 hits every target in the first layout and misses every one in the second.
    for (layout, hit) in [(plans[0].layouts[0], true), (plans[0].layouts[1], false)] {
        let (status, body) =
            call(&state, "POST", "/api/v1/research/study/results", Some(&result(&study, 1, layout, hit))).await;
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    }
    let again = result(&study, 1, plans[0].layouts[0], false);
    let (status, body) = call(&state, "POST", "/api/v1/research/study/results", Some(&again)).await;
    assert_eq!((status, code(&body)), (409, "STUDY_DUPLICATE".to_string()));
    let (status, body) =
        call(&state, "POST", "/api/v1/research/study/results", Some(&result(&study, 9, study.layouts[0], true))).await;
    assert_eq!((status, code(&body)), (400, "STUDY_NOT_IN_PLAN".to_string()), "participant 9 was not handed out");
    let other = Assignment::from_code("initial_letter_select/drum_roll/rotated").unwrap();
    let (status, body) =
        call(&state, "POST", "/api/v1/research/study/results", Some(&result(&study, 2, other, true))).await;
    assert_eq!((status, code(&body)), (400, "STUDY_NOT_IN_PLAN".to_string()), "not one of the study's layouts");
    let mut short = result(&study, 2, study.layouts[0], true);
    short.sus.pop();
    let (status, body) = call(&state, "POST", "/api/v1/research/study/results", Some(&short)).await;
    assert_eq!((status, code(&body)), (400, "MALFORMED".to_string()));

    let (trials, questionnaires) = verifier::research::study::rows(&state.db, &study.id).unwrap();
    assert_eq!(trials.len(), 4, "two tasks in each of two layouts: {trials:?}");
    assert_eq!(questionnaires.len(), 2);
    for t in &trials {
        assert_eq!(t.on_target, t.layout == plans[0].layouts[0].code(), "the first answers are kept: {t:?}");
        assert!(t.completed && t.time_ms == 5_000);
    }
    assert_eq!(questionnaires[0].answers, [4, 2, 4, 2, 4, 2, 4, 2, 4, 2]);
    assert_eq!(questionnaires[0].participant, "P001");

    // What a disk reader finds: no column names an entry, a person, a session or a time of day.
    let columns: Vec<String> = state
        .db
        .with(|c| {
            let mut s = c.prepare(
                "SELECT m.name || '.' || p.name FROM sqlite_master m, pragma_table_info(m.name) p
                 WHERE m.type = 'table' AND m.name LIKE 'study_%'",
            )?;
            let mut names = Vec::new();
            for name in s.query_map([], |r| r.get(0))? {
                names.push(name?);
            }
            Ok(names)
        })
        .unwrap();
    for c in &columns {
        for bad in ["chosen", "choice", "candidate", "party", "session", "person", "voter", "time_of", "_at", "ip"] {
            assert!(!c.ends_with(bad) && !c.contains(&format!(".{bad}")), "{c} in {columns:?}");
        }
    }
}
