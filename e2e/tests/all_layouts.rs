//! A vote in each of the 12 selection × display combinations (R-SYS-4), in real headless Chromium: six voters,
//! each voting in the Tokyo district (a candidate) and in national PR (a party), each contest with another
//! combination; every confirmation shows the choice in words and every ballot gets its tracker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::{Browser, LiveElection};
use fantoccini::Locator;

const SELECTION: [&str; 4] = ["list", "free_word_search", "initial_letter_input", "initial_letter_select"];
const DISPLAY: [&str; 3] = ["one_screen", "scroll", "drum_roll"];

/// The entry to choose in a contest and how to find it in each selection mode: (id, search text, initial kana,
/// row button, the words the confirmation shows).
fn target(contest: &str) -> (&'static str, &'static str, &'static str, &'static str, &'static str) {
    match contest {
        "tokyo" => ("#cand-5", "ナカムラ", "な", "#row-4", "中村 翔太（なかむら しょうた）"),
        _ => ("#party-2", "みどりの", "み", "#row-6", "みどりの風"),
    }
}

async fn choose(b: &Browser, contest: &str, selection: &str, display: &str) {
    let (id, search, initial, row, words) = target(contest);
    b.client.find(Locator::Css(&format!("#contest-{contest} button"))).await.unwrap().click().await.unwrap();
    b.client.wait().for_element(Locator::Css(&format!("#mode-{selection}"))).await.unwrap().click().await.unwrap();
    b.client.find(Locator::Css(&format!("#display-{display}"))).await.unwrap().click().await.unwrap();
    match selection {
        "free_word_search" => b.client.find(Locator::Css("#search")).await.unwrap().send_keys(search).await.unwrap(),
        "initial_letter_input" => {
            b.client.find(Locator::Css("#initial")).await.unwrap().send_keys(initial).await.unwrap()
        }
        "initial_letter_select" => b.client.find(Locator::Css(row)).await.unwrap().click().await.unwrap(),
        _ => {}
    }
    // In the drum roll, turn the wheel until the entry comes up.
    for _ in 0..40 {
        if b.client.find(Locator::Css(id)).await.is_ok() {
            break;
        }
        b.client.find(Locator::Css("#drum-next")).await.unwrap().click().await.unwrap();
    }
    b.client.find(Locator::Css(id)).await.unwrap().click().await.unwrap();
    b.screenshot(&format!("layout-{selection}-{display}")).await.unwrap();
    b.client.find(Locator::Css("#to-confirm")).await.unwrap().click().await.unwrap();
    let chosen = b.wait_text("#chosen", |t| !t.is_empty()).await.unwrap();
    assert_eq!(chosen, words, "{selection} × {display}");
    b.client.find(Locator::Css("#cast")).await.unwrap().click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vote_in_every_selection_and_display_combination() {
    let mut election = LiveElection::start_with_voters(6).unwrap();
    let b = Browser::start(None).await.unwrap();
    let combos: Vec<(&str, &str)> = SELECTION.iter().flat_map(|s| DISPLAY.iter().map(move |d| (*s, *d))).collect();
    assert_eq!(combos.len(), 12);
    for (voter, pair) in combos.chunks(2).enumerate() {
        election.use_card(voter).unwrap();
        b.client.goto(&election.base_url).await.unwrap();
        b.wait_text("#election-h", |t| !t.is_empty()).await.unwrap();
        b.log_in(election.auth_pin).await.unwrap();
        for (contest, (selection, display)) in ["tokyo", "national-pr"].iter().zip(pair) {
            choose(&b, contest, selection, display).await;
            b.confirm_on_helper_page(election.sign_password).await.unwrap();
            b.wait_text(&format!("#contest-{contest} .tracker code"), |t| t.len() == 64).await.unwrap();
        }
    }
    b.finish(&[]).await.unwrap();
}
