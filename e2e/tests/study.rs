//! Two simulated instructed studies of 48 participants each, driven through the real app in headless Chromium
//! (issue 22 part 6): a robot participant starts at `#study`, is told which entry to choose in two contests, waits
//! its "thinking" time, clicks an entry and confirms, in each of its two layouts in the order the verifier gave it,
//! and answers the System Usability Scale after each. Then `verifier research study-report` analyses the rows.
//!
//! - With an injected difference (in one layout the robot thinks 0.7 s longer per task, misses the target three
//!   times in ten and answers the SUS a point less favourably on every statement), the report must find it on
//!   every measure (Friedman p < 0.05) and name the slower layout.
//! - With none (both layouts drawn alike), it must find nothing (p ≥ 0.05 on every measure). The robot's own draws
//!   come from a fixed seed; the test first checks that they alone show no difference (p > 0.3), so that only the
//!   app, the verifier or the analysis could make one appear. The analysis's false-positive rate over many null
//!   studies is checked in `research::study`'s tests.
//!
//! The two tests run at once, each with its own verifier and browser.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use e2e::{Browser, LiveElection};
use rand_core::{Rng, SeedableRng};

/// The layouts compared: the same list of entries, in a scrolling box or on one screen, so that the robot's
/// clicks cost the same in both and only the injected difference separates them.
const STUDY: &str = r#"
id = "robot-study"
title = { ja = "模擬参加者による調査", en = "A study with simulated participants" }
design = "within"
layouts = [
  { selection = "list", display = "scroll", drum_start = "first" },
  { selection = "list", display = "one_screen", drum_start = "first" },
]

[[tasks]]
id = "district"
contest = "tokyo"
target = { type = "candidate", value = 5 }

[[tasks]]
id = "pr"
contest = "national-pr"
target = { type = "party", value = 2 }
"#;

const PARTICIPANTS: u32 = 48;
/// The layout that the injected difference makes worse.
const WORSE: &str = "list/one_screen/first";
/// Each task's target, and the entry a miss clicks instead.
const TASKS: [(&str, &str); 2] = [("#cand-5", "#cand-7"), ("#party-2", "#party-3")];

/// The robot's draws, the same on every run.
struct Draws(rand_chacha::ChaCha8Rng);

impl Draws {
    fn new(seed: u64) -> Draws {
        Draws(rand_chacha::ChaCha8Rng::seed_from_u64(seed))
    }

    fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What the robot does in one layout: per task, its thinking time and whether it misses; then its ten answers.
#[derive(Clone, Debug)]
struct Plan {
    think_ms: [u64; 2],
    miss: [bool; 2],
    sus: Vec<u8>,
}

fn plan(draws: &mut Draws, worse: bool, injected: bool) -> Plan {
    let hit = injected && worse;
    let think = |d: &mut Draws| 150 + (d.unit() * 500.0) as u64 + if hit { 700 } else { 0 };
    let miss = |d: &mut Draws| d.unit() < if hit { 0.3 } else { 0.05 };
    // A participant's general feeling (2..=4 on a positive statement), a point worse in the worse layout.
    let sus = (0..10)
        .map(|i| {
            let base = 2 + (draws.unit() * 3.0) as u8 - u8::from(hit);
            let base = base.max(1);
            if i % 2 == 0 { base } else { 6 - base }
        })
        .collect();
    Plan { think_ms: [think(draws), think(draws)], miss: [miss(draws), miss(draws)], sus }
}

/// The p-values of the report's omnibus tests, by measure, from `study-tests.csv`.
fn omnibus(tests_csv: &str) -> Vec<(String, Option<f64>)> {
    tests_csv
        .lines()
        .skip(1)
        .filter(|l| l.contains(",all,all,"))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[6].parse().ok())
        })
        .collect()
}

async fn js(b: &Browser, script: &str) -> serde_json::Value {
    b.client.execute(script, vec![]).await.unwrap()
}

/// Waits in the page (every 5 ms) until the element's text holds `text`: the robot sees a new screen within a
/// few milliseconds, the same in every layout, rather than at WebDriver's polling interval.
async fn when(b: &Browser, css: &str, text: &str) {
    let script = "const [css, text, done] = arguments; const t0 = performance.now();
        (function look() {
            const el = document.querySelector(css);
            if (el && el.textContent.includes(text)) { done(true); }
            else if (performance.now() - t0 > 20000) { done(false); }
            else { setTimeout(look, 5); }
        })();";
    let found = b.client.execute_async(script, vec![css.into(), text.into()]).await.unwrap();
    assert_eq!(found, serde_json::Value::Bool(true), "{css} never showed {text:?}");
}

/// Clicks an element from within the page: the same cost wherever it sits (WebDriver would first scroll a
/// scrolling box's entry into view, a cost of the robot, not of the layout).
async fn press(b: &Browser, css: &str) {
    when(b, css, "").await;
    b.client.execute("document.querySelector(arguments[0]).click();", vec![css.into()]).await.unwrap();
}

