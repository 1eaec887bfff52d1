//! The reviewer's gallery (issue 22 part 1), as a reviewer and as an attacker would use it:
//! - a reviewer opens `#gallery` with no card and no login, finds every combination in the index (per contest, 16
//!   layouts × 3 text sizes × 2 contrasts × 2 languages), opens each layout by its URL, and finds it laid out as
//!   named, in the named language, text size and contrast, with links to its other presentations; the statement
//!   links to it; leaving it brings back the browser's own settings, which it never saved;
//! - nothing there can cast: no confirmation, no session, no card helper, no research metrics (the page's own
//!   resource timings show every request it made);
//! - a real election's server refuses it (`GALLERY_NOT_PRACTICE`), index and pages alike, and an unknown page is
//!   named as such (`GALLERY_UNKNOWN`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::{Browser, Expected, LiveElection};
use fantoccini::Locator;
use serde_json::json;

/// The element each selection mode and display mode shows, by which a page is recognised.
fn marks(selection: &str, display: &str) -> [&'static str; 2] {
    let sel = match selection {
        "free_word_search" => "#search",
        "initial_letter_input" => "#initial",
        "initial_letter_select" => "#row-0",
        _ => ".options",
    };
    let disp = match display {
        "one_screen" => ".options.one-screen",
        "scroll" => ".options.scroll",
        _ => "#drum",
    };
    [sel, disp]
}

async fn js(b: &Browser, script: &str) -> serde_json::Value {
    b.client.execute(script, vec![]).await.unwrap()
}

async fn open(b: &Browser, base: &str, fragment: &str) {
    b.client.goto(&format!("{base}{fragment}")).await.unwrap();
    b.wait_text("#gallery-h", |t| !t.is_empty()).await.unwrap();
}

