//! The session countdown and the confirmation screen rendered by Yew into a real DOM in headless Chromium: the
//! countdown's digits and its warning in the alert region (R-VOTE-4), the extension button only while extensions
//! are left (WCAG 2.2.1), the confirmation naming exactly what was chosen before anything is recorded (R-SYS-4),
//! and the check of the encryption: the challenged ballot's tracker and labelled, read-only opening, and a
//! helper's `BALLOT_MISMATCH` as an alert (R-VOTE-7).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use shared::election::{Candidate, Choice, Contest, Id, Judge, Party, Rules, Text};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web::components::confirmation::{Challenged, HelperCheck};
use web::components::{confirmation, session_bar};
use web::i18n::Lang;
use web_sys::{Element, HtmlElement};
use yew::Callback;

wasm_bindgen_test_configure!(run_in_browser);

mod watch;

fn root() -> Element {
    let document = web_sys::window().unwrap().document().unwrap();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    root
}

async fn settle() {
    gloo_timers::future::sleep(Duration::from_millis(20)).await;
}

fn text(root: &Element, selector: &str) -> String {
    root.query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("no {selector} in {}", root.inner_html()))
        .text_content()
        .unwrap_or_default()
}

fn has(root: &Element, selector: &str) -> bool {
    root.query_selector(selector).unwrap().is_some()
}

async fn bar(lang: Lang, left_seconds: i64, extensions_left: u32, clicks: Rc<Cell<u32>>) -> Element {
    let now = Utc.with_ymd_and_hms(2026, 7, 1, 3, 0, 0).unwrap();
    let on_extend = Callback::from(move |()| clicks.set(clicks.get() + 1));
    let status = session_bar::SessionStatus {
        expires_at: now + chrono::Duration::seconds(left_seconds),
        extensions_left,
        extending: false,
        extend_error: None,
        on_extend,
    };
    let props = session_bar::Props { lang, now, status };
    let root = root();
    yew::Renderer::<session_bar::SessionBar>::with_root_and_props(root.clone(), props).render();
    settle().await;
    root
}

#[wasm_bindgen_test]
async fn the_countdown_shows_the_time_left_and_warns_once_two_minutes_before_the_end() {
    let _watch = watch::Watch::start();
    let clicks = Rc::new(Cell::new(0));
    let calm = bar(Lang::Ja, 19 * 60 + 59, 10, clicks.clone()).await;
    assert_eq!(text(&calm, "#session-left .clock"), "19:59");
    assert_eq!(text(&calm, "#session-warning"), "", "no warning yet, but the alert region is already there");
    let role = calm.query_selector("#session-warning").unwrap().unwrap().get_attribute("role");
    assert_eq!(role.as_deref(), Some("alert"));
    let timer = calm.query_selector("#session-left .clock").unwrap().unwrap();
    assert_eq!(timer.get_attribute("role").as_deref(), Some("timer"), "the ticking digits are not a live region");
    assert_eq!(timer.get_attribute("aria-label").as_deref(), Some("19分 59秒"));

    let warned = bar(Lang::Ja, 120, 10, clicks.clone()).await;
    assert_eq!(text(&warned, "#session-left .clock"), "02:00");
    assert!(text(&warned, "#session-warning").contains("まもなく時間切れ"));
    assert!(text(&warned, "#extend-session").contains("延長"));
    warned.query_selector("#extend-session").unwrap().unwrap().unchecked_into::<HtmlElement>().click();
    settle().await;
    assert_eq!(clicks.get(), 1, "the button starts an extension");

    let english = bar(Lang::En, 61, 0, clicks.clone()).await;
    assert_eq!(text(&english, "#session-left .clock"), "01:01");
    assert!(text(&english, "#session-warning").contains("Your session ends soon"));
    assert!(!has(&english, "#extend-session"), "no extension button once none is left");
    assert!(text(&english, "#no-extension").contains("cannot be extended"));

    let ended = bar(Lang::Ja, 0, 10, clicks).await;
    assert_eq!(ended.inner_html(), "", "at the end the bar goes; the page shows the session-ended screen");
}

fn contest(rules: Rules) -> Contest {
    Contest {
        id: Id::new("c").unwrap(),
        name: Text { ja: "東京都選挙区".into(), en: "Tokyo".into() },
        district: "tokyo".into(),
        rules,
        withdrawn: Vec::new(),
    }
}

fn cand(number: u16, name: &str, reading: &str) -> Candidate {
    Candidate { number, name: name.into(), reading: reading.into(), party: None, tokutei: false }
}

