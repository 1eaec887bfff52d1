//! The start screen: the election's name, its online voting window in JST, where we are in it, a countdown to
//! the close, and the live JST and local clocks (R-VOTE-1, R-VOTE-2).

use shared::api::ElectionSummary;
use shared::session::Countdown;
use shared::window::WindowState;
use yew::prelude::*;

use crate::components::jst_clock::JstClock;
use crate::components::pause_notice::pause_notice;
use crate::hooks::use_server_clock::{ServerClock, use_server_clock};
use crate::i18n::{self, Lang, t};
use crate::services::verifier_api;

/// Properties of [`Start`].
#[derive(Properties, PartialEq)]
pub struct Props {
    /// The display language.
    pub lang: Lang,
}

/// The start screen.
#[function_component(Start)]
pub fn start(props: &Props) -> Html {
    let lang = props.lang;
    let clock = use_server_clock();
    let election = use_state(|| None::<Result<ElectionSummary, verifier_api::ApiFailure>>);
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
    let clock_html = match &clock {
        ServerClock::Now(now) => html! { <JstClock {lang} now={*now} /> },
        ServerClock::Measuring => html! { <p>{ t(lang, "時刻を確認しています…", "Checking the time…") }</p> },
        ServerClock::Failed(code) => unreachable_html(lang, code),
    };
    let election_html = match (&*election, &clock) {
        (None, _) => html! { <p>{ t(lang, "選挙の情報を読み込んでいます…", "Loading the election…") }</p> },
        (Some(Err(e)), _) => unreachable_html(lang, &e.code),
        (Some(Ok(e)), ServerClock::Now(now)) => election_card(lang, e, *now),
        (Some(Ok(e)), _) => election_card(lang, e, e.server_time),
    };
    html! {
        <>
            { election_html }
            { clock_html }
        </>
    }
}

fn election_card(lang: Lang, e: &ElectionSummary, now: chrono::DateTime<chrono::Utc>) -> Html {
    let name = match lang {
        Lang::Ja => &e.name.ja,
        Lang::En => &e.name.en,
    };
    let kind = match lang {
        Lang::Ja => &e.kind_name.ja,
        Lang::En => &e.kind_name.en,
    };
    let w = &e.window;
    let state = if now < w.opens_at {
        WindowState::NotYetOpen
    } else if now < w.closes_at {
        WindowState::Open
    } else {
        WindowState::Closed
    };
    let (state_class, state_text, until) = match state {
        WindowState::NotYetOpen => (
            "status",
            t(lang, "投票はまだ始まっていません", "Voting has not opened yet"),
            Some((t(lang, "投票開始まで", "Opens in"), w.opens_at - now)),
        ),
        // The window is open but voting is paused (R-VOTE-3): the status says so, not 投票できます.
        WindowState::Open if e.paused.is_some() => (
            "status paused",
            t(lang, "投票を一時停止しています", "Voting is paused"),
            Some((t(lang, "投票終了まで", "Closes in"), w.closes_at - now)),
        ),
        WindowState::Open => (
            "status open",
            t(lang, "投票できます", "Voting is open"),
            Some((t(lang, "投票終了まで", "Closes in"), w.closes_at - now)),
        ),
        WindowState::Closed => ("status closed", t(lang, "投票は終了しました", "Voting has closed"), None),
    };
    let countdown = until.map(|(label, d)| {
        let c = Countdown::from_duration(d);
        let text = match lang {
            Lang::Ja => c.ja(),
            Lang::En => c.en(),
        };
        html! { <p>{ label }{ ": " }<strong class="clock" id="close-countdown">{ text }</strong></p> }
    });
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
            <dl class="facts">
                <dt>{ t(lang, "選挙の種類", "Election") }</dt>
                <dd>{ kind }</dd>
                <dt>{ t(lang, "インターネット投票の期間", "Online voting") }</dt>
                <dd id="voting-window">
                    { i18n::date_time_minutes(lang, w.opens_at_jst) }{ " JST" }
                    { t(lang, " から ", " to ") }
                    { i18n::date_time_minutes(lang, w.closes_at_jst) }{ " JST" }
                    { t(lang, " まで", "") }
                </dd>
                <dt>{ t(lang, "状況", "Status") }</dt>
                <dd class={state_class} id="window-state">{ state_text }</dd>
            </dl>
            { for countdown }
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
