//! The notice that voting is paused, with the committee's reason (R-VOTE-3): on the start page and on the voter's
//! ballot, as an alert so that a screen reader announces it.

use yew::prelude::*;

use crate::i18n::{Lang, t};

/// The notice, with the element id `id`.
pub fn pause_notice(lang: Lang, id: &'static str, reason: &str) -> Html {
    html! {
        <p class="notice" id={id} role="alert">
            { t(lang, "インターネット投票は一時停止中です。理由: ", "Online voting is paused. Reason: ") }{ reason }
            { t(lang, "　再開後にもう一度お試しください。", " Please try again when it resumes.") }
        </p>
    }
}
