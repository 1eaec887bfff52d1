//! The voter checks an encryption before casting (the Benaloh challenge, issue 18), in real headless Chromium
//! against the real verifier and card helper: the confirmation screen shows the tracker of the ballot it would
//! cast; 「暗号化を確認する」 opens that ballot (its choice and seed), which the helper's own page and the
//! standalone `ballot-check` both re-encrypt and read back as the voter's choice; the app then seals afresh, and
//! the ballot cast is the fresh one, never the opened one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use e2e::{Browser, LiveElection};
use fantoccini::Locator;

const CHOSEN: &str = "佐々木 里美（ささき さとみ）";

#[tokio::test(flavor = "multi_thread")]
async fn a_challenged_encryption_is_checked_by_the_helper_and_ballot_check_and_never_cast() {
    let election = LiveElection::start().unwrap();
    let b = Browser::start(None).await.unwrap();
    b.client.goto(&election.base_url).await.unwrap();
    b.log_in(election.auth_pin).await.unwrap();
    b.client.find(Locator::Css("#contest-tokyo button")).await.unwrap().click().await.unwrap();
    b.client.wait().for_element(Locator::Css("#cand-3")).await.unwrap().click().await.unwrap();
    b.client.find(Locator::Css("#to-confirm")).await.unwrap().click().await.unwrap();
    assert_eq!(b.wait_text("#chosen", |t| !t.is_empty()).await.unwrap(), CHOSEN);
    let first = b.wait_text("#tracker", |t| t.len() == 64).await.unwrap();

    // Challenge: the opened ballot's tracker is the one shown before, and a fresh one replaces it.
    let main = b.client.window().await.unwrap();
    b.client.find(Locator::Css("#challenge")).await.unwrap().click().await.unwrap();
    let opened = b.wait_text("#challenged-tracker", |t| t.len() == 64).await.unwrap();
    assert_eq!(opened, first, "the ballot opened is the one the screen showed");
    let fresh = b.wait_text("#tracker", |t| t.len() == 64 && t != first).await.unwrap();
    let opening = b.client.find(Locator::Css("#opening")).await.unwrap().prop("value").await.unwrap().unwrap();
    b.screenshot("benaloh-challenged").await.unwrap();

    // The helper's own page (a popup of another origin) shows the choice it read back from the ciphertext.
    let mut shown = None;
    for _ in 0..100 {
        for handle in b.client.windows().await.unwrap() {
            if handle == main || b.client.switch_to_window(handle).await.is_err() {
                continue;
            }
            if let Ok(el) = b.client.find(Locator::Css("#shown-choice")).await {
                let result = b.client.find(Locator::Css("#result")).await.unwrap().text().await.unwrap();
                shown = Some((el.text().await.unwrap(), result));
                b.client.close_window().await.unwrap();
                break;
            }
        }
        b.client.switch_to_window(main.clone()).await.unwrap();
        if shown.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (choice, result) = shown.expect("the helper's check page opened");
    assert_eq!(choice, CHOSEN);
    assert!(result.contains("送られません"), "{result}");

    // The standalone checker, from the published election alone.
    let out = Command::new(e2e::bin_dir().join("ballot-check"))
        .args(["--site", election.base_url.trim_end_matches('/')])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(opening.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains(CHOSEN) && text.contains(&first), "ballot-check: {text}");

    // The cast ballot is the fresh one, with the tracker the screen showed.
    b.client.find(Locator::Css("#cast")).await.unwrap().click().await.unwrap();
    b.confirm_on_helper_page(election.sign_password).await.unwrap();
    let receipt = b.wait_text("#contest-tokyo .tracker code", |t| t.len() == 64).await.unwrap();
    assert_eq!(receipt, fresh);
    assert_ne!(receipt, first);
    b.screenshot("benaloh-receipt").await.unwrap();
    b.finish(&[]).await.unwrap();
}
