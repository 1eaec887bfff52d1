//! UX research (tracker issue 9) through warp's test harness and the binary: the researcher's mode assignment
//! reaches the app only in a practice election; metrics are stored in a practice election and refused in a real
//! one (NOT_PRACTICE); no stored row holds anything joinable to a voter; the report's files hold the right
//! numbers; `research election` writes a practice election that `election check` and `election create` accept.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;
use std::sync::Arc;

use shared::api::{
    ApiError, CastReceipt, Challenge, ClientConfig, DisplayCode, DrumStart, ResearchConfig, SelectionCode, TaskMetrics,
};
use shared::election::{Choice, ContestKind};
use support::*;
use verifier::voting::filters::routes;
use verifier::{AppState, Config};

fn with_research(state: &AppState) -> AppState {
    let research = ResearchConfig {
        selection: vec![SelectionCode::FreeWordSearch],
        display: DisplayCode::ALL.to_vec(),
        drum_start: vec![DrumStart::Rotated],
    };
    AppState { config: Arc::new(Config { research: Some(research), ..(*state.config).clone() }), ..state.clone() }
}

fn real_election() -> shared::election::Election {
    let mut e = verifier::demo::demo_election(chrono::Utc::now()).unwrap();
    e.practice = false;
    e.id = shared::election::Id::new("real-hoc").unwrap();
    e
}

fn metrics(participant: &str, selection: SelectionCode, display: DisplayCode, confirm_ms: u32) -> TaskMetrics {
    TaskMetrics {
        participant: participant.into(),
        contest_kind: ContestKind::HocDistrict,
        assigned: true,
        selection,
        display,
        drum_start: DrumStart::First,
        candidates: 9,
        time_to_first_selection_ms: Some(confirm_ms / 2),
        time_to_confirm_ms: confirm_ms,
        changes_of_mind: confirm_ms / 10_000,
        steps: 2,
        search_keystrokes: 4,
        errors: 1,
        challenges: 1,
        chosen_position: Some(5),
        off_first_screen: Some(confirm_ms > 10_000),
    }
}

async fn post_json(state: &AppState, path: &str, cookie: Option<&str>, body: &impl serde::Serialize) -> (u16, Vec<u8>) {
    let mut req = warp::test::request().method("POST").path(path).json(body);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.reply(&routes(state.clone(), None)).await;
    (r.status().as_u16(), r.body().to_vec())
}

async fn client_config(state: &AppState) -> ClientConfig {
    let r = warp::test::request().path("/api/v1/client-config").reply(&routes(state.clone(), None)).await;
    assert_eq!(r.status(), 200);
    serde_json::from_slice(r.body()).unwrap()
}

/// Rows in the table once every waiting task is written (as at the close or when the verifier stops).
fn stored(state: &AppState) -> i64 {
    verifier::research::flush(&state.db).unwrap();
    state.db.with(|c| c.query_row("SELECT count(*) FROM research_tasks", [], |r| r.get(0))).unwrap()
}

#[tokio::test]
async fn the_assignment_reaches_the_app_in_a_practice_election_only() {
    let practice = fixture(0);
    let c = client_config(&with_research(&practice.state)).await;
    let r = c.research.expect("a practice election gives the researcher's assignment");
    assert_eq!(r.selection, vec![SelectionCode::FreeWordSearch]);
    assert_eq!(r.display.len(), 3);
    assert_eq!(client_config(&practice.state).await.research, None, "no assignment without --research-*");

    let real = fixture_with(0, real_election(), chrono::Duration::minutes(20));
    assert_eq!(client_config(&with_research(&real.state)).await.research, None, "never in a real election");
}

#[tokio::test]
async fn metrics_are_stored_in_a_practice_election_and_refused_in_a_real_one() {
    let practice = fixture(0);
    let m = metrics("0123456789abcdef", SelectionCode::List, DisplayCode::Scroll, 8_000);
    let (status, body) = post_json(&practice.state, "/api/v1/research/metrics", None, &m).await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    assert_eq!(stored(&practice.state), 1);
    let rows = verifier::research::tasks(&practice.state.db).unwrap();
    assert_eq!(rows[0].pair(), "list × scroll");
    assert_eq!((rows[0].metrics.time_to_confirm_ms, rows[0].metrics.chosen_position), (8_000, Some(5)));

    let mut stray = serde_json::to_value(&m).unwrap();
    stray["person_id"] = "13101:E-1".into();
    let (status, body) = post_json(&practice.state, "/api/v1/research/metrics", None, &stray).await;
    assert_eq!(status, 400);
    assert_eq!(serde_json::from_slice::<ApiError>(&body).unwrap().code, "MALFORMED");
    let bad = TaskMetrics { participant: "person-0".into(), ..m.clone() };
    assert_eq!(post_json(&practice.state, "/api/v1/research/metrics", None, &bad).await.0, 400);
    assert_eq!(stored(&practice.state), 1, "refused metrics are not stored");

    let real = fixture_with(0, real_election(), chrono::Duration::minutes(20));
    let (status, body) = post_json(&with_research(&real.state), "/api/v1/research/metrics", None, &m).await;
    assert_eq!(status, 403);
    let e: ApiError = serde_json::from_slice(&body).unwrap();
    assert_eq!(e.code, "NOT_PRACTICE");
    assert!(e.message.contains("practice elections only") && e.message.contains("nothing was stored"), "{e:?}");
    assert_eq!(stored(&real.state), 0, "a real election stores no metrics");
}

