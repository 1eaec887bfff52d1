//! The candidate screen rendered by Yew into a real DOM in headless Chromium (R-SYS-4): each selection mode and
//! display mode changes what is on screen, every script and width (and romaji) finds the same candidate, a House
//! of Representatives PR list is shown but cannot be chosen, and a click reports the right choice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use shared::election::{Candidate, Choice, Contest, Id, Party, Rules, Text};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web::components::chooser::{Chooser, Props};
use web::i18n::Lang;
use web_sys::{Element, HtmlElement, HtmlInputElement};
use yew::{AppHandle, Callback};

wasm_bindgen_test_configure!(run_in_browser);

mod watch;

fn id(s: &str) -> Id {
    Id::new(s).unwrap()
}

fn cand(number: u16, name: &str, reading: &str, party: Option<&str>) -> Candidate {
    Candidate { number, name: name.into(), reading: reading.into(), party: party.map(id), tokutei: false }
}

fn party(number: u16, key: &str, name: &str, reading: &str, list: Vec<Candidate>) -> Party {
    Party {
        number,
        id: id(key),
        name: name.into(),
        abbreviation: name.chars().take(2).collect(),
        reading: reading.into(),
        list,
    }
}

/// A practice district contest with four candidates, two of them in the か row (か and が).
fn district() -> Contest {
    Contest {
        id: id("tokyo"),
        name: Text { ja: "東京都選挙区".into(), en: "Tokyo".into() },
        district: "tokyo".into(),
        rules: Rules::HocDistrict {
            parties: vec![party(1, "mirai", "未来創造党", "みらいそうぞうとう", vec![])],
            candidates: vec![
                cand(1, "佐藤 花子", "さとう はなこ", Some("mirai")),
                cand(2, "加藤 健一", "かとう けんいち", None),
                cand(3, "中村 翔太", "なかむら しょうた", None),
                cand(4, "ガルシア ロペス", "がるしあ ろぺす", None),
            ],
        },
        withdrawn: Vec::new(),
    }
}

/// A House of Representatives PR contest: two parties, each with a list that is for information only.
fn hor_pr() -> Contest {
    Contest {
        id: id("kinki"),
        name: Text { ja: "比例代表 近畿ブロック".into(), en: "PR Kinki block".into() },
        district: "kinki".into(),
        rules: Rules::HorPr {
            parties: vec![
                party(
                    1,
                    "mirai",
                    "未来創造党",
                    "みらいそうぞうとう",
                    vec![
                        cand(101, "山田 太郎", "やまだ たろう", Some("mirai")),
                        cand(102, "上田 愛", "うえだ あい", Some("mirai")),
                    ],
                ),
                party(
                    2,
                    "midori",
                    "みどりの風",
                    "みどりのかぜ",
                    vec![cand(201, "森 一", "もり はじめ", Some("midori"))],
                ),
            ],
        },
        withdrawn: Vec::new(),
    }
}

/// The chooser mounted into its own `<div>` in the test page, with the choices it reported.
struct Mounted {
    root: Element,
    picks: Rc<RefCell<Vec<Choice>>>,
    handle: AppHandle<Chooser>,
}

async fn mount(contest: Contest, practice: bool, lang: Lang) -> Mounted {
    mount_assigned(contest, practice, lang, None).await
}

async fn mount_assigned(
    contest: Contest,
    practice: bool,
    lang: Lang,
    assignment: Option<shared::api::Assignment>,
) -> Mounted {
    let document = web_sys::window().unwrap().document().unwrap();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    let picks = Rc::new(RefCell::new(Vec::new()));
    let on_pick = {
        let picks = picks.clone();
        Callback::from(move |c: Choice| picks.borrow_mut().push(c))
    };
    let props = Props { lang, contest, practice, choice: None, on_pick, assignment };
    let handle = yew::Renderer::<Chooser>::with_root_and_props(root.clone(), props).render();
    settle().await;
    Mounted { root, picks, handle }
}

