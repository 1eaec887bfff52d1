//! What a screen reader hears (issue 22 part 3), from Chromium's accessibility tree (`e2e::screen_reader`), for
//! each of the 16 layouts of the candidate screen, opened through the reviewer's gallery:
//! - every option's accessible name carries the reading and the party shown beside it;
//! - the picked option is announced as checked, and it alone;
//! - the focus order (Tab) follows the visual order;
//! - the session warning is announced once, not with every tick of the countdown.
//!
//! Each layout's transcript is saved as `target/a11y/transcripts/<layout>.txt`, and its screenshot as
//! `target/e2e-screenshots/a11y-<layout>.png`, for reviewers (`cargo xtask a11y-report` gathers them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use e2e::screen_reader::{self, Node};
use e2e::{Browser, LiveElection};
use fantoccini::Locator;
use serde_json::Value;

/// The 16 layouts of the Tokyo district, by their gallery fragment and a file name.
fn pages(lang: &str) -> Vec<(String, String)> {
    e2e::gallery_layouts()
        .into_iter()
        .map(|(sel, disp, drum)| {
            (
                format!("#gallery/tokyo/{sel}/{disp}/{drum}/normal/standard/{lang}"),
                format!("{lang}-{sel}-{disp}-{drum}"),
            )
        })
        .collect()
}

/// Opens a page and finds 中村 翔太 (cand-5) as a voter would in its mode.
async fn open_and_find(b: &Browser, base: &str, fragment: &str) {
    b.client.goto(&format!("{base}{fragment}")).await.unwrap();
    b.wait_text("#gallery-h", |t| !t.is_empty()).await.unwrap();
    b.client.wait().for_element(Locator::Css("#gallery-choice")).await.unwrap();
    if fragment.contains("free_word_search") {
        b.client.find(Locator::Css("#search")).await.unwrap().send_keys("ナカムラ").await.unwrap();
    } else if fragment.contains("initial_letter_input") {
        b.client.find(Locator::Css("#initial")).await.unwrap().send_keys("な").await.unwrap();
    } else if fragment.contains("initial_letter_select") {
        b.client.find(Locator::Css("#row-4")).await.unwrap().click().await.unwrap();
    }
    for _ in 0..40 {
        if b.client.find(Locator::Css("#cand-5")).await.is_ok() {
            return;
        }
        b.client.find(Locator::Css("#drum-next")).await.unwrap().click().await.unwrap();
    }
    panic!("{fragment}: 中村 翔太 never came up");
}

/// The choice radios on the page as the DOM shows them: (id, reading, party, name).
async fn shown_entries(b: &Browser) -> Vec<(String, String, String, String)> {
    let v: Value = b
        .client
        .execute(
            "return [...document.querySelectorAll('#gallery input[name=choice]')].map(i => {
               const l = i.closest('label');
               const q = s => { const e = l && l.querySelector(s); return e ? e.textContent.trim() : ''; };
               const name = l && l.querySelector('ruby') ? l.querySelector('ruby').firstChild.textContent.trim() : '';
               return [i.id, q('rt'), q('.party'), name];
             });",
            vec![],
        )
        .await
        .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |i: usize| e[i].as_str().unwrap().to_string();
            (s(0), s(1), s(2), s(3))
        })
        .collect()
}

fn radios(nodes: &[Node]) -> Vec<&Node> {
    nodes.iter().filter(|n| n.role == "radio").collect()
}

