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
    b.finish(&[e2e::NO_HELPER]).await.unwrap();
}

/// The app needs WebAssembly SIMD (the ballot encryption). Chromium has it, so the page's check stays silent and
/// the app renders; the same check, run where `WebAssembly.validate` refuses SIMD (as an old browser does), puts
/// a message with its code in Japanese and then English in place of a blank page.
#[tokio::test(flavor = "multi_thread")]
async fn a_browser_without_wasm_simd_is_told_to_update_instead_of_seeing_a_blank_page() {
    let verifier = Verifier::start_demo().unwrap();
    let b = Browser::start(None).await.unwrap();
    b.client.goto(&verifier.base_url).await.unwrap();
    b.wait_text("#election-h", |t| !t.is_empty()).await.unwrap();

    // The check as served (the app, once mounted, replaces the page's body, script included), run again: as is,
    // and where SIMD does not validate. WebDriver's script runs outside the page's Content-Security-Policy.
    let html = std::fs::read_to_string(e2e::web_dist().unwrap().join("index.html")).unwrap();
    let check = html.split(r#"<script id="wasm-simd-check">"#).nth(1).unwrap().split("</script>").next().unwrap();
    b.client.execute(check, vec![]).await.unwrap();
    let shown = b.client.execute("return document.getElementById('browser-unsupported') !== null;", vec![]);
    assert_eq!(shown.await.unwrap(), serde_json::json!(false), "Chromium has SIMD: no message");
    let without_simd = format!("WebAssembly.validate = () => false;\n{check}");
    b.client.execute(&without_simd, vec![]).await.unwrap();
    let text = b.wait_text("#browser-unsupported", |t| !t.is_empty()).await.unwrap();
    assert!(text.starts_with("このブラウザでは投票ページを開けません（BROWSER_NO_WASM_SIMD）"), "{text}");
    assert!(text.contains("Update Chrome, Edge, Firefox or Safari"), "{text}");
    let roles = b.client.execute(
        "const m = document.getElementById('browser-unsupported');
         return [m.getAttribute('role'), m.querySelectorAll('p')[1].lang];",
        vec![],
    );
    assert_eq!(roles.await.unwrap(), serde_json::json!(["alert", "en"]));
    b.finish(&[e2e::NO_HELPER]).await.unwrap();
}
