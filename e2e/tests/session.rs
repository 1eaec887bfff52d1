//! The session on screen (R-VOTE-4, WCAG 2.2.1): a verifier with 45-second sessions and one extension. The
//! countdown warns in a live region, the voter extends by logging in again through the helper without losing the
//! choice in progress, the extension limit is shown, and at the end the page says the session ended and what to
//! do — never a silent end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use e2e::{Browser, LiveElection};
use fantoccini::Locator;

fn seconds_left(text: &str) -> u32 {
    let clock: String = text.chars().filter(|c| c.is_ascii_digit() || *c == ':').collect();
    clock.split(':').filter(|p| !p.is_empty()).fold(0, |acc, p| acc * 60 + p.parse::<u32>().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_short_session_warns_extends_once_and_ends_on_screen() {
    let election = LiveElection::start_with(1, &["--session-seconds", "45", "--session-extensions", "1"]).unwrap();
    let b = Browser::start(None).await.unwrap();
    b.client.goto(&election.base_url).await.unwrap();
    b.wait_text("#election-h", |t| !t.is_empty()).await.unwrap();
    b.log_in(election.auth_pin).await.unwrap();

    // Under two minutes from the start: the warning is in the alert region, once.
    let warning = b.wait_text("#session-warning", |t| !t.is_empty()).await.unwrap();
    assert!(warning.contains("まもなく時間切れ"), "{warning}");
    let role = b.client.find(Locator::Css("#session-warning")).await.unwrap().attr("role").await.unwrap();
    assert_eq!(role.as_deref(), Some("alert"));
    b.screenshot("session-warning").await.unwrap();

    // A choice in progress.
    b.client.find(Locator::Css("#contest-tokyo button")).await.unwrap().click().await.unwrap();
    b.client.wait().for_element(Locator::Css("#cand-2")).await.unwrap().click().await.unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let before = seconds_left(&b.wait_text("#session-left .clock", |t| t.contains(':')).await.unwrap());
    assert!(before <= 38, "time has passed: {before}");

    // Extend: the helper's page asks for the PIN; the choice stays; the clock restarts at 45 seconds.
    b.client.find(Locator::Css("#extend-session")).await.unwrap().click().await.unwrap();
    b.confirm_on_helper_page(election.auth_pin).await.unwrap();
    b.wait_text("#no-extension", |t| !t.is_empty()).await.unwrap();
    let after = seconds_left(&b.wait_text("#session-left .clock", |t| t.contains(':')).await.unwrap());
    assert!(after > before + 3, "the session was extended: {before} s then {after} s");
    let kept = b.client.find(Locator::Css("#cand-2")).await.unwrap().is_selected().await.unwrap();
    assert!(kept, "the choice in progress is kept");
    assert!(b.client.find(Locator::Css("#to-confirm")).await.unwrap().is_enabled().await.unwrap());
    b.screenshot("session-extended").await.unwrap();

    // The end: said on screen, with what to do.
    let ended = b
        .client
        .wait()
        .at_most(Duration::from_secs(70))
        .for_element(Locator::Css("#failure"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ended.contains("ログアウトしました") && ended.contains("もう一度ログイン"), "{ended}");
    assert!(b.client.find(Locator::Css("#session-left")).await.is_err(), "no countdown after the end");
    b.screenshot("session-expired").await.unwrap();
    b.finish(&[]).await.unwrap();
}