/// Lets Yew run its scheduled renders.
async fn settle() {
    gloo_timers::future::sleep(Duration::from_millis(20)).await;
}

impl Mounted {
    fn all(&self, selector: &str) -> Vec<Element> {
        let list = self.root.query_selector_all(selector).unwrap();
        (0..list.length()).filter_map(|i| list.item(i)).map(|n| n.unchecked_into::<Element>()).collect()
    }

    fn count(&self, selector: &str) -> usize {
        self.all(selector).len()
    }

    fn one(&self, selector: &str) -> Element {
        self.root
            .query_selector(selector)
            .unwrap()
            .unwrap_or_else(|| panic!("no {selector} in {}", self.root.inner_html()))
    }

    fn texts(&self, selector: &str) -> Vec<String> {
        self.all(selector).iter().map(|e| e.text_content().unwrap_or_default()).collect()
    }

    fn text(&self, selector: &str) -> String {
        self.one(selector).text_content().unwrap_or_default()
    }

    /// Returns the ids of the entries on screen that can be chosen (the 白票 is always there and left out).
    fn shown(&self) -> Vec<String> {
        self.all("input[name=choice]").iter().map(Element::id).filter(|i| i != "blank").collect()
    }

    async fn click(&self, selector: &str) {
        self.one(selector).unchecked_into::<HtmlElement>().click();
        settle().await;
    }

    /// Types into an input as a voter would: the value changes and an `input` event bubbles up to Yew.
    async fn type_into(&self, selector: &str, value: &str) {
        let input = self.one(selector).unchecked_into::<HtmlInputElement>();
        input.set_value(value);
        let init = web_sys::InputEventInit::new();
        init.set_bubbles(true);
        let event = web_sys::InputEvent::new_with_event_init_dict("input", &init).unwrap();
        input.dispatch_event(&event).unwrap();
        settle().await;
    }

    fn picks(&self) -> Vec<Choice> {
        self.picks.borrow().clone()
    }

    fn unmount(self) {
        self.handle.destroy();
        self.root.remove();
    }
}

#[wasm_bindgen_test]
async fn each_selection_mode_renders_its_finder() {
    let _watch = watch::Watch::start();
    let m = mount(district(), true, Lang::Ja).await;
    assert_eq!(m.count("input[name=selection-mode]"), 4);
    assert!(m.one("#mode-list").unchecked_into::<HtmlInputElement>().checked());
    assert_eq!((m.count("#search"), m.count("#initial"), m.count("button.row")), (0, 0, 0));
    assert_eq!(m.shown(), ["cand-1", "cand-2", "cand-3", "cand-4"]);

    m.click("#mode-free_word_search").await;
    assert_eq!((m.count("#search"), m.count("#initial"), m.count("button.row")), (1, 0, 0));
    assert!(m.text("#search-hint").contains("ローマ字でも探せます"), "{}", m.text("#search-hint"));
    assert_eq!(m.shown().len(), 4, "an empty query shows everyone");

    m.click("#mode-initial_letter_input").await;
    assert_eq!((m.count("#search"), m.count("#initial"), m.count("button.row")), (0, 1, 0));
    m.type_into("#initial", "ｶ").await;
    assert_eq!(m.shown(), ["cand-2", "cand-4"], "か and が are both in the か row");

    m.click("#mode-initial_letter_select").await;
    assert_eq!((m.count("#search"), m.count("#initial"), m.count("button.row")), (0, 0, 10));
    let rows: String = m.texts("button.row").concat();
    assert_eq!(rows, "あかさたなはまやらわ");
    assert_eq!(m.shown().len(), 4, "switching modes clears the input");
    m.click("#row-4").await;
    assert_eq!(m.shown(), ["cand-3"]);
    assert_eq!(m.one("#row-4").get_attribute("aria-pressed").as_deref(), Some("true"));
    m.click("#row-2").await;
    assert_eq!(m.shown(), ["cand-1"]);

    m.click("#mode-list").await;
    assert_eq!((m.count("#search"), m.count("#initial"), m.count("button.row")), (0, 0, 0));
    assert_eq!(m.shown().len(), 4);
    m.unmount();
}

