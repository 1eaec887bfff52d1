//! Reflow at 200 % zoom (WCAG 1.4.4, 1.4.10): the browser's viewport is made 320 CSS pixels wide — what a 640 pixel
//! window shows at 200 % zoom — by resizing the real window, and on every screen (start, settings, application
//! form, accessibility statement, contests, the candidate screen in all 12 layouts, confirmation, the wait for the
//! card helper, receipt, failure), in Japanese and English, nothing scrolls sideways and no element or text runs
//! past the right edge or is clipped. Then the same with the largest text setting on the start page.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod a11y_common;

use a11y_common::{cancel_on_helper_page, layouts, open, pick_layout};
use e2e::{Browser, LiveElection};
use fantoccini::Locator;
use serde_json::Value;

const WIDTH: i64 = 320;

/// Resizes the window until the page's viewport is exactly `WIDTH` CSS pixels wide.
async fn set_viewport(b: &Browser) {
    let mut outer = WIDTH;
    for _ in 0..5 {
        b.client.set_window_size(outer as u32, 800).await.unwrap();
        let inner = b.client.execute("return window.innerWidth;", vec![]).await.unwrap().as_i64().unwrap();
        if inner == WIDTH {
            return;
        }
        outer += WIDTH - inner;
    }
    let inner = b.client.execute("return window.innerWidth;", vec![]).await.unwrap();
    panic!("the viewport could not be made {WIDTH} px wide: {inner}");
}

/// Returns what overflows: the document wider than the viewport, elements or text past an edge, clipped boxes.
async fn overflow(b: &Browser) -> Vec<String> {
    let found = b
        .client
        .execute(
            "const de = document.documentElement, W = de.clientWidth, out = [];
             if (de.scrollWidth > W) out.push(`the page scrolls sideways: ${de.scrollWidth} > ${W}`);
             const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                 (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\\s+/).join('.') : '');
             const shown = e => { const s = getComputedStyle(e); return s.visibility !== 'hidden' && s.display !== 'none'; };
             for (const e of document.body.querySelectorAll('*')) {
               if (e.closest('.skip-link, [hidden], script, style')) continue;
               const r = e.getBoundingClientRect();
               if (r.width === 0 && r.height === 0 || !shown(e)) continue;
               if (r.right > W + 0.5 || r.left < -0.5) out.push(`${name(e)} spans ${r.left.toFixed(1)}..${r.right.toFixed(1)}`);
               const s = getComputedStyle(e);
               if (['hidden', 'clip'].includes(s.overflowX) && e.scrollWidth > e.clientWidth + 1)
                 out.push(`${name(e)} clips its content: ${e.scrollWidth} > ${e.clientWidth}`);
               // Nothing escapes the box it is drawn in (a card, an option, a fieldset).
               const box = e.parentElement && e.parentElement.closest('label.option, .card, fieldset, .notice');
               if (box) {
                 const bx = box.getBoundingClientRect();
                 if (r.right > bx.right + 0.5 || r.left < bx.left - 0.5)
                   out.push(`${name(e)} runs out of ${name(box)}: ${r.left.toFixed(1)}..${r.right.toFixed(1)} in ${bx.left.toFixed(1)}..${bx.right.toFixed(1)}`);
               }
               for (const n of e.childNodes) {
                 if (n.nodeType !== 3 || !n.textContent.trim()) continue;
                 const range = document.createRange(); range.selectNodeContents(n);
                 const t = range.getBoundingClientRect();
                 if (t.width > 0 && (t.right > W + 0.5 || t.left < -0.5))
                   out.push(`text ${JSON.stringify(n.textContent.trim().slice(0, 20))} in ${name(e)} spans ${t.left.toFixed(1)}..${t.right.toFixed(1)}`);
               }
             }
             return out;",
            vec![],
        )
        .await
        .unwrap();
    found.as_array().unwrap().iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect()
}

struct Reflow {
    screens: usize,
    problems: Vec<String>,
}

impl Reflow {
    async fn check(&mut self, b: &Browser, screen: &str, key: &[&str]) {
        self.screens += 1;
        for p in overflow(b).await {
            self.problems.push(format!("[{screen}] {p}"));
        }
        // The screen's key elements are there and displayed.
        for css in key {
            let shown = match b.client.find(Locator::Css(css)).await {
                Ok(el) => el.is_displayed().await.unwrap_or(false),
                Err(_) => false,
            };
            if !shown {
                self.problems.push(format!("[{screen}] {css} is not displayed"));
            }
        }
        b.screenshot(&format!("zoom-320-{screen}")).await.unwrap();
    }
}