/// Every request the page made (its resource timings), for the requests that must never happen here.
async fn requests(b: &Browser) -> Vec<String> {
    let v = js(b, "return performance.getEntriesByType('resource').map(e => e.name);").await;
    v.as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reviewer_opens_every_layout_by_its_url_without_a_card_and_cannot_cast() {
    let election = LiveElection::start().unwrap();
    let b = Browser::start(None).await.unwrap();
    let base = &election.base_url;

    // The statement links to the gallery.
    b.client.goto(&format!("{base}#accessibility")).await.unwrap();
    b.client.wait().for_element(Locator::Css("#gallery-link")).await.unwrap().click().await.unwrap();
    let count = b.wait_text("#gallery-count", |t| !t.is_empty()).await.unwrap();
    b.screenshot("gallery-index").await.unwrap();
    // The index: 2 contests × 16 layouts × 3 sizes × 2 contrasts × 2 languages.
    let links = b.client.find_all(Locator::Css("a.gallery-link")).await.unwrap();
    assert_eq!(links.len(), 2 * 16 * 12, "every combination is in the index");
    assert!(count.contains("384"), "the index says how many pages: {count}");
    let mut hrefs = Vec::new();
    for l in &links {
        hrefs.push(l.attr("href").await.unwrap().unwrap());
    }
    hrefs.sort();
    hrefs.dedup();
    assert_eq!(hrefs.len(), 384, "each combination has its own URL");

    // Each of the 16 layouts of national PR, by its URL: laid out as named, with nothing to switch.
    for (sel, disp, drum) in e2e::gallery_layouts() {
        let fragment = format!("#gallery/national-pr/{sel}/{disp}/{drum}/normal/standard/ja");
        assert!(hrefs.contains(&fragment), "the index links {fragment}");
        open(&b, base, &fragment).await;
        for css in marks(sel, disp) {
            b.client.wait().for_element(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{fragment}: no {css}"));
        }
        assert!(
            b.client.find(Locator::Css("#mode-list")).await.is_err(),
            "{fragment}: a gallery page shows its layout, with no switch to another"
        );
        assert!(
            b.client.find(Locator::Css("#gallery #to-confirm, #gallery #cast, #gallery #login")).await.is_err(),
            "{fragment}: nothing to cast"
        );
        if let Ok(login) = b.client.find(Locator::Css("#login")).await {
            assert!(!login.is_displayed().await.unwrap(), "{fragment}: the voting page is hidden under the gallery");
        }
    }
    b.screenshot("gallery-initial-select-drum-rotated").await.unwrap();

    // A pick shows as chosen, and goes nowhere.
    open(&b, base, "#gallery/national-pr/list/one_screen/first/normal/standard/ja").await;
    b.client.wait().for_element(Locator::Css("#party-2")).await.unwrap().click().await.unwrap();
    let chosen = b.wait_text("#gallery-choice", |t| t.contains("みどりの風")).await.unwrap();
    assert!(chosen.starts_with("選択中"), "{chosen}");
    let checked = js(&b, "return document.getElementById('party-2').checked;").await;
    assert_eq!(checked, json!(true), "the picked entry's radio button is checked (its state is announced)");

    // Presentation from the URL: English, extra large, high contrast; the page's lang follows.
    open(&b, base, "#gallery/tokyo/free_word_search/scroll/first/x-large/high/en").await;
    let heading = b.wait_text("#gallery-h", |t| t.contains("Reviewer")).await.unwrap();
    assert!(heading.contains("Tokyo"), "{heading}");
    let root = js(&b, "return [document.documentElement.className, document.documentElement.lang];").await;
    let class = root[0].as_str().unwrap();
    assert!(class.contains("text-x-large") && class.contains("contrast"), "the page's classes: {class}");
    assert_eq!(root[1], json!("en"));
    b.screenshot("gallery-en-x-large-contrast").await.unwrap();
    // Its other presentations are links: Japanese, standard contrast, the other sizes.
    for (id, to) in [
        ("#to-lang", "/x-large/high/ja"),
        ("#to-contrast", "/x-large/standard/en"),
        ("#to-size-normal", "/normal/high/en"),
        ("#to-size-large", "/large/high/en"),
    ] {
        let href = b.client.find(Locator::Css(id)).await.unwrap().attr("href").await.unwrap().unwrap();
        assert!(href.ends_with(to) && href.contains("/tokyo/free_word_search/scroll/first/"), "{id}: {href}");
    }
    b.client.find(Locator::Css("header .lang-switch")).await.unwrap().click().await.unwrap();
    b.wait_text("#gallery-h", |t| t.contains("レビュー用ギャラリー")).await.unwrap();
    assert_eq!(js(&b, "return document.documentElement.lang;").await, json!("ja"));

    // Leaving the gallery brings back the browser's settings, which the gallery never saved.
    b.client.goto(base).await.unwrap();
    b.wait_text("#election-h", |t| !t.is_empty()).await.unwrap();
    let root = js(
        &b,
        "return [document.documentElement.className, document.documentElement.lang,
                 Object.keys(localStorage).filter(k => k.startsWith('jp-ivote')).length];",
    )
    .await;
    assert!(root[0].as_str().unwrap().contains("text-normal") && !root[0].as_str().unwrap().contains("contrast"));
    assert_eq!((&root[1], &root[2]), (&json!("ja"), &json!(0)), "nothing saved: {root}");

    // An unknown page is named as such.
    open(&b, base, "#gallery/national-pr/list/sideways/first/normal/standard/ja").await;
    let refusal = b.wait_text("#gallery-refusal", |t| !t.is_empty()).await.unwrap();
    assert!(refusal.contains("GALLERY_UNKNOWN"), "{refusal}");
    open(&b, base, "#gallery/no-such-contest/list/scroll/first/normal/standard/ja").await;
    assert!(b.wait_text("#gallery-refusal", |t| !t.is_empty()).await.unwrap().contains("GALLERY_UNKNOWN"));

    // Every request a fresh page of the gallery made, after a pick: no session, no ballot, no research metrics, no
    // card helper.
    b.client.goto("about:blank").await.unwrap();
    open(&b, base, "#gallery/tokyo/list/scroll/first/normal/standard/ja").await;
    b.client.wait().for_element(Locator::Css("#cand-5")).await.unwrap().click().await.unwrap();
    b.wait_text("#gallery-choice", |t| t.contains("中村")).await.unwrap();
    let made = requests(&b).await;
    let helper = election.helper_origin();
    for r in &made {
        assert!(
            !(r.contains("/api/v1/session") || r.contains("/api/v1/ballot") || r.contains("/api/v1/research")),
            "the gallery asked for {r}"
        );
        assert!(!r.starts_with(&helper), "the gallery reached the card helper: {r}");
    }
    b.finish(&[]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_election_refuses_the_gallery_and_the_study() {
    let election = LiveElection::start_real().unwrap();
    let b = Browser::start(None).await.unwrap();
    for fragment in ["#gallery", "#gallery/national-pr/list/one_screen/first/normal/standard/ja"] {
        open(&b, &election.base_url, fragment).await;
        let refusal = b.wait_text("#gallery-refusal", |t| !t.is_empty()).await.unwrap();
        assert!(refusal.contains("GALLERY_NOT_PRACTICE"), "{fragment}: {refusal}");
        assert!(b.client.find(Locator::Css("a.gallery-link, .options, #drum")).await.is_err(), "{fragment}");
    }
    b.screenshot("gallery-real-election").await.unwrap();
    // The usability study is refused too (issue 22 part 6): the verifier refuses it, and the page says why.
    b.client.goto(&format!("{}#study", election.base_url)).await.unwrap();
    let refusal = b.wait_text("#study-refusal", |t| !t.is_empty()).await.unwrap();
    assert!(refusal.contains("STUDY_NOT_PRACTICE") && refusal.contains("練習用"), "{refusal}");
    assert!(b.client.find(Locator::Css("#study-start, .options")).await.is_err());
    b.finish(&[Expected {
        contains: "/api/v1/research/study - Failed to load resource: the server responded with a status of 403",
        reason: "a real election refuses the study route, and the page shows the refusal",
    }])
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_house_of_representatives_election_lists_its_two_candidate_screens_and_names_the_review() {
    let election = LiveElection::start_hor(1).unwrap();
    let b = Browser::start(None).await.unwrap();
    open(&b, &election.base_url, "#gallery").await;
    b.wait_text("#gallery-count", |t| t.contains("384")).await.unwrap();
    let note = b.wait_text("#gallery-review-note", |t| !t.is_empty()).await.unwrap();
    assert!(note.contains("国民審査"), "{note}");
    let links = b.client.find_all(Locator::Css("a.gallery-link")).await.unwrap();
    assert_eq!(links.len(), 2 * 16 * 12, "the district and the PR block, not the review");
    // A PR block page shows parties, with their lists to read.
    open(&b, &election.base_url, "#gallery/tokyo-block/list/one_screen/first/normal/standard/ja").await;
    b.client.wait().for_element(Locator::Css("#party-1")).await.unwrap();
    b.finish(&[]).await.unwrap();
}
