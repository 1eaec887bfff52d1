//! A vote with the keyboard alone in each of the 12 selection × display layouts (WCAG 2.1.1, 2.4.3, 2.4.7, 2.4.11),
//! in real headless Chromium against the real verifier and card helper: Tab, Shift+Tab, the arrow keys, Enter and
//! Space are sent to the focused element only — also the PIN on the card helper's page — and after every key the
//! focused element must show a visible focus indicator (the design system's 4 px black outline with a yellow ring:
//! outline at least 2 px, or a box-shadow). Six voters, each voting in the Tokyo district and in national PR.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod a11y_common;

use std::time::Duration;

use a11y_common::{layouts, target};
use e2e::{Browser, LiveElection};
use fantoccini::Locator;
use fantoccini::key::Key;
use serde_json::Value;

/// Describes the focused element and its focus style.
async fn focused(b: &Browser) -> Value {
    b.client
        .execute(
            "const e = document.activeElement;
             if (!e || e === document.body) return { tag: 'BODY' };
             const s = getComputedStyle(e);
             return { tag: e.tagName, id: e.id, name: e.name || '', checked: !!e.checked,
                      outline: s.outlineStyle === 'none' ? 0 : parseFloat(s.outlineWidth) || 0,
                      shadow: s.boxShadow, text: (e.innerText || e.value || '').slice(0, 40) };",
            vec![],
        )
        .await
        .unwrap()
}

async fn assert_visible_focus(b: &Browser, step: &str) -> Value {
    let f = focused(b).await;
    let outline = f["outline"].as_f64().unwrap_or(0.0);
    let shadow = f["shadow"].as_str().unwrap_or("none");
    assert!(f["tag"] != "BODY", "{step}: focus was lost to the page");
    assert!(outline >= 2.0 || shadow != "none", "{step}: no visible focus indicator on {f}");
    f
}

/// Sends one key (or chord) to the focused element and checks the focus is visible afterwards.
async fn press(b: &Browser, key: &str, step: &str) -> Value {
    b.client.active_element().await.unwrap().send_keys(key).await.unwrap();
    assert_visible_focus(b, step).await
}

async fn focus_matches(b: &Browser, css: &str) -> bool {
    b.client
        .execute("return !!document.activeElement && document.activeElement.matches(arguments[0]);", vec![css.into()])
        .await
        .unwrap()
        == Value::Bool(true)
}

/// Presses Tab until the focused element matches `css`.
async fn tab_to(b: &Browser, css: &str) {
    for _ in 0..80 {
        if focus_matches(b, css).await {
            return;
        }
        press(b, &Key::Tab.to_string(), &format!("Tab towards {css}")).await;
    }
    panic!("Tab never reached {css}; focus is on {}", focused(b).await);
}

/// Presses an arrow key until the focused element matches `css`.
async fn arrow_to(b: &Browser, key: Key, css: &str) {
    for _ in 0..40 {
        if focus_matches(b, css).await {
            return;
        }
        press(b, &key.to_string(), &format!("{key:?} towards {css}")).await;
    }
    panic!("{key:?} never reached {css}; focus is on {}", focused(b).await);
}