async fn click(b: &Browser, css: &str) {
    b.client.wait().for_element(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

async fn reflow_language(r: &mut Reflow, b: &Browser, election: &mut LiveElection, voter: usize, lang: &str) {
    election.use_card(voter).unwrap();
    open(b, &election.base_url, lang).await;
    r.check(b, &format!("{lang}-start"), &["#election-h", "#voting-window", "#jst-now", "#login", "#card-check"]).await;
    click(b, "#settings summary").await;
    r.check(b, &format!("{lang}-settings-open"), &["#size-x-large", "#contrast"]).await;
    click(b, "#settings summary").await;
    click(b, "#apply-section summary").await;
    r.check(b, &format!("{lang}-apply-form"), &["#apply-name", "#apply-submit"]).await;
    click(b, "#apply-section summary").await;
    click(b, "#a11y-link").await;
    b.wait_text("#a11y-h", |t| !t.is_empty()).await.unwrap();
    r.check(b, &format!("{lang}-accessibility-statement"), &["#a11y-target", "#a11y-method", "#a11y-back"]).await;
    click(b, "#a11y-back").await;

    b.log_in(election.auth_pin).await.unwrap();
    r.check(b, &format!("{lang}-contests"), &["#contests-h", "#session-left", "#contest-tokyo button"]).await;
    click(b, "#contest-tokyo button").await;
    for (selection, display) in layouts() {
        pick_layout(b, "tokyo", selection, display).await;
        r.check(b, &format!("{lang}-choose-{selection}-{display}"), &["#cand-5", "#blank", "#to-confirm"]).await;
    }
    click(b, "#to-confirm").await;
    b.wait_text("#chosen", |t| !t.is_empty()).await.unwrap();
    r.check(b, &format!("{lang}-confirm"), &["#chosen", "#fingerprint", "#cast", "#change"]).await;
    click(b, "#cast").await;
    b.wait_text("#working", |t| !t.is_empty()).await.unwrap();
    r.check(b, &format!("{lang}-waiting-for-helper"), &["#working"]).await;
    b.confirm_on_helper_page(election.sign_password).await.unwrap();
    b.wait_text("#contest-tokyo .tracker code", |t| t.len() == 64).await.unwrap();
    r.check(b, &format!("{lang}-receipt"), &["#contest-tokyo .tracker code"]).await;
    click(b, "#contest-national-pr button").await;
    pick_layout(b, "national-pr", "list", "one_screen").await;
    r.check(b, &format!("{lang}-choose-national-pr"), &["#party-2", "#cand-101", "#to-confirm"]).await;
    click(b, "#to-confirm").await;
    click(b, "#cast").await;
    cancel_on_helper_page(b).await;
    b.wait_text("#failure", |t| !t.is_empty()).await.unwrap();
    r.check(b, &format!("{lang}-failure"), &["#failure"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_screen_reflows_at_320_css_pixels_without_sideways_scrolling() {
    let mut election = LiveElection::start_with_voters(2).unwrap();
    let b = Browser::start(None).await.unwrap();
    b.client.goto(&election.base_url).await.unwrap();
    set_viewport(&b).await;
    let mut r = Reflow { screens: 0, problems: Vec::new() };
    reflow_language(&mut r, &b, &mut election, 0, "ja").await;
    reflow_language(&mut r, &b, &mut election, 1, "en").await;

    // The largest text setting (150 %) on top of the 320 px viewport.
    open(&b, &election.base_url, "ja").await;
    click(&b, "#settings summary").await;
    click(&b, "#size-x-large").await;
    let font = b.client.execute("return getComputedStyle(document.documentElement).fontSize;", vec![]).await.unwrap();
    assert_eq!(font, Value::from("24px"));
    r.check(&b, "ja-start-x-large", &["#election-h", "#login", "#size-x-large"]).await;

    // The judges' review, which only a House of Representatives general election holds.
    let hor = LiveElection::start_hor(1).unwrap();
    open(&b, &hor.base_url, "ja").await;
    b.log_in(hor.auth_pin).await.unwrap();
    click(&b, "#contest-review button").await;
    click(&b, "#judge-1").await;
    r.check(&b, "ja-choose-review", &["#judge-0", "#review-none", "#to-confirm"]).await;
    // `hor` (its verifier and card helper) stays up until the browser has finished: the open page keeps asking
    // its helper for the card's status, and a stopped helper is an error in the browser's log.

    let width = b.client.execute("return document.documentElement.clientWidth;", vec![]).await.unwrap();
    assert!(width.as_i64().unwrap() <= WIDTH, "the viewport stayed narrow: {width}");
    println!("{} screens checked at {WIDTH} CSS px", r.screens);
    assert!(r.problems.is_empty(), "{} problem(s):\n{}", r.problems.len(), r.problems.join("\n"));
    b.finish(&[]).await.unwrap();
}
