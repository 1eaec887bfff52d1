//! The candidate screen of one contest (R-SYS-4): entries in filing order with readings (ruby) and party, found by
//! one of four selection modes and laid out by one of three display modes, plus an explicit 白票. In practice
//! elections the voter picks the modes, or the UX researcher assigns them (the switches are then hidden); a real
//! election uses list + scroll. In a practice election each pick, step, keystroke and error is recorded for the
//! research metrics (`crate::research`).

use shared::api::{Assignment, DrumStart};
use shared::election::{Choice, Contest};
use shared::kana::ROWS;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::i18n::{Lang, t};
use crate::research;
use crate::selection::{self, DisplayMode, Entry, SelectionMode};

/// Properties of [`Chooser`].
#[derive(Properties, PartialEq)]
pub struct Props {
    /// The display language.
    pub lang: Lang,
    /// The contest.
    pub contest: Contest,
    /// A practice election: the modes can be changed.
    pub practice: bool,
    /// The choice so far.
    pub choice: Option<Choice>,
    /// Called when the voter picks.
    pub on_pick: Callback<Choice>,
    /// The UX researcher's modes for this participant (practice elections only): no mode switches are shown.
    #[prop_or_default]
    pub assignment: Option<Assignment>,
}

/// Returns the element id of an entry's radio button.
fn entry_id(choice: Choice, i: usize) -> String {
    match choice {
        Choice::Candidate(n) => format!("cand-{n}"),
        Choice::Party(n) => format!("party-{n}"),
        _ => format!("entry-{i}"),
    }
}

/// The screen's state: how entries are found and shown, and what the voter typed or picked to narrow them.
#[derive(Clone)]
struct View {
    mode: UseStateHandle<SelectionMode>,
    display: UseStateHandle<DisplayMode>,
    query: UseStateHandle<String>,
    row: UseStateHandle<Option<char>>,
    rotate: UseStateHandle<bool>,
    /// The drum roll's position in the entries shown.
    drum: UseStateHandle<usize>,
    group: UseStateHandle<Option<String>>,
}

/// The candidate screen.
#[function_component(Chooser)]
pub fn chooser(props: &Props) -> Html {
    let lang = props.lang;
    let assigned = props.assignment;
    let entries = selection::entries(&props.contest);
    let mode = use_state(|| assigned.map_or(SelectionMode::List, |a| research::selection_mode(a.selection)));
    let display = use_state(|| match assigned {
        Some(a) => research::display_mode(a.display),
        None if props.practice => DisplayMode::OneScreen,
        None => DisplayMode::Scroll,
    });
    let query = use_state(String::new);
    let row = use_state(|| None::<char>);
    let rotate = use_state(|| assigned.is_some_and(|a| a.drum_start == DrumStart::Rotated));
    // The entry the drum roll shows first: the first one, or one rotated per participant.
    let drum_origin =
        *use_state(|| if *rotate { selection::drum_start(entries.len(), true, research::seed()) } else { 0 });
    let drum = use_state(|| drum_origin);
    let group = use_state(|| None::<String>);
    let view = View { mode, display, query, row, rotate, drum, group };
    {
        // One task per contest: it starts when the candidate screen opens (practice elections only).
        let (contest, kind, practice, len) =
            (props.contest.id.to_string(), props.contest.kind(), props.practice, entries.len());
        let (sel, disp) = (research::selection_code(*view.mode), research::display_code(*view.display));
        let rule = if *view.rotate { DrumStart::Rotated } else { DrumStart::First };
        use_effect_with((), move |_| {
            if practice {
                let now = research::now_ms();
                research::begin(research::Task::new(
                    &contest,
                    kind,
                    practice,
                    assigned.is_some(),
                    sel,
                    disp,
                    rule,
                    len,
                    now,
                ));
                // Back from the confirmation the screen opens with its first modes again: the task follows it.
                research::record(|t| {
                    if t.contest == contest {
                        (t.counts.selection, t.counts.display, t.counts.drum_start) = (sel, disp, rule);
                    }
                });
            }
        });
    }
    let on_pick = {
        let (pick, entries, display) = (props.on_pick.clone(), entries.clone(), *view.display);
        Callback::from(move |c: Choice| {
            let index = entries.iter().position(|e| e.choice == c && c != Choice::Blank);
            let off = index.and_then(|i| match display {
                DisplayMode::DrumRoll => Some(i != drum_origin),
                d => research::off_first_screen(&entry_id(c, i), d),
            });
            let position = index.map(|i| u32::try_from(i + 1).unwrap_or(u32::MAX));
            research::record(|t| t.pick(c, position, off, research::now_ms()));
            pick.emit(c)
        })
    };
    let found = selection::visible(&entries, *view.mode, &view.query, *view.row);
    let shown = match &*view.group {
        Some(g) => selection::in_group(&entries, &found, g),
        None => found,
    };

    let modes = (props.practice && assigned.is_none()).then(|| mode_switches(lang, &view, entries.len()));
    let group_filter = group_filter(lang, &entries, &view);
    let finder = finder(lang, &entries, &view);
    let item = |i: usize| entry(lang, props, &entries[i], i, &on_pick);
    let list = match *view.display {
        DisplayMode::DrumRoll => drum_roll(lang, &shown, &view.drum, item),
        display => list(lang, display, &shown, item),
    };
    let blank = {
        let pick = on_pick.clone();
        Callback::from(move |_: MouseEvent| pick.emit(Choice::Blank))
    };
    html! {
        <>
            { for modes }
            { finder }
            { group_filter }
            if shown.is_empty() { <p role="status">{ t(lang, "該当する候補がありません。", "No entry matches.") }</p> }
            { list }
            <ul class="options"><li><label class="option" for="blank">
                <input type="radio" name="choice" id="blank" checked={props.choice == Some(Choice::Blank)} onclick={blank} />
                <strong>{ t(lang, "白票（だれにも投票しない）", "Blank ballot (白票)") }</strong>
            </label></li></ul>
        </>
    }
}