/// Presses of "cast", "change" and "check the encryption".
type Presses = Rc<Cell<(u32, u32, u32)>>;

async fn confirm(lang: Lang, contest: Contest, choice: Choice) -> (Element, Presses) {
    confirm_challenged(lang, contest, choice, None).await
}

async fn confirm_challenged(
    lang: Lang,
    contest: Contest,
    choice: Choice,
    challenged: Option<Challenged>,
) -> (Element, Presses) {
    let calls: Presses = Rc::new(Cell::new((0, 0, 0)));
    let (a, b, c) = (calls.clone(), calls.clone(), calls.clone());
    let props = confirmation::Props {
        lang,
        contest,
        choice,
        fingerprint: "ab".repeat(32),
        tracker: "cd".repeat(32),
        challenged,
        on_cast: Callback::from(move |()| a.set((a.get().0 + 1, a.get().1, a.get().2))),
        on_change: Callback::from(move |()| b.set((b.get().0, b.get().1 + 1, b.get().2))),
        on_challenge: Callback::from(move |()| c.set((c.get().0, c.get().1, c.get().2 + 1))),
    };
    let root = root();
    yew::Renderer::<confirmation::Confirmation>::with_root_and_props(root.clone(), props).render();
    settle().await;
    (root, calls)
}

fn click(root: &Element, selector: &str) {
    root.query_selector(selector).unwrap().unwrap().unchecked_into::<HtmlElement>().click();
}

#[wasm_bindgen_test]
async fn the_confirmation_names_exactly_what_was_chosen() {
    let _watch = watch::Watch::start();
    let district = contest(Rules::HocDistrict {
        parties: vec![],
        candidates: vec![cand(1, "佐藤 花子", "さとう はなこ"), cand(2, "加藤 健一", "かとう けんいち")],
    });
    let (root, calls) = confirm(Lang::Ja, district.clone(), Choice::Candidate(2)).await;
    assert_eq!(text(&root, "#chosen"), "加藤 健一（かとう けんいち）");
    assert_eq!(text(&root, "#confirm-contest"), "東京都選挙区");
    assert_eq!(text(&root, "#fingerprint"), "ab".repeat(32));
    assert_eq!(text(&root, "#tracker"), "cd".repeat(32), "the tracker of the ballot a cast would cast");
    assert!(!has(&root, "#challenged"), "nothing was checked yet");
    click(&root, "#change");
    settle().await;
    assert_eq!(calls.get(), (0, 1, 0), "the way back changes nothing recorded");
    click(&root, "#challenge");
    settle().await;
    assert_eq!(calls.get(), (0, 1, 1));
    click(&root, "#cast");
    settle().await;
    assert_eq!(calls.get(), (1, 1, 1));

    let (blank, _) = confirm(Lang::Ja, district.clone(), Choice::Blank).await;
    assert_eq!(text(&blank, "#chosen"), "白票（だれにも投票しない）");
    let (blank_en, _) = confirm(Lang::En, district, Choice::Blank).await;
    assert_eq!(text(&blank_en, "#chosen"), "Blank ballot (白票, no choice)");
    assert_eq!(text(&blank_en, "#confirm-h"), "Confirm your ballot");

    let pr = contest(Rules::HocPr {
        parties: vec![Party {
            number: 1,
            id: Id::new("mirai").unwrap(),
            name: "未来創造党".into(),
            abbreviation: "未来".into(),
            reading: "みらいそうぞうとう".into(),
            list: vec![cand(101, "山田 太郎", "やまだ たろう")],
        }],
    });
    let (party, _) = confirm(Lang::Ja, pr.clone(), Choice::Party(1)).await;
    assert_eq!(text(&party, "#chosen"), "未来創造党");
    let (listed, _) = confirm(Lang::Ja, pr, Choice::Candidate(101)).await;
    assert_eq!(text(&listed, "#chosen"), "山田 太郎（やまだ たろう）");

    let review = contest(Rules::JudicialReview {
        judges: vec![
            Judge { name: "浅野 一郎".into(), reading: "あさの いちろう".into() },
            Judge { name: "井上 和子".into(), reading: "いのうえ かずこ".into() },
        ],
    });
    let (marked, _) = confirm(Lang::Ja, review.clone(), Choice::Review(0b10)).await;
    let words = text(&marked, "#chosen");
    assert!(words.contains("井上 和子") && !words.contains("浅野"), "{words}");
    let (none, _) = confirm(Lang::Ja, review, Choice::Review(0)).await;
    assert_eq!(text(&none, "#chosen"), "×をつけた裁判官はいません");
}

