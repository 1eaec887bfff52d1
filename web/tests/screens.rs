//! The session countdown and the confirmation screen rendered by Yew into a real DOM in headless Chromium: the
//! countdown's digits and its warning in the alert region (R-VOTE-4), the extension button only while extensions
//! are left (WCAG 2.2.1), and the confirmation naming exactly what was chosen before anything is recorded (R-SYS-4).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use shared::election::{Candidate, Choice, Contest, Id, Judge, Party, Rules, Text};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
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
    let props = session_bar::Props {
        lang,
        now,
        expires_at: now + chrono::Duration::seconds(left_seconds),
        extensions_left,
        extending: false,
        extend_error: None,
        on_extend,
    };
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
    }
}

fn cand(number: u16, name: &str, reading: &str) -> Candidate {
    Candidate { number, name: name.into(), reading: reading.into(), party: None, tokutei: false }
}

async fn confirm(lang: Lang, contest: Contest, choice: Choice) -> (Element, Rc<Cell<(u32, u32)>>) {
    let calls = Rc::new(Cell::new((0, 0)));
    let (a, b) = (calls.clone(), calls.clone());
    let props = confirmation::Props {
        lang,
        contest,
        choice,
        fingerprint: "ab".repeat(32),
        on_cast: Callback::from(move |()| a.set((a.get().0 + 1, a.get().1))),
        on_change: Callback::from(move |()| b.set((b.get().0, b.get().1 + 1))),
    };
    let root = root();
    yew::Renderer::<confirmation::Confirmation>::with_root_and_props(root.clone(), props).render();
    settle().await;
    (root, calls)
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
    root.query_selector("#change").unwrap().unwrap().unchecked_into::<HtmlElement>().click();
    settle().await;
    assert_eq!(calls.get(), (0, 1), "the way back changes nothing recorded");
    root.query_selector("#cast").unwrap().unwrap().unchecked_into::<HtmlElement>().click();
    settle().await;
    assert_eq!(calls.get(), (1, 1));

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