/// The switches of the selection and display modes, and of the drum roll's start (practice elections whose
/// modes the researcher did not assign).
fn mode_switches(lang: Lang, view: &View, len: usize) -> Html {
    let View { mode, display, query, row, rotate, drum, .. } = view;
    let sel = SelectionMode::ALL.iter().map(|m| {
        let (ja, en) = m.name();
        let id = format!("mode-{}", en.to_lowercase().replace([' ', '-'], "_"));
        let on = { let (mode, query, row) = (mode.clone(), query.clone(), row.clone()); let m = *m; Callback::from(move |_: MouseEvent| { mode.set(m); query.set(String::new()); row.set(None); research::record(|t| t.counts.selection = research::selection_code(m)); }) };
        html! { <label for={id.clone()} class="mode"><input type="radio" name="selection-mode" id={id} checked={**mode == *m} onclick={on} />{ t(lang, ja, en) }</label> }
    });
    let disp = DisplayMode::ALL.iter().map(|d| {
        let (ja, en) = d.name();
        let id = format!("display-{}", en.to_lowercase().replace(' ', "_"));
        let on = { let (display, drum) = (display.clone(), drum.clone()); let d = *d; Callback::from(move |_: MouseEvent| { display.set(d); drum.set(0); research::record(|t| t.counts.display = research::display_code(d)); }) };
        html! { <label for={id.clone()} class="mode"><input type="radio" name="display-mode" id={id} checked={**display == *d} onclick={on} />{ t(lang, ja, en) }</label> }
    });
    let on_rotate = {
        let (rotate, drum) = (rotate.clone(), drum.clone());
        Callback::from(move |e: Event| {
            let on = e.target_unchecked_into::<HtmlInputElement>().checked();
            rotate.set(on);
            research::record(|t| t.counts.drum_start = if on { DrumStart::Rotated } else { DrumStart::First });
            // A per-voter start for fairness research: from the browser's randomness, never stored.
            let mut b = [0u8; 8];
            let seed = if getrandom::fill(&mut b).is_ok() { u64::from_le_bytes(b) } else { 0 };
            drum.set(selection::drum_start(len, on, seed));
        })
    };
    html! {
        <div class="modes">
            <fieldset><legend>{ t(lang, "探し方", "Find by") }</legend>{ for sel }</fieldset>
            <fieldset><legend>{ t(lang, "表示", "Display") }</legend>{ for disp }
                <label for="drum-rotate" class="mode"><input type="checkbox" id="drum-rotate" checked={**rotate} onchange={on_rotate} />
                { t(lang, "ドラムロールの開始位置を人ごとに変える", "Rotate the drum roll's start per voter") }</label>
            </fieldset>
        </div>
    }
}