#[wasm_bindgen_test]
async fn a_checked_ballot_shows_its_tracker_and_opening_and_a_mismatch_is_an_alert() {
    let _watch = watch::Watch::start();
    let district = contest(Rules::HocDistrict {
        parties: vec![],
        candidates: vec![cand(1, "佐藤 花子", "さとう はなこ")],
    });
    let opening =
        r#"{"ballot":{"election":"e","contest":"c","ciphertext":"AA=="},"choice":{"type":"blank"},"seed":"AA=="}"#;
    let challenged = |check| Some(Challenged { tracker: "ef".repeat(32), opening: opening.into(), check });

    let (root, _) =
        confirm_challenged(Lang::Ja, district.clone(), Choice::Candidate(1), challenged(HelperCheck::Asking)).await;
    assert_eq!(text(&root, "#challenged-tracker"), "ef".repeat(32));
    assert_eq!(text(&root, "#tracker"), "cd".repeat(32), "the fresh ballot is the one to cast");
    let area = root.query_selector("textarea#opening").unwrap().unwrap();
    assert_eq!(area.unchecked_ref::<web_sys::HtmlTextAreaElement>().value(), opening);
    assert!(area.unchecked_ref::<web_sys::HtmlTextAreaElement>().read_only());
    assert!(has(&root, "label[for=opening]"), "the opening is labelled");
    let words = text(&root, "#challenged");
    assert!(words.contains("ballot-check") && words.contains("決して投票には使われません"), "{words}");
    assert!(text(&root, "#check-status").contains("依頼"));
    let focused = web_sys::window().unwrap().document().unwrap().active_element().map(|e| e.id());
    assert_eq!(focused.as_deref(), Some("challenged-h"), "focus lands on the section the button opened");

    let (opened, _) = confirm_challenged(
        Lang::En,
        district.clone(),
        Choice::Candidate(1),
        challenged(HelperCheck::Opened("http://127.0.0.1:24190/check/x".into())),
    )
    .await;
    let link = opened.query_selector("#check-link").unwrap().unwrap();
    assert_eq!(link.get_attribute("href").as_deref(), Some("http://127.0.0.1:24190/check/x"));
    assert!(!has(&opened, "#check-warning"));

    let (warned, _) = confirm_challenged(
        Lang::Ja,
        district.clone(),
        Choice::Candidate(1),
        challenged(HelperCheck::Refused("BALLOT_MISMATCH".into())),
    )
    .await;
    let warning = warned.query_selector("#check-warning").unwrap().unwrap();
    assert_eq!(warning.get_attribute("role").as_deref(), Some("alert"));
    let said = warning.text_content().unwrap_or_default();
    assert!(said.starts_with("警告") && said.contains("投票を続けないでください"), "{said}");

    let (unreachable, _) = confirm_challenged(
        Lang::En,
        district,
        Choice::Candidate(1),
        challenged(HelperCheck::Refused("HELPER_UNREACHABLE".into())),
    )
    .await;
    assert!(!has(&unreachable, "#check-warning"), "an unreachable helper is not a tampering warning");
    assert!(text(&unreachable, "#check-status").contains("ballot-check"));
}

#[wasm_bindgen_test]
async fn the_voting_page_starts_at_the_login_and_says_what_failed_without_a_verifier() {
    let _watch = watch::Watch::start();
    // The test server has no `/api/v1`: the client configuration and the login fail, as with a verifier that
    // cannot be reached.
    let root = root();
    let handle = yew::Renderer::<web::pages::vote::Vote>::with_root_and_props(
        root.clone(),
        web::pages::vote::Props { lang: Lang::Ja, on_session: Callback::noop() },
    )
    .render();
    gloo_timers::future::sleep(Duration::from_millis(300)).await;
    assert!(has(&root, "#login"), "{}", root.inner_html());
    assert!(!text(&root, "#card-check").is_empty(), "the card check says why it could not run");
    root.query_selector("#login").unwrap().unwrap().unchecked_into::<HtmlElement>().click();
    gloo_timers::future::sleep(Duration::from_millis(300)).await;
    assert!(!text(&root, "#failure").is_empty(), "{}", root.inner_html());
    assert_eq!(root.query_selector("section.error").unwrap().unwrap().get_attribute("role").as_deref(), Some("alert"));
    click(&root, "section.error button");
    settle().await;
    assert!(has(&root, "#login"), "start again leads back to the login");
    handle.destroy();
    root.remove();
}