fn save(name: &str, text: &str) {
    let dir = e2e::target_dir().join("a11y/transcripts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.txt")), text).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn every_layout_announces_names_with_reading_and_party_and_the_choice_in_visual_order() {
    let election = LiveElection::start().unwrap();
    let b = Browser::start(None).await.unwrap();
    let mut problems = Vec::new();
    for lang in ["ja", "en"] {
        for (fragment, name) in pages(lang) {
            open_and_find(&b, &election.base_url, &fragment).await;

            // Names: each option says its reading and its party, as the screen shows them.
            let entries = shown_entries(&b).await;
            let tree = screen_reader::tree(&b).await.unwrap();
            let said = radios(&tree);
            assert_eq!(said.len(), entries.len(), "{name}: every radio button is in the accessibility tree");
            for ((id, reading, party, _), node) in entries.iter().zip(&said) {
                if id == "blank" {
                    assert!(node.name.contains("白票"), "{name}: the blank ballot is named: {}", node.name);
                    continue;
                }
                for (what, part) in [("reading", reading), ("party", party)] {
                    if !node.name.contains(part.as_str()) {
                        problems
                            .push(format!("{name}: {id} is announced as {:?}, without its {what} {part:?}", node.name));
                    }
                }
            }

            // The pick is announced as checked, and nothing else is.
            b.client.find(Locator::Css("#cand-5")).await.unwrap().click().await.unwrap();
            b.wait_text("#gallery-choice", |t| t.contains("中村")).await.unwrap();
            let tree = screen_reader::tree(&b).await.unwrap();
            let checked: Vec<&str> = radios(&tree)
                .into_iter()
                .filter(|n| n.property("checked") == Some("true"))
                .map(|n| n.name.as_str())
                .collect();
            if checked.len() != 1 || !checked[0].contains("中村 翔太") {
                problems.push(format!("{name}: announced as checked: {checked:?}"));
            }
            let transcript = screen_reader::transcript(&tree);
            assert!(
                transcript.contains("中村 翔太（なかむら しょうた）") && transcript.contains("(checked)"),
                "{name}"
            );
            save(&name, &format!("# {fragment}, after picking 中村 翔太\n{transcript}"));
            // The layout as the reviewer sees it, for the report.
            b.client
                .execute("document.querySelector('#gallery section.card').scrollIntoView();", vec![])
                .await
                .unwrap();
            b.screenshot(&format!("a11y-{name}")).await.unwrap();

            // Tab follows the reading order.
            let stops = screen_reader::tab_order(&b, "#gallery", 60).await.unwrap();
            assert!(stops.len() >= 3, "{name}: Tab stops: {stops:?}");
            for p in screen_reader::out_of_visual_order(&stops) {
                problems.push(format!("{name}: focus order against the visual order: {p}"));
            }
        }
    }
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
    b.finish(&[]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_session_warning_is_announced_once_not_every_second() {
    // A 125-second session: the warning (2 minutes before the end) comes 5 seconds after the login.
    let election = LiveElection::start_with(1, &["--session-seconds", "125"]).unwrap();
    let b = Browser::start(None).await.unwrap();
    b.client.goto(&election.base_url).await.unwrap();
    b.wait_text("#card-check", |t| !t.is_empty()).await.unwrap();
    screen_reader::watch_live_regions(&b).await.unwrap();
    b.log_in(election.auth_pin).await.unwrap();
    b.wait_text("#session-left", |t| t.contains(':')).await.unwrap();
    let warning = b.wait_text("#session-warning", |t| !t.is_empty()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let heard = screen_reader::live_announcements(&b).await.unwrap();
    let warned = heard.iter().filter(|a| a.contains(&warning)).count();
    assert_eq!(warned, 1, "the warning is announced once: {heard:#?}");
    // Nothing ticks: no announcement repeats with another time in it.
    let ticking: Vec<&String> =
        heard.iter().filter(|a| a.chars().any(|c| c.is_ascii_digit()) && a.contains(':')).collect();
    assert!(ticking.is_empty(), "a live region announces the countdown: {ticking:#?}");
    let tree = screen_reader::tree(&b).await.unwrap();
    save("ja-session-warning", &screen_reader::transcript(&tree));

    // The instrument can hear a ticking region: the countdown made live is announced every second.
    b.client
        .execute("document.querySelector('#session-left').setAttribute('aria-live', 'polite');", vec![])
        .await
        .unwrap();
    screen_reader::watch_live_regions(&b).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let heard = screen_reader::live_announcements(&b).await.unwrap();
    assert!(heard.len() >= 3, "a live countdown is heard every second: {heard:#?}");
    b.finish(&[]).await.unwrap();
}