#[tokio::test]
async fn no_stored_metric_is_joinable_to_a_voter() {
    let f = fixture(1);
    let v = &f.voters[0];
    let state = with_research(&f.state);
    // The voter logs in, casts, and the app sends the task's metrics, as it does after a cast.
    let r = warp::test::request()
        .method("POST")
        .path("/api/v1/session/challenge")
        .reply(&routes(state.clone(), None))
        .await;
    let nonce = serde_json::from_slice::<Challenge>(r.body()).unwrap().nonce.0;
    let r = warp::test::request()
        .method("POST")
        .path("/api/v1/session")
        .json(&login_body(v, &nonce, ORIGIN))
        .reply(&routes(state.clone(), None))
        .await;
    assert_eq!(r.status(), 201);
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let token = cookie.split_once('=').unwrap().1.to_string();
    let ct = encrypt(&state, "tokyo", Choice::Candidate(5));
    let (status, body) = post_json(
        &state,
        "/api/v1/ballots",
        Some(&cookie),
        &cast_body(v, state.election.get().id.as_str(), "tokyo", &ct),
    )
    .await;
    assert_eq!(status, 201);
    let tracker = serde_json::from_slice::<CastReceipt>(&body).unwrap().tracker;
    let m = metrics("fedcba9876543210fedcba9876543210", SelectionCode::FreeWordSearch, DisplayCode::DrumRoll, 12_345);
    assert_eq!(post_json(&state, "/api/v1/research/metrics", Some(&cookie), &m).await.0, 201);
    assert_eq!(stored(&state), 1);

    let (columns, without_rowid): (Vec<String>, bool) = state
        .db
        .with(|c| {
            let mut stmt = c.prepare("SELECT name FROM pragma_table_info('research_tasks')")?;
            let cols = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
            let sql: String =
                c.query_row("SELECT sql FROM sqlite_master WHERE name = 'research_tasks'", [], |r| r.get(0))?;
            Ok((cols, sql.contains("WITHOUT ROWID")))
        })
        .unwrap();
    let forbidden = [
        "person", "voter", "session", "token", "cert", "tracker", "ballot", "ip", "at", "time", "date", "created",
        "when",
    ];
    for c in &columns {
        // Durations (time_to_*) are not instants.
        let words: Vec<&str> = c.strip_prefix("time_to_").unwrap_or(c).split('_').collect();
        assert!(!words.iter().any(|w| forbidden.contains(w)), "column {c} could join a task to a voter or a moment");
    }
    assert!(without_rowid, "no rowid that follows the order of arrival");
    // Every stored value, as text: none is the person, the session token, the certificate's fingerprint, the
    // tracker, or an instant.
    let values: Vec<String> = state
        .db
        .with(|c| {
            let mut stmt = c.prepare("SELECT * FROM research_tasks")?;
            let n = stmt.column_count();
            let rows = stmt.query_map([], |r| {
                (0..n)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                            rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                            rusqlite::types::ValueRef::Blob(b) => hex::encode(b),
                            other => format!("{other:?}"),
                        })
                    })
                    .collect::<rusqlite::Result<Vec<String>>>()
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?.concat())
        })
        .unwrap();
    let fingerprint = fingerprint(&v.card.auth_cert_der);
    let now_year = chrono::Utc::now().format("%Y-").to_string();
    for value in &values {
        for secret in [&v.person_id, &token, &tracker, &fingerprint] {
            assert!(!value.contains(secret.as_str()), "{value} holds {secret}");
        }
        assert!(!value.contains(&now_year), "{value} looks like a date");
        if let Ok(n) = value.parse::<i64>() {
            assert!(n < 1_000_000_000, "{value} looks like a Unix time");
        }
    }
    assert!(values.contains(&"fedcba9876543210fedcba9876543210".to_string()), "the random participant id is kept");
}

