//! The reviewer's gallery (issue 22 part 1): every layout of the candidate screen, each at its own URL, reachable
//! without a card or a login, for accessibility reviewers and UX researchers.
//!
//! `#gallery` is the index of every combination; `#gallery/<contest>/<selection>/<display>/<drum start>/<text
//! size>/<contrast>/<language>` one page, e.g. `#gallery/national-pr/initial_letter_select/drum_roll/rotated/large/
//! high/en`. The contests come from the public election definition (`GET /api/v1/elections/current/definition`,
//! which the card helper reads too). The app applies the page's language, text size and contrast while it is shown
//! ([`Route::presentation`]), and the browser's saved settings again when it is left.
//!
//! It must never be shown for a real election (it refuses with `GALLERY_NOT_PRACTICE`), cast or seal a ballot
//! (there is no key, no confirmation and no cast here), record research metrics (the chooser is given no practice
//! flag), or save the reviewer's choices as the browser's settings.

use shared::api::{Assignment, DisplayCode, DrumStart, ElectionDefinition, SelectionCode};
use shared::election::{Choice, Contest, Rules};
use yew::prelude::*;

use crate::components::chooser::Chooser;
use crate::components::settings::SIZES;
use crate::i18n::{Lang, t};
use crate::research;
use crate::selection;
use shared::api::ApiError;

use crate::services::verifier_api;

/// The fragment of the gallery's index; each page's fragment starts with it and a slash.
pub const GALLERY_HASH: &str = "#gallery";

/// The text sizes' codes, in the URL as in the display settings.
fn sizes() -> impl Iterator<Item = &'static str> {
    SIZES.iter().map(|(code, _, _)| *code)
}

/// One page of the gallery: a contest in one layout and one presentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// The contest's id.
    pub contest: String,
    /// The selection mode, the display mode and the drum roll's start.
    pub layout: Assignment,
    /// The text size's code (`normal`, `large`, `x-large`).
    pub size: &'static str,
    /// High contrast.
    pub contrast: bool,
    /// The language.
    pub lang: Lang,
}

/// Where a gallery fragment leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// The index of every combination.
    Index,
    /// One page.
    View(View),
    /// A fragment under `#gallery/` that names no page (a typo, an old link).
    Unknown,
}

impl Route {
    /// Reads a location fragment; `None` when it is not the gallery's.
    pub fn parse(hash: &str) -> Option<Route> {
        let rest = hash.strip_prefix(GALLERY_HASH)?;
        if rest.is_empty() || rest == "/" {
            return Some(Route::Index);
        }
        let parts: Vec<&str> = rest.strip_prefix('/')?.split('/').collect();
        let view = || -> Option<View> {
            let [contest, sel, disp, drum, size, contrast, lang] = parts.as_slice() else { return None };
            let layout = Assignment {
                selection: SelectionCode::from_code(sel)?,
                display: DisplayCode::from_code(disp)?,
                drum_start: DrumStart::from_code(drum)?,
            };
            Some(View {
                contest: (*contest).to_string(),
                layout,
                size: sizes().find(|s| s == size)?,
                contrast: match *contrast {
                    "standard" => false,
                    "high" => true,
                    _ => return None,
                },
                lang: match *lang {
                    "ja" => Lang::Ja,
                    "en" => Lang::En,
                    _ => return None,
                },
            })
        };
        Some(view().map_or(Route::Unknown, Route::View))
    }

    /// The language, text size and contrast the route asks for, if it is a page.
    pub fn presentation(&self) -> Option<(Lang, &'static str, bool)> {
        match self {
            Route::View(v) => Some((v.lang, v.size, v.contrast)),
            _ => None,
        }
    }
}

impl View {
    /// The page's fragment.
    pub fn href(&self) -> String {
        let l = self.layout;
        format!(
            "{GALLERY_HASH}/{}/{}/{}/{}/{}/{}/{}",
            self.contest,
            l.selection.code(),
            l.display.code(),
            l.drum_start.code(),
            self.size,
            if self.contrast { "high" } else { "standard" },
            self.lang.code()
        )
    }