#[wasm_bindgen_test]
async fn each_display_mode_changes_the_layout() {
    let _watch = watch::Watch::start();
    let m = mount(district(), true, Lang::Ja).await;
    assert_eq!((m.count("ul.one-screen"), m.count("ul.scroll"), m.count(".drum")), (1, 0, 0));
    assert_eq!(m.count("ul.one-screen input[name=choice]"), 4);

    m.click("#display-scroll").await;
    assert_eq!((m.count("ul.one-screen"), m.count("ul.scroll"), m.count(".drum")), (0, 1, 0));
    assert_eq!(m.count("ul.scroll input[name=choice]"), 4);

    m.click("#display-drum_roll").await;
    assert_eq!((m.count("ul.one-screen"), m.count("ul.scroll"), m.count(".drum")), (0, 0, 1));
    assert_eq!(m.shown(), ["cand-1"], "the drum roll shows one entry at a time");
    assert_eq!(m.text(".drum p"), "1 / 4");
    m.click("#drum-next").await;
    assert_eq!(m.shown(), ["cand-2"]);
    assert_eq!(m.text(".drum p"), "2 / 4");
    m.click("#drum-prev").await;
    m.click("#drum-prev").await;
    assert_eq!(m.shown(), ["cand-4"], "turning back from the first entry wraps around");
    assert_eq!(m.text(".drum p"), "4 / 4");

    // The drum turns over the entries the search left.
    m.click("#mode-free_word_search").await;
    m.type_into("#search", "kato").await;
    assert_eq!(m.shown(), ["cand-2"]);
    assert_eq!(m.text(".drum p"), "1 / 1");
    m.unmount();
}

#[wasm_bindgen_test]
async fn a_real_election_offers_no_mode_switch() {
    let _watch = watch::Watch::start();
    let m = mount(district(), false, Lang::Ja).await;
    assert_eq!(m.count("input[name=selection-mode]") + m.count("input[name=display-mode]"), 0);
    assert_eq!(m.count("ul.scroll"), 1, "a real election uses list + scroll");
    assert_eq!(m.shown().len(), 4);
    m.unmount();
}

#[wasm_bindgen_test]
async fn every_script_width_and_romaji_finds_the_same_candidate() {
    let _watch = watch::Watch::start();
    let m = mount(district(), true, Lang::Ja).await;
    m.click("#mode-free_word_search").await;
    let queries = [
        "ナカムラ",
        "なかむら",
        "ﾅｶﾑﾗ",
        "中村",
        "ｎａｋａｍｕｒａ",
        "nakamura",
        "Nakamura Shota",
        "shouta",
        "syouta",
        "shōta",
        "ショウタ",
        "ｼｮｳﾀ",
        "なかむら　しょうた",
    ];
    for q in queries {
        m.type_into("#search", q).await;
        assert_eq!(m.shown(), ["cand-3"], "{q}");
        assert!(m.text("ul.options").contains("中村 翔太"), "{q}");
    }
    for q in ["sato", "satou", "satoh", "サトウ"] {
        m.type_into("#search", q).await;
        assert_eq!(m.shown(), ["cand-1"], "{q}");
    }
    m.type_into("#search", "abc").await;
    assert!(m.shown().is_empty());
    assert_eq!(m.text("[role=status]"), "該当する候補がありません。");
    assert_eq!(m.count("#blank"), 1, "the blank ballot stays available");
    m.type_into("#search", "").await;
    assert_eq!(m.shown().len(), 4);
    m.unmount();

    let m = mount(district(), true, Lang::En).await;
    m.click("#mode-free_word_search").await;
    assert!(m.text("#search-hint").contains("romaji"), "{}", m.text("#search-hint"));
    m.unmount();
}

