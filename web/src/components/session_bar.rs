//! The session countdown (R-VOTE-4), always visible while logged in (in the status bar): the time left, a warning two minutes before
//! the end in an alert live region, and the extension by logging in again with the same card (WCAG 2.2.1), as
//! often as the verifier allows. The end itself is handled by the voting page, which says so on screen.

use chrono::{DateTime, Duration, Utc};
use shared::session::{Countdown, DEFAULT_WARNING_SECONDS, SessionClock, SessionPhase};
use yew::prelude::*;

use crate::i18n::{Lang, t};

/// The session as the voting page knows it, handed to the status bar that shows it (issue 22 part 7).
#[derive(Clone, PartialEq)]
pub struct SessionStatus {
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
    /// How many more extensions the verifier allows.
    pub extensions_left: u32,
    /// An extension is under way (the card helper's page is open).
    pub extending: bool,
    /// Why the last extension failed (Japanese, English), if it did.
    pub extend_error: Option<(String, String)>,
    /// Starts an extension.
    pub on_extend: Callback<()>,
}

/// Properties of [`SessionBar`].
#[derive(Properties, PartialEq)]
pub struct Props {
    /// The display language.
    pub lang: Lang,
    /// The server's time now.
    pub now: DateTime<Utc>,
    /// The session.
    pub status: SessionStatus,
}

/// The countdown with the extension button (inside the status bar).
#[function_component(SessionBar)]
pub fn session_bar(props: &Props) -> Html {
    let lang = props.lang;
    let status = &props.status;
    let clock = SessionClock { started_at: props.now, expires_at: status.expires_at };
    let phase = clock.phase(props.now, Duration::seconds(DEFAULT_WARNING_SECONDS));
    if phase == SessionPhase::Expired {
        return html! {};
    }
    let warning = phase == SessionPhase::Warning;
    let left = Countdown::from_duration(clock.remaining(props.now));
    let extend = {
        let cb = status.on_extend.clone();
        Callback::from(move |_: MouseEvent| cb.emit(()))
    };
    html! {
        <div class={if warning { "notice session warning" } else { "session" }} id="session-bar">
            <p id="session-left">
                { t(lang, "ログインの残り時間: ", "Session time left: ") }
                <strong class="clock" role="timer" aria-label={match lang { Lang::Ja => left.ja(), Lang::En => left.en() }}>{ left.digital() }</strong>
            </p>
            // Always present, filled once at the warning: screen readers announce it once, not every second.
            <p id="session-warning" role="alert">
                if warning {
                    { t(lang, "まもなく時間切れです。投票を済ませるか、時間を延長してください。",
                        "Your session ends soon. Finish voting, or extend it.") }
                }
            </p>
            if status.extensions_left > 0 {
                <p>
                    <button id="extend-session" class="secondary" disabled={status.extending} onclick={extend}>
                        { t(lang, "時間を延長する（カードで再認証）", "Extend the time (log in again with your card)") }
                    </button>
                    <span class="en">{ format!(" {}{}", t(lang, "あと延長できる回数: ", "Extensions left: "), status.extensions_left) }</span>
                </p>
            } else {
                <p class="en" id="no-extension">{ t(lang, "これ以上延長できません。", "The time cannot be extended again.") }</p>
            }
            if status.extending {
                <p role="status" id="extending">{ t(lang, "カードヘルパーの画面で利用者証明用の暗証番号（4桁）を入力してください。", "Enter your 4-digit PIN on the card helper's window.") }</p>
            }
            if let Some((ja, en)) = &status.extend_error {
                <p class="error" role="alert" id="extend-error">{ match lang { Lang::Ja => ja.clone(), Lang::En => en.clone() } }</p>
            }
        </div>
    }
}