    /// The same page with something changed.
    fn with(&self, change: impl FnOnce(&mut View)) -> View {
        let mut v = self.clone();
        change(&mut v);
        v
    }
}

/// Every layout of the candidate screen: 4 selection modes × 3 display modes, the drum roll with both starts (16).
pub fn layouts() -> Vec<Assignment> {
    let mut all = Vec::new();
    for &selection in SelectionCode::ALL {
        for &display in DisplayCode::ALL {
            let starts: &[DrumStart] =
                if display == DisplayCode::DrumRoll { DrumStart::ALL } else { &[DrumStart::First] };
            all.extend(starts.iter().map(|&drum_start| Assignment { selection, display, drum_start }));
        }
    }
    all
}

/// The contests the gallery shows: those with a candidate screen (the judicial review's marks have one layout).
fn contests(def: &ElectionDefinition) -> Vec<&Contest> {
    def.election.contests.iter().filter(|c| !matches!(c.rules, Rules::JudicialReview { .. })).collect()
}

fn layout_names(lang: Lang, a: Assignment) -> (&'static str, &'static str, &'static str) {
    let (sj, se) = research::selection_mode(a.selection).name();
    let (dj, de) = research::display_mode(a.display).name();
    let drum = match (a.display, a.drum_start) {
        (DisplayCode::DrumRoll, DrumStart::First) => t(lang, "先頭から", "from the first"),
        (DisplayCode::DrumRoll, DrumStart::Rotated) => t(lang, "回転した位置から", "rotated start"),
        _ => "—",
    };
    (t(lang, sj, se), t(lang, dj, de), drum)
}

fn size_name(lang: Lang, size: &str) -> &'static str {
    SIZES.iter().find(|(code, _, _)| *code == size).map_or("", |(_, ja, en)| t(lang, ja, en))
}

/// Properties of [`Gallery`].
#[derive(Properties, PartialEq)]
pub struct Props {
    /// Where the fragment leads.
    pub route: Route,
    /// The language of the page (the route's, on a page).
    pub lang: Lang,
}

/// The reviewer's gallery: the index or one page.
#[function_component(Gallery)]
pub fn gallery(props: &Props) -> Html {
    let lang = props.lang;
    let definition = use_state(|| None::<Result<ElectionDefinition, ApiError>>);
    {
        let definition = definition.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                definition.set(Some(verifier_api::definition().await));
            });
        });
    }
    let body = match &*definition {
        None => html! { <p role="status">{ t(lang, "選挙の情報を読み込んでいます…", "Loading the election…") }</p> },
        Some(Err(e)) => refusal(lang, &e.code),
        Some(Ok(def)) if !def.election.practice => refusal(lang, "GALLERY_NOT_PRACTICE"),
        Some(Ok(def)) => match &props.route {
            Route::Index => index(lang, def),
            Route::View(v) => match contests(def).into_iter().find(|c| c.id.as_str() == v.contest) {
                Some(contest) => html! { <GalleryPage view={v.clone()} contest={contest.clone()} /> },
                None => refusal(lang, "GALLERY_UNKNOWN"),
            },
            Route::Unknown => refusal(lang, "GALLERY_UNKNOWN"),
        },
    };
    html! {
        <article class="card" id="gallery" aria-labelledby="gallery-h">
            { body }
        </article>
    }
}

fn refusal(lang: Lang, code: &str) -> Html {
    let (ja, en) = crate::refusals::failure_text(code);
    html! {
        <>
            <h2 id="gallery-h">{ t(lang, "レビュー用ギャラリー", "Reviewer's gallery") }</h2>
            <p class="error" role="alert" id="gallery-refusal">{ t(lang, ja, en) }{ format!(" ({code})") }</p>
            <p><a href="#main" class="nav-link">{ t(lang, "投票のページに戻る", "Back to the voting page") }</a></p>
        </>
    }
}

