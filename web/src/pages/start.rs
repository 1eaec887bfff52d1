//! The top of the page: the status bar that stays in view (JST now, the countdowns, the session:
//! `components::status_bar`, with the voter's local time), then the election's name, its notices and where we are
//! in its window (R-VOTE-2); then the voting section (this component's children); then, before the login, the online
//! voting window in JST (R-VOTE-1). The ballot comes first (issue 22 part 7): the login button is on the first screen
//! whatever the dates' length, and once the voter is logged in only the name and the notices stay above the ballot.

use shared::api::ElectionSummary;
use shared::window::WindowState;
use yew::prelude::*;

use crate::components::pause_notice::pause_notice;
use crate::components::session_bar::SessionStatus;
use crate::components::status_bar::{StatusBar, window_state};
use crate::hooks::use_server_clock::{ServerClock, use_server_clock};
use crate::i18n::{self, Lang, t};
use crate::services::verifier_api;

/// Properties of [`Start`].
#[derive(Properties, PartialEq)]
pub struct Props {
    /// The display language.
    pub lang: Lang,
    /// The voter's session, while logged in (from the voting page).
    #[prop_or_default]
    pub session: Option<SessionStatus>,
    /// The voting section, shown between the election card and the voting window.
    #[prop_or_default]
    pub children: Html,
}

/// The status bar, the election card, the voting section and the voting window.
#[function_component(Start)]
pub fn start(props: &Props) -> Html {
    let lang = props.lang;
    let clock = use_server_clock();
    let election = use_state(|| None::<Result<ElectionSummary, shared::api::ApiError>>);
    {
        let election = election.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                election.set(Some(verifier_api::current_election().await));
            });
        });
    }
    let shown = matches!(&*election, Some(Ok(_)));
    use_effect_with(shown, |shown| {
        if *shown {
            crate::mark(crate::ELECTION_SHOWN_MARK);
        }
    });
    let known = match &*election {
        Some(Ok(e)) => Some(e.clone()),
        _ => None,
    };
    let bar = match &clock {
        ServerClock::Now(now) => {
            html! { <StatusBar {lang} now={*now} election={known} session={props.session.clone()} /> }
        }
        ServerClock::Measuring => html! {
            <section id="status-bar" class="status-bar"><p>{ t(lang, "時刻を確認しています…", "Checking the time…") }</p></section>
        },
        ServerClock::Failed(code) => unreachable_html(lang, code),
    };
    let compact = props.session.is_some();
    let now = match &clock {
        ServerClock::Now(now) => Some(*now),
        _ => None,
    };
    let (election_html, window_html) = match &*election {
        None => (html! { <p>{ t(lang, "選挙の情報を読み込んでいます…", "Loading the election…") }</p> }, html! {}),
        Some(Err(e)) => (unreachable_html(lang, &e.code), html! {}),
        Some(Ok(e)) => (
            election_card(lang, e, now.unwrap_or(e.server_time), compact),
            if compact {
                html! {}
            } else {
                window_card(lang, e)
            },
        ),
    };
    html! {
        <>
            { bar }
            { election_html }
            { props.children.clone() }
            { window_html }
        </>
    }
}

/// The election: its name and notices, and before the login where we are in its window.
fn election_card(lang: Lang, e: &ElectionSummary, now: chrono::DateTime<chrono::Utc>, compact: bool) -> Html {
    let name = t(lang, &e.name.ja, &e.name.en);
    let (state_class, state_text) = match window_state(e, now).0 {
        WindowState::NotYetOpen => ("status", t(lang, "投票はまだ始まっていません", "Voting has not opened yet")),
        // The window is open but voting is paused (R-VOTE-3): the status says so, not 投票できます.
        WindowState::Open if e.paused.is_some() => {
            ("status paused", t(lang, "投票を一時停止しています", "Voting is paused"))
        }
        WindowState::Open => ("status open", t(lang, "投票できます", "Voting is open")),
        WindowState::Closed => ("status closed", t(lang, "投票は終了しました", "Voting has closed")),
    };
    html! {
        <section class="card" aria-labelledby="election-h">
            <h2 id="election-h">{ name }</h2>
            if let Some(reason) = &e.paused {
                { pause_notice(lang, "paused", reason) }
            }
            if e.insecure_test_clock {
                <p class="notice" id="test-clock" role="note">{ t(lang,
                    "試験用に時計をずらして動かしています（リハーサル）。実際の選挙ではありません。",
                    "INSECURE TEST CLOCK: this server's clock is shifted for a rehearsal. Not a real election.") }</p>
            }
            if e.practice {
                <p class="notice">{ t(lang,
                    "これは練習用の模擬選挙です。実際の選挙ではありません。",
                    "This is a practice election, not a real one.") }</p>
            }
            if !compact {
                <p>
                    { t(lang, "状況: ", "Status: ") }
                    <span class={state_class} id="window-state">{ state_text }</span>
                </p>
            }
        </section>
    }
}

/// The online voting window in JST, each end on its own line (so the page does not move with the dates' length).
fn window_card(lang: Lang, e: &ElectionSummary) -> Html {
    let w = &e.window;
    html! {
        <section class="card" aria-labelledby="window-h">
            <h2 id="window-h">{ t(lang, "インターネット投票の期間", "Online voting") }</h2>
            <p id="voting-window">
                <span class="line">{ i18n::date_time_minutes(lang, w.opens_at_jst) }{ " JST" }{ t(lang, " から", " to") }</span>
                <span class="line">{ i18n::date_time_minutes(lang, w.closes_at_jst) }{ " JST" }{ t(lang, " まで", "") }</span>
            </p>
            <p class="en">{ t(lang,
                "期限はすべて日本時間です（サーバーの時計によるので、パソコンの時計がずれていても正確です）。",
                "All times are Japan Standard Time, from the server's clock: right even if your computer's clock is not.") }</p>
        </section>
    }
}

fn unreachable_html(lang: Lang, code: &str) -> Html {
    html! {
        <div class="card error" role="alert">
            <p>{ t(lang,
                "投票サーバーに接続できません。インターネット接続を確認し、しばらくしてからページを再読み込みしてください。",
                "Cannot reach the voting server. Check your internet connection, wait a moment, then reload the page.") }</p>
            <p class="en">{ format!("({code})") }</p>
        </div>
    }
}