/// The list that narrows the entries to one party or to the independents.
fn group_filter(lang: Lang, entries: &[Entry], view: &View) -> Html {
    let groups = selection::groups(entries);
    let on_group = {
        let (group, drum) = (view.group.clone(), view.drum.clone());
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value();
            group.set(if v.is_empty() { None } else { Some(v) });
            drum.set(0);
        })
    };
    let group = &view.group;
    html! {
        <p><label for="group">{ t(lang, "政党・無所属で絞り込む", "Narrow to a party or independents") }</label><br />
            <select id="group" onchange={on_group}>
                <option value="" selected={group.is_none()}>{ t(lang, "すべて", "All") }</option>
                { for groups.iter().map(|g| html! { <option value={g.clone()} selected={group.as_deref() == Some(g.as_str())}>{ g }</option> }) }
            </select>
        </p>
    }
}

/// The selection mode's way of finding entries: nothing for the list, a search field, a first-kana field, or the
/// buttons of the kana rows.
fn finder(lang: Lang, entries: &[Entry], view: &View) -> Html {
    let View { mode, query, row, drum, .. } = view;
    // Typing in either text field: a keystroke for the research log, an error when it empties the list.
    let oninput = {
        let (query, drum) = (query.clone(), drum.clone());
        let (entries, before, m) = (entries.to_vec(), (*query).clone(), **mode);
        Callback::from(move |e: InputEvent| {
            let value = e.target_unchecked_into::<HtmlInputElement>().value();
            let lost = !selection::visible(&entries, m, &before, None).is_empty()
                && selection::visible(&entries, m, &value, None).is_empty();
            research::record(|t| {
                t.counts.search_keystrokes += 1;
                t.counts.errors += u32::from(lost);
            });
            query.set(value);
            drum.set(0);
        })
    };
    match **mode {
        SelectionMode::List => html! {},
        SelectionMode::Search => html! {
            <p><label for="search">{ t(lang, "名前・よみ・政党名で検索", "Search by name, reading or party") }</label><br />
                <input id="search" type="search" aria-describedby="search-hint" value={(**query).clone()} {oninput} /><br />
                <small id="search-hint" class="hint">{ t(lang,
                    "ひらがな・カタカナ・漢字のほか、よみをローマ字でも探せます（例: sato / satou / satoh）。",
                    "Type in kana or kanji, or type the reading in romaji (e.g. sato, satou or satoh).") }</small>
            </p>
        },
        SelectionMode::InitialInput => html! {
            <p><label for="initial">{ t(lang, "よみの最初の1文字（かな）", "First kana of the reading") }</label><br /><input id="initial" maxlength="2" value={(**query).clone()} {oninput} /></p>
        },
        SelectionMode::InitialSelect => html! {
            <p class="rows" role="group" aria-label={t(lang, "よみの行", "Row of the reading")}>
            { for ROWS.iter().enumerate().map(|(i, r)| {
                let none = selection::visible(entries, SelectionMode::InitialSelect, "", Some(*r)).is_empty();
                let on = { let (row, drum) = (row.clone(), drum.clone()); let r = *r; Callback::from(move |_: MouseEvent| { row.set(Some(r)); drum.set(0); research::record(|t| t.counts.errors += u32::from(none)); }) };
                html! { <button id={format!("row-{i}")} class={if **row == Some(*r) { "row selected" } else { "row" }} aria-pressed={(**row == Some(*r)).to_string()} onclick={on}>{ r.to_string() }</button> }
            }) }
            </p>
        },
    }
}

/// One entry of the list: its radio button, named with its reading and party, and a House of Representatives PR
/// party's list to read.
fn entry(lang: Lang, props: &Props, e: &Entry, i: usize, on_pick: &Callback<Choice>) -> Html {
    let id = entry_id(e.choice, i);
    let on = {
        let pick = on_pick.clone();
        let c = e.choice;
        Callback::from(move |_: MouseEvent| pick.emit(c))
    };
    let mark = if e.tokutei { t(lang, "【特定枠】", "[priority] ") } else { "" };
    // House of Representatives PR: the voter writes a party; its list is shown to read, never to choose.
    let info = selection::info_list(&props.contest, e.choice);
    let info = (!info.is_empty()).then(|| html! {
        <details class="info-list" id={format!("list-{id}")}>
            <summary>{ t(lang, "名簿を見る", "See the list") }{ " " }
                <span class="info-only">{ t(lang, "（情報のみ・選べません）", "(for information only; cannot be chosen)") }</span></summary>
            <ol lang="ja">{ for info.iter().map(|c| html! { <li><ruby>{ &c.name }<rt>{ &c.reading }</rt></ruby></li> }) }</ol>
        </details>
    });
    let indent = matches!(e.choice, Choice::Candidate(_))
        && e.group.is_some()
        && matches!(props.contest.rules, shared::election::Rules::HocPr { .. });
    // The accessible name carries the reading as well as the name as filed (never respaced), so that a screen
    // reader says the name right; the party follows.
    let spoken = match &e.group {
        Some(g) => format!("{mark}{}（{}） {g}", e.name, e.reading),
        None => format!("{mark}{}（{}）", e.name, e.reading),
    };
    html! {
        <li class={if indent { "listed" } else { "" }}><label class="option" for={id.clone()} lang="ja">
            <input type="radio" name="choice" id={id} checked={props.choice == Some(e.choice)} onclick={on} aria-label={spoken} />
            if e.tokutei { <span lang={lang.code()}>{ mark }</span> }
            <ruby class="name">{ &e.name }<rt>{ &e.reading }</rt></ruby>
            if let Some(g) = &e.group { { " " }<span class="party">{ g }</span> }
        </label>{ for info }</li>
    }
}