#[wasm_bindgen_test]
async fn house_of_representatives_pr_lists_are_shown_but_not_selectable() {
    let _watch = watch::Watch::start();
    let m = mount(hor_pr(), true, Lang::Ja).await;
    assert_eq!(m.shown(), ["party-1", "party-2"], "only parties can be chosen");
    assert_eq!(m.count("details.info-list"), 2);
    assert_eq!(m.count("label.option details"), 0, "a list is never inside a party's label");
    let summary = m.text("#list-party-1 summary");
    assert!(summary.contains("名簿を見る") && summary.contains("情報のみ・選べません"), "{summary}");
    assert_eq!(m.texts("#list-party-1 ol li ruby"), ["山田 太郎やまだ たろう", "上田 愛うえだ あい"]);
    assert_eq!(m.count("details.info-list :is(input, button, select, a, [tabindex], [onclick])"), 0);
    assert_eq!(m.count("input"), 3 + 4 + 3 + 1, "two parties and the blank, the mode radios and the rotate checkbox");

    m.click("#list-party-1 summary").await;
    assert!(m.one("#list-party-1").unchecked_into::<web_sys::HtmlDetailsElement>().open());
    m.click("#list-party-1 ol li ruby").await;
    m.click("#list-party-2 ol li").await;
    assert!(m.picks().is_empty(), "reading a list picks nothing: {:?}", m.picks());
    assert!(m.all("input[name=choice]").iter().all(|i| !i.clone().unchecked_into::<HtmlInputElement>().checked()));

    m.click("#party-2").await;
    assert_eq!(m.picks(), [Choice::Party(2)]);

    // Every display mode keeps the list under its party; the drum roll shows one party with its list.
    m.click("#display-drum_roll").await;
    assert_eq!(m.shown(), ["party-1"]);
    assert_eq!(m.count("details.info-list"), 1);
    assert_eq!(m.count("details.info-list ol li"), 2);
    m.unmount();

    let m = mount(hor_pr(), true, Lang::En).await;
    assert!(m.text("#list-party-2 summary").contains("for information only"));
    m.unmount();
}

#[wasm_bindgen_test]
async fn a_click_reports_the_choice() {
    let _watch = watch::Watch::start();
    let m = mount(district(), true, Lang::Ja).await;
    m.click("#cand-3").await;
    assert_eq!(m.picks(), [Choice::Candidate(3)]);
    // Clicking the name (inside the label) picks as well.
    m.click("label[for=cand-2] ruby").await;
    m.click("#blank").await;
    assert_eq!(m.picks(), [Choice::Candidate(3), Choice::Candidate(2), Choice::Blank]);

    m.click("#display-drum_roll").await;
    m.click("#drum-next").await;
    m.click(".drum #cand-2").await;
    assert_eq!(m.picks().last(), Some(&Choice::Candidate(2)));
    m.unmount();
}