/// The index: per contest, a table of the 16 layouts, each with its 12 presentations (language × contrast × size).
fn index(lang: Lang, def: &ElectionDefinition) -> Html {
    let list = contests(def);
    let pages = list.len() * layouts().len() * SIZES.len() * 4;
    let presentations = [(Lang::Ja, false), (Lang::Ja, true), (Lang::En, false), (Lang::En, true)];
    let tables = list.iter().map(|contest| {
        let name = t(lang, &contest.name.ja, &contest.name.en);
        let rows = layouts().into_iter().map(|layout| {
            let (sel, disp, drum) = layout_names(lang, layout);
            let cells = presentations.iter().map(|&(page_lang, contrast)| {
                let links = sizes().map(|size| {
                    let v = View { contest: contest.id.to_string(), layout, size, contrast, lang: page_lang };
                    html! { <a href={v.href()} class="gallery-link">{ size_name(lang, size) }</a> }
                });
                html! { <td>{ for links }</td> }
            });
            html! { <tr><th scope="row">{ sel }</th><td>{ disp }</td><td>{ drum }</td>{ for cells }</tr> }
        });
        html! {
            <section aria-label={name.to_string()}>
                <h3>{ name }</h3>
                <div class="table-scroll" role="region" tabindex="0" aria-label={format!("{name}: {}", t(lang, "表示の組み合わせ", "layouts"))}>
                <table class="gallery-index">
                    <thead><tr>
                        <th scope="col">{ t(lang, "探し方", "Selection") }</th>
                        <th scope="col">{ t(lang, "表示方法", "Display") }</th>
                        <th scope="col">{ t(lang, "ドラムの始まり", "Drum start") }</th>
                        <th scope="col">{ t(lang, "日本語・標準コントラスト", "Japanese, standard contrast") }</th>
                        <th scope="col">{ t(lang, "日本語・高コントラスト", "Japanese, high contrast") }</th>
                        <th scope="col">{ t(lang, "英語・標準コントラスト", "English, standard contrast") }</th>
                        <th scope="col">{ t(lang, "英語・高コントラスト", "English, high contrast") }</th>
                    </tr></thead>
                    <tbody>{ for rows }</tbody>
                </table>
                </div>
            </section>
        }
    });
    html! {
        <>
            <h2 id="gallery-h">{ t(lang, "レビュー用ギャラリー", "Reviewer's gallery") }</h2>
            <p class="notice" role="note" id="gallery-note">{ t(lang,
                "練習用の模擬選挙の候補者を選ぶ画面を、すべての表示の組み合わせで見られます。カードもログインも要りません。ここからは投票できません。",
                "Every layout of the candidate screen of this practice election, without a card or a login. No ballot can be cast from here.") }</p>
            <p id="gallery-count">{ format!("{}{pages}{}", t(lang, "全 ", "All "), t(lang,
                " ページ（選挙ごとに、探し方4 × 表示方法3（ドラムロールは始まり2通り）の16の表示 × 文字の大きさ3 × コントラスト2 × 言語2）。",
                " pages: per contest, 16 layouts (4 ways to find × 3 displays, the drum roll with 2 starts) × 3 text sizes × 2 contrasts × 2 languages.")) }</p>
            if def.election.contests.iter().any(|c| matches!(c.rules, Rules::JudicialReview { .. })) {
                <p id="gallery-review-note">{ t(lang,
                    "最高裁判所裁判官国民審査の画面は表示方法が一つだけのため、この一覧にはありません（投票の画面で確認できます）。",
                    "The Supreme Court review has a single layout, so it is not in this index (it is on the voting page).") }</p>
            }
            { for tables }
            <p><a href="#main" class="nav-link">{ t(lang, "投票のページに戻る", "Back to the voting page") }</a></p>
        </>
    }
}

/// Properties of [`GalleryPage`].
#[derive(Properties, PartialEq)]
struct PageProps {
    view: View,
    contest: Contest,
}