/// The entries shown on one screen or in a scrolled list; each wheel turn or scrolling key is a step in the
/// research log.
fn list(lang: Lang, display: DisplayMode, shown: &[usize], item: impl Fn(usize) -> Html) -> Html {
    let onwheel = Callback::from(|_: WheelEvent| research::record(|t| t.counts.steps += 1));
    if display == DisplayMode::OneScreen {
        return html! { <ul class="options one-screen" {onwheel}>{ for shown.iter().map(|i| item(*i)) }</ul> };
    }
    let onkeydown = Callback::from(|e: KeyboardEvent| {
        if matches!(e.key().as_str(), "ArrowDown" | "ArrowUp" | "PageDown" | "PageUp") {
            research::record(|t| t.counts.steps += 1);
        }
    });
    html! { <ul class="options scroll" tabindex="0" aria-label={t(lang, "候補一覧", "Entries")} {onwheel} {onkeydown}>{ for shown.iter().map(|i| item(*i)) }</ul> }
}

/// The drum roll: one entry at a time, turned by its buttons, the arrow keys or the wheel (each turn a step in the
/// research log).
fn drum_roll(lang: Lang, shown: &[usize], drum: &UseStateHandle<usize>, item: impl Fn(usize) -> Html) -> Html {
    let len = shown.len();
    let pos = (**drum).min(len.saturating_sub(1));
    let turn = |steps: i64| {
        let drum = drum.clone();
        Callback::from(move |_: MouseEvent| {
            research::record(|t| t.counts.steps += 1);
            drum.set(selection::drum_turn(pos, len, steps))
        })
    };
    let onkeydown = {
        let drum = drum.clone();
        // The arrow keys turn the drum wherever the focus is inside it (WCAG 2.1.1).
        Callback::from(move |e: KeyboardEvent| match e.key().as_str() {
            "ArrowDown" | "ArrowRight" => {
                e.prevent_default();
                research::record(|t| t.counts.steps += 1);
                drum.set(selection::drum_turn(pos, len, 1))
            }
            "ArrowUp" | "ArrowLeft" => {
                e.prevent_default();
                research::record(|t| t.counts.steps += 1);
                drum.set(selection::drum_turn(pos, len, -1))
            }
            _ => {}
        })
    };
    let onwheel = {
        let drum = drum.clone();
        Callback::from(move |e: WheelEvent| {
            research::record(|t| t.counts.steps += 1);
            drum.set(selection::drum_turn(pos, len, if e.delta_y() > 0.0 { 1 } else { -1 }))
        })
    };
    html! {
        <div class="drum" id="drum" role="group" aria-roledescription={t(lang, "ドラムロール", "drum roll")} tabindex="0"
            aria-label={t(lang, "候補者のドラムロール（上下の矢印キーで回します）", "Entries, one at a time (turn with the up and down arrow keys)")}
            {onkeydown} {onwheel}>
            <button id="drum-prev" class="secondary" onclick={turn(-1)} aria-label={t(lang, "前の候補", "Previous")}>{ "▲" }</button>
            <ul class="options drum-window" aria-live="polite">{ for shown.get(pos).map(|i| item(*i)) }</ul>
            <button id="drum-next" class="secondary" onclick={turn(1)} aria-label={t(lang, "次の候補", "Next")}>{ "▼" }</button>
            <p class="en">{ format!("{} / {}", if len == 0 { 0 } else { pos + 1 }, len) }</p>
        </div>
    }
}