/// Types the PIN on the card helper's page and presses Enter there.
async fn pin_on_helper_page(b: &Browser, pin: &str) {
    let main = b.client.window().await.unwrap();
    for _ in 0..100 {
        for handle in b.client.windows().await.unwrap() {
            if handle == main || b.client.switch_to_window(handle).await.is_err() {
                continue;
            }
            if b.client.find(Locator::Css("#pin")).await.is_ok() {
                // The PIN field has the focus when the page opens (autofocus, applied once the page has loaded).
                let mut field = b.client.active_element().await.unwrap();
                for _ in 0..30 {
                    if field.attr("id").await.unwrap().as_deref() == Some("pin") {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    field = b.client.active_element().await.unwrap();
                }
                assert_eq!(field.attr("id").await.unwrap().as_deref(), Some("pin"), "the PIN field has the focus");
                field.send_keys(&format!("{pin}{}", Key::Enter)).await.unwrap();
                let answer = b.client.wait().at_most(Duration::from_secs(10));
                // The voting page may close the popup as soon as the helper has answered, so the answer can be
                // gone before it is read (seen under load); only an answer that is read must say 完了.
                if let Ok(el) = answer.for_element(Locator::Css("#result")).await
                    && let Ok(text) = el.text().await
                {
                    assert!(text.contains("完了"), "the helper refused: {text}");
                }
                b.client.switch_to_window(main).await.unwrap();
                return;
            }
        }
        b.client.switch_to_window(main.clone()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the card helper's page never opened");
}

async fn vote_with_keys(b: &Browser, contest: &str, selection: &str, display: &str, password: &str) {
    let (id, search, initial, row) = target(contest);
    let layout = format!("{contest} {selection} × {display}");
    tab_to(b, &format!("#contest-{contest} button")).await;
    press(b, &Key::Enter.to_string(), &format!("{layout}: open the contest")).await;
    b.client.wait().for_element(Locator::Css("#mode-list")).await.unwrap();

    // The modes are radio groups: Tab to the group, arrows to the mode (arrows also select it).
    tab_to(b, "input[name=selection-mode]").await;
    arrow_to(b, Key::Down, &format!("#mode-{selection}")).await;
    tab_to(b, "input[name=display-mode]").await;
    arrow_to(b, Key::Down, &format!("#display-{display}")).await;

    match selection {
        "free_word_search" => {
            tab_to(b, "#search").await;
            press(b, search, &format!("{layout}: type the search")).await;
        }
        "initial_letter_input" => {
            tab_to(b, "#initial").await;
            press(b, initial, &format!("{layout}: type the initial")).await;
        }
        "initial_letter_select" => {
            tab_to(b, &format!("#{row}")).await;
            press(b, &Key::Enter.to_string(), &format!("{layout}: choose the row")).await;
        }
        _ => {}
    }

    if display == "drum_roll" {
        // The drum roll turns with the arrow keys while it has the focus.
        tab_to(b, "#drum").await;
        for _ in 0..40 {
            if b.client.find(Locator::Css(&format!("#drum #{id}"))).await.is_ok() {
                break;
            }
            press(b, &Key::Down.to_string(), &format!("{layout}: turn the drum")).await;
        }
        tab_to(b, &format!("#{id}")).await;
    } else {
        // The entries are one radio group: Tab into it, arrows to the entry.
        tab_to(b, "input[name=choice]").await;
        arrow_to(b, Key::Down, &format!("#{id}")).await;
    }
    let f = press(b, &Key::Space.to_string(), &format!("{layout}: pick")).await;
    assert_eq!(f["checked"], Value::Bool(true), "{layout}: Space picks the entry: {f}");

    // Past the button and back with Shift+Tab, then Enter.
    tab_to(b, "#to-confirm").await;
    press(b, &Key::Tab.to_string(), &format!("{layout}: past the button")).await;
    press(b, &format!("{}{}", Key::Shift, Key::Tab), &format!("{layout}: Shift+Tab back")).await;
    assert!(focus_matches(b, "#to-confirm").await, "{layout}: Shift+Tab comes back to the button");
    press(b, &Key::Enter.to_string(), &format!("{layout}: to the confirmation")).await;
    b.wait_text("#chosen", |t| !t.is_empty()).await.unwrap();
    tab_to(b, "#cast").await;
    b.client.active_element().await.unwrap().send_keys(&Key::Enter.to_string()).await.unwrap();
    pin_on_helper_page(b, password).await;
    b.wait_text(&format!("#contest-{contest} .tracker code"), |t| t.len() == 64).await.unwrap();
    assert_visible_focus(b, &format!("{layout}: back on the contests after the receipt")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_keyboard_only_vote_in_every_layout_with_the_focus_always_visible() {
    let mut election = LiveElection::start_with_voters(6).unwrap();
    let b = Browser::start(None).await.unwrap();
    let combos = layouts();
    assert_eq!(combos.len(), 12);
    for (voter, pair) in combos.chunks(2).enumerate() {
        election.use_card(voter).unwrap();
        b.client.goto(&election.base_url).await.unwrap();
        b.wait_text("#card-check", |t| !t.is_empty()).await.unwrap();
        // From the top of the page: the skip link comes first.
        let first = press(&b, &Key::Tab.to_string(), "the first Tab").await;
        assert_eq!(first["tag"], "A", "the skip link is first: {first}");
        tab_to(&b, "#login").await;
        b.client.active_element().await.unwrap().send_keys(&Key::Enter.to_string()).await.unwrap();
        pin_on_helper_page(&b, election.auth_pin).await;
        b.wait_text("#contests-h", |t| !t.is_empty()).await.unwrap();
        for (contest, (selection, display)) in ["tokyo", "national-pr"].iter().zip(pair) {
            vote_with_keys(&b, contest, selection, display, election.sign_password).await;
        }
        b.screenshot(&format!("keyboard-voter-{voter}")).await.unwrap();
    }
    b.finish(&[]).await.unwrap();
}
