//! The whole vote in English (Japanese first, English second): the language switch, kept across a reload with
//! the page's `lang` attribute, and every step of a vote — contests, candidate screen, confirmation, receipt —
//! in English, with names still shown as filed with their readings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::{Browser, LiveElection};
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread")]
async fn a_voter_votes_in_english() {
    let election = LiveElection::start().unwrap();
    let b = Browser::start(None).await.unwrap();
    b.client.goto(&election.base_url).await.unwrap();
    b.wait_text("#election-h", |t| !t.is_empty()).await.unwrap();
    b.client.find(Locator::Css("button.lang-switch")).await.unwrap().click().await.unwrap();
    b.wait_text("#login", |t| t == "Log in with your My Number card").await.unwrap();
    b.client.refresh().await.unwrap();
    b.wait_text("#login", |t| t == "Log in with your My Number card").await.unwrap();
    let lang = b.client.execute("return document.documentElement.lang;", vec![]).await.unwrap();
    assert_eq!(lang, serde_json::json!("en"), "the page's language follows the switch and survives a reload");
    b.screenshot("en-start").await.unwrap();

    b.log_in(election.auth_pin).await.unwrap();
    assert_eq!(b.wait_text("#contests-h", |t| !t.is_empty()).await.unwrap(), "Your ballots");
    let left = b.wait_text("#session-left", |t| t.contains(':')).await.unwrap();
    assert!(left.starts_with("Session time left"), "{left}");
    b.screenshot("en-contests").await.unwrap();

    b.client.find(Locator::Css("#contest-tokyo button")).await.unwrap().click().await.unwrap();
    b.client.wait().for_element(Locator::Css("#cand-3")).await.unwrap().click().await.unwrap();
    let legend = b.wait_text("#choose-h + fieldset > legend", |t| !t.is_empty()).await.unwrap();
    assert_eq!(legend, "Choose one");
    b.screenshot("en-choose").await.unwrap();
    b.client.find(Locator::Css("#to-confirm")).await.unwrap().click().await.unwrap();
    assert_eq!(b.wait_text("#confirm-h", |t| !t.is_empty()).await.unwrap(), "Confirm your ballot");
    assert_eq!(b.wait_text("#chosen", |t| !t.is_empty()).await.unwrap(), "佐々木 里美（ささき さとみ）");
    b.screenshot("en-confirm").await.unwrap();
    b.client.find(Locator::Css("#cast")).await.unwrap().click().await.unwrap();
    b.confirm_on_helper_page(election.sign_password).await.unwrap();
    b.wait_text("#contest-tokyo .tracker code", |t| t.len() == 64).await.unwrap();
    assert_eq!(b.wait_text("#contest-tokyo .status", |t| !t.is_empty()).await.unwrap(), "Voted");
    b.screenshot("en-receipt").await.unwrap();
    b.finish(&[]).await.unwrap();
}
