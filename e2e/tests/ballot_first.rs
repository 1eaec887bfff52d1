//! The voting page puts the ballot first (issue 22 part 7): once logged in, the voter's contests are on the first
//! screen with nothing to scroll past; each contest is a numbered step; on a long candidate list the JST time, the
//! close countdown and the session countdown stay in view however far the voter scrolls; and the bar that holds
//! them never hides the focused element (WCAG 2.4.11), at 1280 px nor at 320 px (400 % zoom), where it stops
//! sticking so that it cannot take the small screen.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::wcag22::obscured_on_focus;
use e2e::{Browser, LiveElection};
use fantoccini::Locator;
use serde_json::json;

/// The element's box against the viewport: (top, bottom, the viewport's height, how far the page is scrolled).
async fn rect(b: &Browser, css: &str) -> (f64, f64, f64, f64) {
    let v = b
        .client
        .execute(
            "const e = document.querySelector(arguments[0]); if (!e) return null;
             const r = e.getBoundingClientRect(); return [r.top, r.bottom, innerHeight, scrollY];",
            vec![json!(css)],
        )
        .await
        .unwrap();
    let a = v.as_array().unwrap_or_else(|| panic!("{css} is not on the page"));
    let f = |i: usize| a[i].as_f64().unwrap();
    (f(0), f(1), f(2), f(3))
}

/// Asserts that the element is wholly inside the viewport.
async fn in_view(b: &Browser, css: &str, what: &str) {
    let (top, bottom, height, scrolled) = rect(b, css).await;
    assert!(
        top >= -0.5 && bottom <= height + 0.5,
        "{what}: {css} is at {top:.0}..{bottom:.0} of a {height:.0} px viewport (scrolled {scrolled:.0} px)"
    );
}

async fn scroll_to_end(b: &Browser) {
    b.client.execute("window.scrollTo(0, document.documentElement.scrollHeight);", vec![]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ballot_comes_first_and_the_times_stay_in_view_without_hiding_the_focus() {
    let election = LiveElection::start().unwrap();
    let b = Browser::start(None).await.unwrap();
    b.client.goto(&election.base_url).await.unwrap();
    b.wait_text("#election-h", |t| !t.is_empty()).await.unwrap();
    // Before the login: the login button is on the first screen.
    b.wait_text("#card-check", |t| !t.is_empty()).await.unwrap();
    b.screenshot("ballot-first-start").await.unwrap();
    in_view(&b, "#login", "the login on the first screen (1280×900)").await;
    b.log_in(election.auth_pin).await.unwrap();
    b.wait_text("#session-left", |t| t.contains(':')).await.unwrap();
    b.screenshot("ballot-first-contests").await.unwrap();

    // The ballot first: every contest's button on the first screen, nothing scrolled.
    let buttons = b.client.find_all(Locator::Css(".contests button.choose")).await.unwrap();
    assert!(buttons.len() >= 2, "the demo voter has two contests");
    for i in 1..=buttons.len() {
        in_view(&b, &format!(".contests li:nth-child({i}) button.choose"), "a contest on the first screen").await;
    }
    // Each contest is a step: numbered, "1 / 2", with where the voter is.
    let steps = b.wait_text("#steps", |t| !t.is_empty()).await.unwrap();
    assert!(steps.contains("1") && steps.contains("2"), "the contests are numbered steps: {steps}");

    // A long list on one screen: scrolled to its end, the times are still in view.
    b.client.find(Locator::Css("#contest-national-pr button")).await.unwrap().click().await.unwrap();
    b.client.wait().for_element(Locator::Css("#display-one_screen")).await.unwrap().click().await.unwrap();
    let step = b.wait_text("#choose-step", |t| !t.is_empty()).await.unwrap();
    assert!(step.contains("2"), "the candidate screen says which step it is: {step}");
    scroll_to_end(&b).await;
    let (_, _, height, scrolled) = rect(&b, "#jst-now").await;
    assert!(scrolled > height, "the list is longer than the screen (scrolled {scrolled:.0} px)");
    for (css, what) in [("#jst-now", "JST now"), ("#close-countdown", "the close"), ("#session-left", "the session")] {
        in_view(&b, css, &format!("{what} after scrolling to the end of the list")).await;
    }
    b.screenshot("ballot-first-scrolled").await.unwrap();
    let hidden = obscured_on_focus(&b).await.unwrap();
    assert!(hidden.is_empty(), "the bar hides the focused element (1280 px): {hidden:#?}");

    // 400 % zoom: 320 × 225 CSS px. The bar no longer sticks, and hides nothing.
    b.client.set_window_size(320, 225 + 87).await.unwrap();
    let width = b.client.execute("return innerWidth;", vec![]).await.unwrap().as_f64().unwrap();
    assert!(width <= 400.0, "the viewport could not be made narrow: {width}");
    scroll_to_end(&b).await;
    let (top, _, _, _) = rect(&b, "#status-bar").await;
    assert!(top < 0.0, "at 400 % zoom the bar scrolls away with the page instead of covering it (top {top:.0})");
    let hidden = obscured_on_focus(&b).await.unwrap();
    assert!(hidden.is_empty(), "the bar hides the focused element (320 px): {hidden:#?}");
    b.screenshot("ballot-first-zoom-400").await.unwrap();
    b.finish(&[]).await.unwrap();
}
