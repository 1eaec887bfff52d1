//! A voter votes in real headless Chromium: logs in with the card through the helper's own PIN page (a popup
//! window of another origin), chooses a candidate, sees the choice in words, signs through the helper with the
//! signing password, and gets a receipt; a second attempt in the same contest is not offered.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::{Browser, LiveElection};
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread")]
async fn voter_logs_in_chooses_confirms_signs_and_gets_a_receipt() {
    let election = LiveElection::start().unwrap();
    let b = Browser::start(None).await.unwrap();
    b.client.goto(&election.base_url).await.unwrap();
    b.wait_text("#election-h", |t| !t.is_empty()).await.unwrap();
    let check = b.wait_text("#card-check", |t| !t.is_empty()).await.unwrap();
    assert!(check.contains("3 / 3"), "the card check shows the tries left: {check}");
    b.client.wait().for_element(Locator::Css("#login")).await.unwrap().click().await.unwrap();
    b.confirm_on_helper_page(election.auth_pin).await.unwrap();
    if b.wait_text("#contests-h", |t| !t.is_empty()).await.is_err() {
        b.screenshot("vote-login-failed").await.unwrap();
        panic!("login did not reach the ballot: {}", b.client.source().await.unwrap());
    }
    let left = b.wait_text("#session-left", |t| t.contains(':')).await.unwrap();
    // About 20 minutes: the app's clock is the server's measured over one round trip, and seconds round up.
    assert!(left.contains("19:") || left.contains("20:0"), "the session countdown starts at 20 minutes: {left}");
    b.screenshot("vote-contests").await.unwrap();

    b.client.find(Locator::Css("#contest-tokyo button")).await.unwrap().click().await.unwrap();
    b.client.wait().for_element(Locator::Css("#cand-3")).await.unwrap().click().await.unwrap();
    b.screenshot("vote-choose-list").await.unwrap();
    b.client.find(Locator::Css("#to-confirm")).await.unwrap().click().await.unwrap();
    let chosen = b.wait_text("#chosen", |t| !t.is_empty()).await.unwrap();
    assert_eq!(chosen, "佐々木 里美（ささき さとみ）", "the confirmation shows the choice in words");
    b.screenshot("vote-confirm").await.unwrap();
    b.client.find(Locator::Css("#cast")).await.unwrap().click().await.unwrap();
    b.confirm_on_helper_page(election.sign_password).await.unwrap();

    let tracker = b.wait_text("#contest-tokyo .tracker code", |t| t.len() == 64).await.unwrap();
    assert!(tracker.chars().all(|c| c.is_ascii_hexdigit()));
    let voted = b.wait_text("#contest-tokyo .status", |t| !t.is_empty()).await.unwrap();
    assert_eq!(voted, "投票済み");
    assert!(b.client.find(Locator::Css("#contest-tokyo button.choose")).await.is_err(), "no second vote is offered");
    b.screenshot("vote-receipt").await.unwrap();

    // National PR, found by free-word search (katakana query for a hiragana reading) in the drum roll.
    b.client.find(Locator::Css("#contest-national-pr button")).await.unwrap().click().await.unwrap();
    b.client.wait().for_element(Locator::Css("#mode-free_word_search")).await.unwrap().click().await.unwrap();
    b.client.find(Locator::Css("#display-drum_roll")).await.unwrap().click().await.unwrap();
    b.client.find(Locator::Css("#search")).await.unwrap().send_keys("ウエダ").await.unwrap();
    b.client.wait().for_element(Locator::Css(".drum #cand-102")).await.unwrap().click().await.unwrap();
    b.screenshot("vote-choose-search-drum").await.unwrap();
    b.client.find(Locator::Css("#to-confirm")).await.unwrap().click().await.unwrap();
    assert_eq!(b.wait_text("#chosen", |t| !t.is_empty()).await.unwrap(), "上田 真理（うえだ まり）");
    b.client.find(Locator::Css("#cast")).await.unwrap().click().await.unwrap();
    b.confirm_on_helper_page(election.sign_password).await.unwrap();
    b.wait_text("#contest-national-pr .tracker code", |t| t.len() == 64).await.unwrap();

    b.screenshot("vote-all-done").await.unwrap();
    b.finish(&[]).await.unwrap();
}

/// The Supreme Court review, held only with a House of Representatives general election: a dismiss mark on one
/// judge, shown in words on the confirmation and on the card helper's own page, and cast.
#[tokio::test(flavor = "multi_thread")]
async fn a_judges_review_is_cast_in_a_house_of_representatives_election() {
    let election = LiveElection::start_hor(1).unwrap();
    let b = Browser::start(None).await.unwrap();
    b.client.goto(&election.base_url).await.unwrap();
    b.log_in(election.auth_pin).await.unwrap();
    for contest in ["tokyo-1", "tokyo-block", "review"] {
        b.client.wait().for_element(Locator::Css(&format!("#contest-{contest}"))).await.unwrap();
    }
    b.client.find(Locator::Css("#contest-review button")).await.unwrap().click().await.unwrap();
    b.client.wait().for_element(Locator::Css("#judge-1")).await.unwrap().click().await.unwrap();
    b.client.find(Locator::Css("#to-confirm")).await.unwrap().click().await.unwrap();
    let chosen = b.wait_text("#chosen", |t| !t.is_empty()).await.unwrap();
    assert!(chosen.contains("井上 和子") && !chosen.contains("浅野"), "{chosen}");
    b.client.find(Locator::Css("#cast")).await.unwrap().click().await.unwrap();
    b.confirm_on_helper_page(election.sign_password).await.unwrap();
    b.wait_text("#contest-review .tracker code", |t| t.len() == 64).await.unwrap();
    b.screenshot("vote-review-done").await.unwrap();
    b.finish(&[]).await.unwrap();
}