/// Runs one participant through the app; returns their number.
async fn participant(b: &Browser, plans: &mut impl FnMut(&str) -> Plan) -> u32 {
    press(b, "#study-start").await;
    let shown = b.wait_text("#study-participant", |t| t.chars().any(|c| c.is_ascii_digit())).await.unwrap();
    let number: u32 = shown.chars().filter(char::is_ascii_digit).collect::<String>().parse().unwrap();
    let progress = js(b, "return JSON.parse(sessionStorage.getItem('study-progress'))").await;
    let layouts: Vec<String> = progress["plan"]["layouts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let code = |k: &str| a[k].as_str().unwrap().to_string();
            format!("{}/{}/{}", code("selection"), code("display"), code("drum_start"))
        })
        .collect();
    for (l, layout) in layouts.iter().enumerate() {
        let p = plans(layout);
        for (task, (target, other)) in TASKS.iter().enumerate() {
            when(b, "#study-h", &format!("{} / 2・課題 {} / 2", l + 1, task + 1)).await;
            let entry = if p.miss[task] { other } else { target };
            when(b, entry, "").await;
            tokio::time::sleep(Duration::from_millis(p.think_ms[task])).await;
            press(b, entry).await;
            press(b, "#study-confirm").await;
        }
        when(b, "#sus-h", &format!("表示 {} / 2", l + 1)).await;
        for (i, answer) in p.sus.iter().enumerate() {
            press(b, &format!("#sus-{}-{answer}", i + 1)).await;
        }
        press(b, "#sus-submit").await;
    }
    when(b, "#study-thanks", &format!("参加者 {number} ")).await;
    number
}

/// Runs a whole study; returns the report's omnibus p-values by measure and the estimates CSV.
async fn run(injected: bool, seed: u64) -> (Vec<(String, Option<f64>)>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("study.toml");
    std::fs::write(&file, STUDY).unwrap();
    let election = LiveElection::start_with(1, &["--research-study", file.to_str().unwrap()]).unwrap();
    let b = Browser::start(None).await.unwrap();
    b.client.goto(&format!("{}#study", election.base_url)).await.unwrap();
    b.wait_text("#study-h", |t| t.contains("模擬参加者")).await.unwrap();
    let mut draws = Draws::new(seed);
    let mut plans = |layout: &str| plan(&mut draws, layout == WORSE, injected);
    for n in 1..=PARTICIPANTS {
        assert_eq!(participant(&b, &mut plans).await, n, "numbers are handed out in turn");
        if n == 1 {
            b.screenshot(if injected { "study-thanks-injected" } else { "study-thanks-null" }).await.unwrap();
        }
    }
    let out = dir.path().join("report");
    election
        .verifier_command(&[
            "research",
            "study-report",
            "--study",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .unwrap();
    let tests = std::fs::read_to_string(out.join("study-tests.csv")).unwrap();
    let estimates = std::fs::read_to_string(out.join("study-estimates.csv")).unwrap();
    let trials = std::fs::read_to_string(out.join("study-trials.csv")).unwrap();
    assert_eq!(trials.lines().count() as u32, 1 + PARTICIPANTS * 2 * 2, "every task of every participant: {trials}");
    let html = std::fs::read_to_string(out.join("study.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("robot-study"), "a self-contained page with its plots");
    let keep = e2e::target_dir().join("a11y").join(if injected { "study-injected" } else { "study-null" });
    let _ = std::fs::create_dir_all(&keep);
    for f in ["study-tests.csv", "study-estimates.csv", "study-trials.csv", "study.html"] {
        let _ = std::fs::copy(out.join(f), keep.join(f));
    }
    b.finish(&[e2e::NO_HELPER]).await.unwrap();
    (omnibus(&tests), estimates)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_study_with_an_injected_difference_finds_it_on_every_measure() {
    let (p, estimates) = run(true, 7).await;
    assert_eq!(p.len(), 3, "time, SUS and errors: {p:?}");
    for (measure, p) in &p {
        assert!(p.is_some_and(|p| p < 0.05), "{measure}: the injected difference was not found (p = {p:?})");
    }
    // The worse layout is slower and has the lower SUS.
    let row = |layout: &str| -> Vec<String> {
        estimates.lines().find(|l| l.starts_with(layout)).unwrap().split(',').map(str::to_string).collect()
    };
    let (worse, better) = (row(WORSE), row("list/scroll/first"));
    let num = |r: &[String], i: usize| r[i].parse::<f64>().unwrap();
    assert!(num(&worse, 11) > num(&better, 11), "median time: {worse:?} {better:?}");
    assert!(num(&worse, 14) < num(&better, 14), "median SUS: {worse:?} {better:?}");
    assert!(num(&worse, 8) > num(&better, 8), "error rate: {worse:?} {better:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_study_without_a_difference_finds_none() {
    const SEED: u64 = 11;
    // The robot's own draws show no difference: only the app, the verifier or the analysis could add one.
    let mut draws = Draws::new(SEED);
    let mut trials = Vec::new();
    let mut questionnaires = Vec::new();
    for n in 0..PARTICIPANTS as usize {
        let order = research::design::order(n, 2);
        for layout in order.iter().map(|&i| ["list/scroll/first", WORSE][i]) {
            let p = plan(&mut draws, layout == WORSE, false);
            for t in 0..2 {
                trials.push(research::study::Trial {
                    participant: n.to_string(),
                    layout: layout.into(),
                    task: t.to_string(),
                    completed: true,
                    on_target: !p.miss[t],
                    time_ms: p.think_ms[t] as f64,
                });
            }
            questionnaires.push(research::study::Questionnaire {
                participant: n.to_string(),
                layout: layout.into(),
                answers: p.sus.clone(),
            });
        }
    }
    let planned = research::study::analyse(research::study::Design::Within, &trials, &questionnaires, 1).unwrap();
    for c in &planned.comparisons {
        let p = c.omnibus.as_ref().map(|o| o.p).unwrap_or(1.0);
        assert!(p > 0.3, "the seed's own draws differ on {}: p = {p}", c.measure);
    }
    let (p, _) = run(false, SEED).await;
    assert_eq!(p.len(), 3, "{p:?}");
    for (measure, p) in &p {
        assert!(p.is_none_or(|p| p >= 0.05), "{measure}: a difference was found where none was injected (p = {p:?})");
    }
}