/// One page: the candidate screen in the page's layout, with links to its other presentations.
#[function_component(GalleryPage)]
fn gallery_page(props: &PageProps) -> Html {
    let v = &props.view;
    let lang = v.lang;
    let choice = use_state(|| None::<Choice>);
    {
        // A new page starts with nothing chosen.
        let choice = choice.clone();
        use_effect_with(v.clone(), move |_| choice.set(None));
    }
    let on_pick = {
        let choice = choice.clone();
        Callback::from(move |c: Choice| choice.set(Some(c)))
    };
    let (sel, disp, drum) = layout_names(lang, v.layout);
    let entries = selection::entries(&props.contest);
    let chosen = choice.map(|c| match entries.iter().find(|e| e.choice == c) {
        Some(e) => e.name.clone(),
        None => t(lang, "白票", "Blank ballot (白票)").to_string(),
    });
    let variant = |label: String, to: View, id: &str| {
        html! { <li><a href={to.href()} id={id.to_string()} lang={to.lang.code()}>{ label }</a></li> }
    };
    let sizes = sizes().filter(|&s| s != v.size).map(|size| {
        let to = v.with(|w| w.size = size);
        variant(
            format!("{}{}", t(lang, "文字の大きさ: ", "Text size: "), size_name(lang, size)),
            to,
            &format!("to-size-{size}"),
        )
    });
    let contrast_label = if v.contrast {
        t(lang, "標準コントラスト", "Standard contrast")
    } else {
        t(lang, "高コントラスト", "High contrast")
    };
    let other = v.lang.other();
    html! {
        <>
            <p><a href={GALLERY_HASH} id="gallery-index" class="nav-link">{ t(lang, "ギャラリーの一覧へ", "Gallery index") }</a></p>
            <h2 id="gallery-h">{ t(lang, "レビュー用ギャラリー: ", "Reviewer's gallery: ") }{ t(lang, &props.contest.name.ja, &props.contest.name.en) }</h2>
            <p class="notice" role="note" id="gallery-note">{ t(lang,
                "練習用の模擬選挙の画面見本です。ここからは投票できません。",
                "A sample of the candidate screen of a practice election. No ballot can be cast from here.") }</p>
            <dl class="facts" id="gallery-layout">
                <dt>{ t(lang, "探し方", "Selection") }</dt><dd>{ sel }</dd>
                <dt>{ t(lang, "表示方法", "Display") }</dt><dd>{ disp }</dd>
                <dt>{ t(lang, "ドラムの始まり", "Drum start") }</dt><dd>{ drum }</dd>
                <dt>{ t(lang, "文字の大きさ", "Text size") }</dt><dd>{ size_name(lang, v.size) }</dd>
                <dt>{ t(lang, "コントラスト", "Contrast") }</dt><dd>{ if v.contrast { t(lang, "高", "High") } else { t(lang, "標準", "Standard") } }</dd>
            </dl>
            <nav aria-label={t(lang, "この画面の他の表示", "Other presentations of this screen")}>
                <ul class="gallery-variants">
                    { variant(other.switch_label().to_string(), v.with(|w| w.lang = other), "to-lang") }
                    { variant(contrast_label.to_string(), v.with(|w| w.contrast = !w.contrast), "to-contrast") }
                    { for sizes }
                </ul>
            </nav>
            <section class="card" aria-labelledby="choose-h">
                <h3 id="choose-h">{ t(lang, &props.contest.name.ja, &props.contest.name.en) }</h3>
                <fieldset><legend>{ t(lang, "投票する候補者・政党を一つ選んでください", "Choose one") }</legend>
                    <Chooser key={v.href()} {lang} contest={props.contest.clone()} practice={false}
                        choice={*choice} {on_pick} assignment={Some(v.layout)} />
                </fieldset>
                <p id="gallery-choice" role="status">{ t(lang, "選択中: ", "Chosen: ") }{ chosen.unwrap_or_else(|| t(lang, "なし", "none").to_string()) }</p>
            </section>
        </>
    }
}