#[test]
fn the_report_holds_the_right_numbers() {
    let db = verifier::store::Db::open_in_memory().unwrap();
    // list × scroll: 4 tasks, confirm 6, 8, 10, 20 s (median 9.0); search × drum_roll: 3 tasks, 12, 30, 15 s
    // (median 15.0); one 白票 task.
    for (i, ms) in [6_000, 8_000, 10_000, 20_000].into_iter().enumerate() {
        let p = format!("{:016x}", i + 1);
        verifier::research::store(&db, "demo-hoc", &metrics(&p, SelectionCode::List, DisplayCode::Scroll, ms)).unwrap();
    }
    for ms in [12_000, 30_000, 15_000] {
        let m = metrics("00000000000000aa", SelectionCode::FreeWordSearch, DisplayCode::DrumRoll, ms);
        verifier::research::store(&db, "demo-hoc", &m).unwrap();
    }
    let blank = TaskMetrics {
        chosen_position: None,
        off_first_screen: None,
        ..metrics("00000000000000bb", SelectionCode::InitialLetterSelect, DisplayCode::OneScreen, 4_000)
    };
    verifier::research::store(&db, "demo-hoc", &blank).unwrap();

    verifier::research::flush(&db).unwrap();
    let tasks = verifier::research::tasks(&db).unwrap();
    let out = tempfile::tempdir().unwrap();
    let summary = verifier::research::report::write_report(&tasks, out.path()).unwrap();
    assert_eq!(summary.len(), 3);
    let list = summary.iter().find(|s| s.pair == "list × scroll").unwrap();
    assert_eq!((list.tasks, list.participants, list.median_confirm_s), (4, 4, 9.0));
    assert_eq!(list.median_first_s, Some(4.5));
    assert_eq!(list.off_first_screen, Some(0.25));
    let search = summary.iter().find(|s| s.pair == "free_word_search × drum_roll").unwrap();
    assert_eq!((search.tasks, search.participants, search.median_confirm_s), (3, 1, 15.0));
    assert!((search.mean_changes - 5.0 / 3.0).abs() < 1e-9, "changes of mind 1, 3, 1");

    let csv = std::fs::read_to_string(out.path().join("tasks.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 8);
    assert!(csv.lines().next().unwrap().starts_with("election_id,participant,contest_kind,assigned,selection"));
    assert!(csv.contains(",list,scroll,first,9,10000,20000,2,2,4,1,5,true,1\n"), "{csv}");
    assert!(csv.contains(",initial_letter_select,one_screen,first,9,2000,4000,0,2,4,1,,,1\n"), "{csv}");
    let index = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert!(
        index.contains("<th scope=\"row\">list × scroll</th><td>4</td><td>4</td><td>4.5</td><td>9.0</td>"),
        "{index}"
    );
    assert!(
        index.contains(
            "<th scope=\"row\">free_word_search × drum_roll</th><td>3</td><td>1</td><td>7.5</td><td>15.0</td>"
        )
    );
    assert!(index.contains("8 tasks"));
    for svg in ["time_to_confirm.svg", "changes_of_mind.svg", "time_vs_position.svg"] {
        assert!(index.contains(&format!("href=\"{svg}\"")), "index links {svg}");
        let text = std::fs::read_to_string(out.path().join(svg)).unwrap();
        assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"), "{svg}");
    }
    let boxes = std::fs::read_to_string(out.path().join("time_to_confirm.svg")).unwrap();
    assert!(boxes.contains("list/scroll") && boxes.contains("search/drum"), "pairs are labelled");
    let scatter = std::fs::read_to_string(out.path().join("time_vs_position.svg")).unwrap();
    assert_eq!(scatter.matches("<circle").count(), 7 + 3, "one point per chosen entry, and three legend marks");
}

fn verifier(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_verifier")).args(args).output().unwrap()
}

#[test]
fn research_election_writes_a_practice_election_that_check_and_create_accept() {
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("lab.toml");
    let lab_s = lab.to_str().unwrap();
    let out = verifier(&[
        "research",
        "election",
        "--kind",
        "hoc_district",
        "--candidates",
        "120",
        "--seed",
        "7",
        "--out",
        lab_s,
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let first = std::fs::read_to_string(&lab).unwrap();
    assert!(first.contains("practice = true"));
    let out = verifier(&["election", "check", lab_s]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("HocDistrict"));
    let e = verifier::cli::load_election(&lab).unwrap();
    assert!(e.practice);
    assert_eq!(e.contests[0].selectable_candidates().len(), 120);
    assert_eq!(
        e,
        shared::practice::generate(ContestKind::HocDistrict, 120, 7).unwrap(),
        "the TOML is the generated election"
    );
    let key = dir.path().join("key.pem");
    std::fs::write(&key, ELECTION_PUB).unwrap();
    let db = dir.path().join("v.sqlite");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_verifier"));
    let crew = verifier::operators::crew::Crew::bootstrap(bin, &db, &dir.path().join("ca"), dir.path()).unwrap();
    crew.four_eyes(&["election", "create", lab_s, "--public-key", key.to_str().unwrap(), "--redate-for-demo"]).unwrap();

    for (kind, n) in [("hor_pr", "5"), ("hoc_pr", "200"), ("judicial_review", "15"), ("hor_district", "33")] {
        let out = verifier(&["research", "election", "--kind", kind, "--candidates", n, "--out", lab_s]);
        assert!(out.status.success(), "{kind} {n}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(verifier(&["election", "check", lab_s]).status.success(), "{kind} {n}");
    }
    for (n, kind) in [("4", "hoc_district"), ("201", "hoc_district"), ("33", "judicial_review")] {
        let out = verifier(&["research", "election", "--kind", kind, "--candidates", n, "--out", lab_s]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("got {n}")) && err.contains("candidates"), "{err}");
    }
    let out = verifier(&["research", "election", "--kind", "senate", "--candidates", "10", "--out", lab_s]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("hoc_district"), "the kinds are named");
}