#[wasm_bindgen_test]
async fn assigned_modes_hide_the_switches_and_the_task_is_recorded() {
    let _watch = watch::Watch::start();
    use shared::api::{Assignment, DisplayCode, DrumStart, SelectionCode};
    let a = Assignment {
        selection: SelectionCode::FreeWordSearch,
        display: DisplayCode::DrumRoll,
        drum_start: DrumStart::First,
    };
    web::research::discard();
    let m = mount_assigned(district(), true, Lang::Ja, Some(a)).await;
    assert_eq!(m.count("input[name=selection-mode]") + m.count("input[name=display-mode]"), 0, "no mode switch");
    assert_eq!(m.count("#drum-rotate"), 0);
    assert_eq!((m.count("#search"), m.count(".drum")), (1, 1), "the assigned search in the assigned drum roll");
    assert_eq!(m.shown(), ["cand-1"], "the drum starts at the first entry");
    m.type_into("#search", "zzz").await;
    assert!(m.shown().is_empty());
    m.type_into("#search", "kato").await;
    m.click("#cand-2").await;
    m.click("#blank").await;
    m.type_into("#search", "").await;
    m.click("#drum-next").await;
    m.click("#drum-next").await;
    m.click("#cand-3").await;
    web::research::to_confirm("review");
    assert!(web::research::current().unwrap().metrics("0123456789abcdef").is_none(), "another contest's confirmation");
    web::research::to_confirm("tokyo");
    let task = web::research::current().expect("a task is under way");
    let metrics = task.metrics("0123456789abcdef").unwrap();
    assert_eq!(
        (metrics.selection, metrics.display, metrics.assigned),
        (SelectionCode::FreeWordSearch, DisplayCode::DrumRoll, true)
    );
    assert_eq!(metrics.candidates, 4);
    assert_eq!(metrics.search_keystrokes, 3);
    assert_eq!(metrics.errors, 1, "the search with no match");
    assert_eq!(metrics.changes_of_mind, 2, "candidate 2, then 白票, then candidate 3");
    assert_eq!(metrics.steps, 2);
    assert_eq!((metrics.chosen_position, metrics.off_first_screen), (Some(3), Some(true)));
    assert!(metrics.time_to_first_selection_ms.is_some());
    web::research::cast_done("tokyo");
    assert_eq!(web::research::current(), None);
    m.unmount();
}

#[wasm_bindgen_test]
async fn a_rotated_drum_starts_at_the_participants_entry() {
    let _watch = watch::Watch::start();
    use shared::api::{Assignment, DisplayCode, DrumStart, SelectionCode};
    let a =
        Assignment { selection: SelectionCode::List, display: DisplayCode::DrumRoll, drum_start: DrumStart::Rotated };
    let m = mount_assigned(district(), true, Lang::Ja, Some(a)).await;
    let start = web::selection::drum_start(4, true, web::research::seed());
    assert_eq!(m.shown(), [format!("cand-{}", start + 1)]);
    assert_eq!(m.text(".drum p"), format!("{} / 4", start + 1));
    m.unmount();
}

/// The reviewer's gallery (issue 22 part 1): each of the 16 layouts × 3 sizes × 2 contrasts × 2 languages has its
/// own fragment, which reads back as the same page; a fragment that names no page is `Unknown`, never another page.
#[wasm_bindgen_test]
fn every_gallery_page_has_one_fragment_that_reads_back() {
    use web::pages::gallery::{Route, View, layouts};
    let mut seen = std::collections::BTreeSet::new();
    assert_eq!(layouts().len(), 16);
    for layout in layouts() {
        for size in ["normal", "large", "x-large"] {
            for contrast in [false, true] {
                for lang in [Lang::Ja, Lang::En] {
                    let v = View { contest: "national-pr".into(), layout, size, contrast, lang };
                    assert_eq!(Route::parse(&v.href()), Some(Route::View(v.clone())), "{}", v.href());
                    assert!(seen.insert(v.href()));
                }
            }
        }
    }
    assert_eq!(seen.len(), 16 * 12);
    assert_eq!(Route::parse("#gallery"), Some(Route::Index));
    assert_eq!(Route::parse("#accessibility"), None);
    assert_eq!(Route::parse(""), None);
    assert_eq!(Route::parse("#galleryx"), None, "another fragment that starts with the same letters");
    for bad in [
        "#gallery/national-pr/list/scroll/first/normal/standard",
        "#gallery/national-pr/list/scroll/first/normal/standard/fr",
        "#gallery/national-pr/list/sideways/first/normal/standard/ja",
        "#gallery/national-pr/list/scroll/first/huge/standard/ja",
        "#gallery/national-pr/list/scroll/first/normal/dim/ja",
        "#gallery/national-pr/list/scroll/first/normal/standard/ja/extra",
    ] {
        assert_eq!(Route::parse(bad), Some(Route::Unknown), "{bad}");
    }
}
