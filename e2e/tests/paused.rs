//! A paused election (R-VOTE-3): the start page and the voter's ballot say voting is paused and why; a ballot cast
//! meanwhile is refused with a message saying to try again, and nothing is recorded; after `resume` the same voter
//! casts it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::{Browser, Expected, LiveElection};
use fantoccini::Locator;

/// Opens the Tokyo contest, chooses 白票 and goes to the confirmation.
async fn choose_blank_in_tokyo(b: &Browser) {
    b.client.find(Locator::Css("#contest-tokyo button")).await.unwrap().click().await.unwrap();
    b.client.wait().for_element(Locator::Css("#blank")).await.unwrap().click().await.unwrap();
    b.client.find(Locator::Css("#to-confirm")).await.unwrap().click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_election_says_why_and_refuses_until_resumed() {
    let election = LiveElection::start().unwrap();
    let b = Browser::start(None).await.unwrap();
    b.client.goto(&election.base_url).await.unwrap();
    b.wait_text("#election-h", |t| !t.is_empty()).await.unwrap();
    b.log_in(election.auth_pin).await.unwrap();
    choose_blank_in_tokyo(&b).await;
    let chosen = b.wait_text("#chosen", |t| !t.is_empty()).await.unwrap();
    assert!(chosen.contains("白票"), "a 白票 is shown in words: {chosen}");

    election.verifier_command(&["pause", "--reason", "候補者の異動のため / candidate change"]).unwrap();
    b.client.find(Locator::Css("#cast")).await.unwrap().click().await.unwrap();
    b.confirm_on_helper_page(election.sign_password).await.unwrap();
    let failure = b.wait_text("#failure", |t| !t.is_empty()).await.unwrap();
    assert!(failure.contains("一時停止"), "{failure}");
    b.screenshot("vote-paused").await.unwrap();

    b.client.goto(&election.base_url).await.unwrap();
    let banner = b.wait_text("#paused", |t| !t.is_empty()).await.unwrap();
    assert!(banner.contains("候補者の異動のため"), "{banner}");
    // The election card's status says paused too, not 投票できます (it showed the window's state only).
    let status = b.wait_text("#window-state", |t| !t.is_empty()).await.unwrap();
    assert_eq!(status, "投票を一時停止しています");
    b.screenshot("start-paused").await.unwrap();
    // A voter who logs in meanwhile sees the reason on the ballot itself (issue 20).
    b.log_in(election.auth_pin).await.unwrap();
    let on_ballot = b.wait_text("#ballot-paused", |t| !t.is_empty()).await.unwrap();
    assert!(on_ballot.contains("候補者の異動のため") && on_ballot.contains("一時停止"), "{on_ballot}");
    b.screenshot("ballot-paused").await.unwrap();

    // Resumed: the same voter logs in again and the ballot is accepted (nothing was recorded while paused).
    election.verifier_command(&["resume"]).unwrap();
    b.client.goto(&election.base_url).await.unwrap();
    b.wait_text("#election-h", |t| !t.is_empty()).await.unwrap();
    assert!(b.client.find(Locator::Css("#paused")).await.is_err(), "no pause banner after resume");
    assert_eq!(b.wait_text("#window-state", |t| !t.is_empty()).await.unwrap(), "投票できます");
    b.log_in(election.auth_pin).await.unwrap();
    choose_blank_in_tokyo(&b).await;
    b.client.find(Locator::Css("#cast")).await.unwrap().click().await.unwrap();
    b.confirm_on_helper_page(election.sign_password).await.unwrap();
    b.wait_text("#contest-tokyo .tracker code", |t| t.len() == 64).await.unwrap();
    b.finish(&[Expected {
        contains: "/api/v1/ballots - Failed to load resource: the server responded with a status of 503",
        reason: "the test casts while voting is paused: the verifier refuses with VOTING_PAUSED, which the app shows",
    }])
    .await
    .unwrap();
}
