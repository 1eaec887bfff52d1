//! UX research in real headless Chromium (tracker issue 9): the verifier assigns free-word search in the drum roll
//! to every participant of the (practice) demo election; the app shows them without mode switches, the voter
//! votes once, and once the verifier has stopped (it writes research tasks in shuffled batches, and what it still
//! holds when it stops) its database holds exactly one anonymous task with that mode pair, read back through
//! `verifier research report`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use e2e::{Browser, LiveElection};
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread")]
async fn a_vote_in_a_practice_election_sends_one_task_with_the_assigned_modes() {
    let mut election = LiveElection::start_with(
        1,
        &[
            "--research-selection",
            "free_word_search",
            "--research-display",
            "drum_roll",
            "--research-drum-start",
            "first",
        ],
    )
    .unwrap();
    let b = Browser::start(None).await.unwrap();
    b.client.goto(&election.base_url).await.unwrap();
    b.wait_text("#election-h", |t| !t.is_empty()).await.unwrap();
    b.log_in(election.auth_pin).await.unwrap();

    b.client.find(Locator::Css("#contest-tokyo button")).await.unwrap().click().await.unwrap();
    let search = b.client.wait().for_element(Locator::Css("#search")).await.unwrap();
    assert!(b.client.find(Locator::Css("#mode-list")).await.is_err(), "assigned modes: no selection switch");
    assert!(b.client.find(Locator::Css("#display-one_screen")).await.is_err(), "assigned modes: no display switch");
    assert!(b.client.find(Locator::Css(".drum #cand-1")).await.is_ok(), "the drum roll starts at the first entry");
    search.send_keys("ナカムラ").await.unwrap();
    b.client.wait().for_element(Locator::Css(".drum #cand-5")).await.unwrap().click().await.unwrap();
    b.screenshot("research-assigned-search-drum").await.unwrap();
    b.client.find(Locator::Css("#to-confirm")).await.unwrap().click().await.unwrap();
    assert_eq!(b.wait_text("#chosen", |t| !t.is_empty()).await.unwrap(), "中村 翔太（なかむら しょうた）");
    b.client.find(Locator::Css("#cast")).await.unwrap().click().await.unwrap();
    b.confirm_on_helper_page(election.sign_password).await.unwrap();
    b.wait_text("#contest-tokyo .tracker code", |t| t.len() == 64).await.unwrap();

    // The metrics are sent after the cast, without waiting: once the browser has the answer, the lab ends.
    let answered = "return performance.getEntriesByType('resource')
        .some(e => e.name.includes('/api/v1/research/metrics') && e.responseEnd > 0)";
    for _ in 0..50 {
        if b.client.execute(answered, vec![]).await.unwrap().as_bool() == Some(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    election.verifier_command(&["research", "report", "--out", dir]).unwrap();
    let csv = std::fs::read_to_string(out.path().join("tasks.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1, "a task is not written right after the cast it describes: {csv}");
    election.stop_verifier().unwrap();
    election.verifier_command(&["research", "report", "--out", dir]).unwrap();
    let csv = std::fs::read_to_string(out.path().join("tasks.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "one task: {csv}");
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = rows[0].split(',').collect();
    let field = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(field("election_id"), "demo-hoc");
    assert_eq!((field("selection"), field("display"), field("drum_start")), ("free_word_search", "drum_roll", "first"));
    assert_eq!((field("assigned"), field("contest_kind"), field("candidates")), ("true", "hoc_district", "9"));
    assert_eq!(field("chosen_position"), "5", "中村 翔太 is fifth in filing order");
    assert_eq!(field("off_first_screen"), "true", "not the drum roll's first entry");
    assert_eq!(field("changes_of_mind"), "0");
    assert!(field("search_keystrokes").parse::<u32>().unwrap() >= 1);
    let confirm: u32 = field("time_to_confirm_ms").parse().unwrap();
    let first: u32 = field("time_to_first_selection_ms").parse().unwrap();
    assert!(first <= confirm && confirm > 0, "{first} {confirm}");
    let participant = field("participant");
    assert!(participant.len() == 32 && participant.bytes().all(|b| b.is_ascii_hexdigit()), "{participant}");
    assert!(!csv.contains("13101") && !csv.contains("E-1"), "nothing names the voter: {csv}");
    let index = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert!(index.contains("free_word_search × drum_roll</th><td>1</td><td>1</td>"), "{index}");
    b.finish(&[]).await.unwrap();
}
