//! The start page in real headless Chromium: the demo election's name, its voting window in JST and a live JST
//! clock, read from the verifier; and JST stays JST when the browser's own time zone is elsewhere (R-VOTE-1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use e2e::{Browser, Verifier};
use fantoccini::Locator;

/// Parses the clock's `datetime` attribute.
async fn shown_jst(b: &Browser) -> DateTime<chrono::FixedOffset> {
    let el = b.client.find(Locator::Css("#jst-now")).await.unwrap();
    let attr = el.attr("datetime").await.unwrap().unwrap();
    DateTime::parse_from_rfc3339(&attr).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn start_page_shows_election_window_and_live_jst_clock_in_a_new_york_browser() {
    let verifier = Verifier::start_demo().unwrap();
    let b = Browser::start(Some("America/New_York")).await.unwrap();
    b.client.goto(&verifier.base_url).await.unwrap();

    let heading = b.wait_text("#election-h", |t| !t.is_empty()).await.unwrap();
    assert_eq!(heading, "模擬選挙（練習用）参議院議員通常選挙");
    let window = b.wait_text("#voting-window", |t| t.contains("JST")).await.unwrap();
    assert!(window.contains("08:30 JST") && window.contains("20:00 JST"), "{window}");
    let state = b.wait_text("#window-state", |t| !t.is_empty()).await.unwrap();
    assert_eq!(state, "投票できます");
    b.wait_text("#close-countdown", |t| t.contains('日') && t.contains('秒')).await.unwrap();

    // The clock is JST (+09:00) from the server, not New York time, and it ticks.
    b.wait_text("#jst-now", |t| !t.is_empty()).await.unwrap();
    let first = shown_jst(&b).await;
    assert_eq!(first.offset().local_minus_utc(), 9 * 3600);
    let skew = (first.with_timezone(&Utc) - Utc::now()).num_seconds().abs();
    assert!(skew <= 3, "the JST clock is {skew} s away from the server's time");
    let later = b.wait_text("#jst-now", |t| !t.is_empty()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let after = b.wait_text("#jst-now", |t| t != later).await.unwrap();
    assert_ne!(after, later, "the clock does not tick");
    let local = b.wait_text("#local-now", |t| t.contains("UTC")).await.unwrap();
    assert!(local.contains("UTC−05:00") || local.contains("UTC−04:00"), "New York local time: {local}");
    b.screenshot("start-ja").await.unwrap();

    // English second: the same facts in English.
    b.client.find(Locator::Css("button.lang-switch")).await.unwrap().click().await.unwrap();
    let state = b.wait_text("#window-state", |t| t.is_ascii()).await.unwrap();
    assert_eq!(state, "Voting is open");
    let heading = b.wait_text("#election-h", |t| t.is_ascii()).await.unwrap();
    assert_eq!(heading, "Practice election: House of Councillors");
    b.screenshot("start-en").await.unwrap();
    b.client.close().await.unwrap();
}
