//! The status bar that stays in view (issue 22 part 7): Japan time now, from the server's clock (R-VOTE-1), the
//! time to the open or to the close (R-VOTE-2) and, once logged in, the session countdown with its extension
//! (R-VOTE-4, [`SessionBar`]). It sticks to the top of the window while the voter scrolls a long list, so that the
//! ballot can come first on the page; on a small screen (400 % zoom) it scrolls with the page instead, so that it
//! never takes the screen or hides the focused element (WCAG 2.4.11; `style.css`, `e2e/tests/ballot_first.rs`).
//!
//! It must never show the PC's time zone as the election's time: the voter's local time is shown after JST, named
//! as the computer's, with its offset ([`local_offset`]; summer time abroad makes JST easy to mistake).

use chrono::{DateTime, FixedOffset, Offset, Timelike, Utc};
use shared::api::ElectionSummary;
use shared::jst::to_jst;
use shared::session::Countdown;
use shared::window::WindowState;
use yew::prelude::*;

use crate::components::session_bar::{SessionBar, SessionStatus};
use crate::i18n::{self, Lang, t};

/// Returns the device's UTC offset at an instant, from the browser's time zone rules (for local time only).
pub fn local_offset(at: DateTime<Utc>) -> FixedOffset {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at.timestamp_millis() as f64));
    let minutes_west = date.get_timezone_offset() as i32;
    FixedOffset::west_opt(minutes_west * 60).unwrap_or(Utc.fix())
}

/// Where the voting window is at `now`: its state, and the time to the next edge (none once closed).
pub fn window_state(e: &ElectionSummary, now: DateTime<Utc>) -> (WindowState, Option<chrono::Duration>) {
    let w = &e.window;
    if now < w.opens_at {
        (WindowState::NotYetOpen, Some(w.opens_at - now))
    } else if now < w.closes_at {
        (WindowState::Open, Some(w.closes_at - now))
    } else {
        (WindowState::Closed, None)
    }
}

/// Properties of [`StatusBar`].
#[derive(Properties, PartialEq)]
pub struct Props {
    /// The display language.
    pub lang: Lang,
    /// The server's current time.
    pub now: DateTime<Utc>,
    /// The election, once read.
    #[prop_or_default]
    pub election: Option<ElectionSummary>,
    /// The voter's session, while logged in.
    #[prop_or_default]
    pub session: Option<SessionStatus>,
}

/// JST now, the time to the open or the close, and the session.
#[function_component(StatusBar)]
pub fn status_bar(props: &Props) -> Html {
    let lang = props.lang;
    let jst = to_jst(props.now);
    let offset = local_offset(props.now);
    let local = props.now.with_timezone(&offset);
    // The local date only where it is not Japan's (a voter in the Americas is a day behind).
    let local_text = if local.date_naive() == jst.date_naive() {
        format!("{:02}:{:02}:{:02}", local.hour(), local.minute(), local.second())
    } else {
        i18n::date_time(lang, local)
    };
    let until = props.election.as_ref().and_then(|e| {
        let (state, left) = window_state(e, props.now);
        let label = match state {
            WindowState::NotYetOpen => t(lang, "投票開始まで", "Opens in"),
            _ => t(lang, "投票終了まで", "Closes in"),
        };
        left.map(|d| (label, Countdown::from_duration(d)))
    });
    html! {
        <section id="status-bar" class="status-bar" aria-label={t(lang, "日本時間と残り時間", "Japan time and time left")}>
            <p class="bar-item">
                <span class="bar-label">{ t(lang, "日本時間", "Japan time") }</span>{ " " }
                <time class="clock jst" datetime={jst.to_rfc3339()} id="jst-now">{ i18n::date_time(lang, jst) }</time>
                { " JST" }
            </p>
            <p class="bar-item" id="local-now">
                <span class="bar-label">{ t(lang, "パソコンの時刻", "Your computer") }</span>{ " " }
                <time datetime={local.to_rfc3339()}>{ local_text }</time>
                { format!(" ({})", i18n::utc_offset(offset)) }
            </p>
            if let Some((label, c)) = until {
                <p class="bar-item">
                    <span class="bar-label">{ label }</span>{ " " }
                    <strong class="clock" id="close-countdown">{ match lang { Lang::Ja => c.ja(), Lang::En => c.en() } }</strong>
                </p>
            }
            if let Some(status) = &props.session {
                <SessionBar {lang} now={props.now} status={status.clone()} />
            }
        </section>
    }
}
