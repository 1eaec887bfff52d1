//! Steps shared by the accessibility tests (axe-core, keyboard, zoom): opening the app in a language, choosing a
//! layout of the candidate screen, and cancelling at the card helper's page to reach the failure screen.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use e2e::Browser;
use fantoccini::Locator;

/// The four selection modes and three display modes of the candidate screen, by their element ids.
pub const SELECTION: [&str; 4] = ["list", "free_word_search", "initial_letter_input", "initial_letter_select"];
/// The display modes.
pub const DISPLAY: [&str; 3] = ["one_screen", "scroll", "drum_roll"];

/// Returns the 12 selection × display layouts.
pub fn layouts() -> Vec<(&'static str, &'static str)> {
    SELECTION.iter().flat_map(|s| DISPLAY.iter().map(move |d| (*s, *d))).collect()
}

/// The entry to choose in a contest and how to find it: (id, search text, initial kana, row button).
pub fn target(contest: &str) -> (&'static str, &'static str, &'static str, &'static str) {
    match contest {
        "tokyo" => ("cand-5", "ナカムラ", "な", "row-4"),
        _ => ("party-2", "みどりの", "み", "row-6"),
    }
}

/// Opens the app and puts it in `lang` ("ja" or "en"), waiting for the card check.
pub async fn open(b: &Browser, url: &str, lang: &str) {
    b.client.goto(url).await.unwrap();
    b.wait_text("#election-h", |t| !t.is_empty()).await.unwrap();
    let now = b.client.execute("return document.documentElement.lang;", vec![]).await.unwrap();
    if now.as_str() != Some(lang) {
        b.client.find(Locator::Css("button.lang-switch")).await.unwrap().click().await.unwrap();
    }
    let want =
        if lang == "en" { "Log in with your My Number card" } else { "マイナンバーカードでログイン" };
    b.wait_text("#login", |t| t == want).await.unwrap();
    b.wait_text("#card-check", |t| !t.is_empty()).await.unwrap();
}

/// Sets a layout of the candidate screen with the mouse, finds the contest's entry and picks it.
pub async fn pick_layout(b: &Browser, contest: &str, selection: &str, display: &str) {
    let (id, search, initial, row) = target(contest);
    b.client.wait().for_element(Locator::Css(&format!("#mode-{selection}"))).await.unwrap().click().await.unwrap();
    b.client.find(Locator::Css(&format!("#display-{display}"))).await.unwrap().click().await.unwrap();
    match selection {
        "free_word_search" => b.client.find(Locator::Css("#search")).await.unwrap().send_keys(search).await.unwrap(),
        "initial_letter_input" => {
            b.client.find(Locator::Css("#initial")).await.unwrap().send_keys(initial).await.unwrap()
        }
        "initial_letter_select" => {
            b.client.find(Locator::Css(&format!("#{row}"))).await.unwrap().click().await.unwrap()
        }
        _ => {}
    }
    for _ in 0..40 {
        if b.client.find(Locator::Css(&format!("#{id}"))).await.is_ok() {
            break;
        }
        b.client.find(Locator::Css("#drum-next")).await.unwrap().click().await.unwrap();
    }
    b.client.find(Locator::Css(&format!("#{id}"))).await.unwrap().click().await.unwrap();
}

/// Waits for the card helper's page and cancels there: the voting page shows its failure screen.
pub async fn cancel_on_helper_page(b: &Browser) {
    let main = b.client.window().await.unwrap();
    for _ in 0..100 {
        for handle in b.client.windows().await.unwrap() {
            if handle == main || b.client.switch_to_window(handle).await.is_err() {
                continue;
            }
            if let Ok(cancel) = b.client.find(Locator::Css("button[value=cancel]")).await {
                cancel.click().await.unwrap();
                b.client.switch_to_window(main).await.unwrap();
                return;
            }
        }
        b.client.switch_to_window(main.clone()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the card helper's page never opened");
}
