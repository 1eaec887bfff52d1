//! The confirmation screen (R-SYS-4, R-VOTE-6): the choice in words — the candidate's name with its reading, the
//! party, 白票, or the judges marked for dismissal — before anything is recorded, with the election key's
//! fingerprint and a way back to change the choice.

use shared::election::{Choice, Contest};
use yew::prelude::*;

use crate::i18n::{Lang, t};

/// Describes a choice in words (R-SYS-4: the confirmation shows what was chosen before it is recorded).
pub fn describe(lang: Lang, contest: &Contest, choice: &Choice) -> String {
    match choice {
        Choice::Blank => t(lang, "白票（だれにも投票しない）", "Blank ballot (白票, no choice)").to_string(),
        Choice::Candidate(n) => contest
            .selectable_candidates()
            .into_iter()
            .find(|c| c.number == *n)
            .map(|c| format!("{}（{}）", c.name, c.reading))
            .unwrap_or_default(),
        Choice::Party(n) => {
            contest.parties().iter().find(|p| p.number == *n).map(|p| p.name.clone()).unwrap_or_default()
        }
        Choice::Review(marks) => {
            let dismissed: Vec<&str> = contest
                .judges()
                .iter()
                .enumerate()
                .filter(|(i, _)| marks >> i & 1 == 1)
                .map(|(_, j)| j.name.as_str())
                .collect();
            if dismissed.is_empty() {
                t(lang, "×をつけた裁判官はいません", "No judge marked for dismissal").to_string()
            } else {
                format!("{}: {}", t(lang, "×（罷免を可とする）", "× (dismiss)"), dismissed.join("、"))
            }
        }
    }
}

/// Properties of [`Confirmation`].
#[derive(Properties, PartialEq)]
pub struct Props {
    /// The display language.
    pub lang: Lang,
    /// The contest.
    pub contest: Contest,
    /// The choice to confirm.
    pub choice: Choice,
    /// The election key's fingerprint (hex SHA-256 of its DER).
    pub fingerprint: String,
    /// The voter confirms: encrypt, sign and cast.
    pub on_cast: Callback<()>,
    /// The voter goes back to change the choice.
    pub on_change: Callback<()>,
}

/// The confirmation screen.
#[function_component(Confirmation)]
pub fn confirmation(props: &Props) -> Html {
    let lang = props.lang;
    let words = describe(lang, &props.contest, &props.choice);
    // Names are Japanese as filed, also on the English screens.
    let names_lang = match props.choice {
        Choice::Candidate(_) | Choice::Party(_) => "ja",
        _ => lang.code(),
    };
    let cast = props.on_cast.reform(|_: MouseEvent| ());
    let change = props.on_change.reform(|_: MouseEvent| ());
    html! {
        <section class="card" aria-labelledby="confirm-h">
            <h2 id="confirm-h">{ t(lang, "投票内容の確認", "Confirm your ballot") }</h2>
            <p id="confirm-contest">{ match lang { Lang::Ja => &props.contest.name.ja, Lang::En => &props.contest.name.en } }</p>
            <p class="choice" id="chosen" lang={names_lang}><strong>{ words }</strong></p>
            <p class="en">{ t(lang, "投票は暗号化されてから送られ、送った後は変更できません。", "Your ballot is encrypted before it is sent and cannot be changed afterwards.") }</p>
            <p class="en">{ t(lang, "選挙の公開鍵の指紋: ", "Election key fingerprint: ") }<code id="fingerprint">{ &props.fingerprint }</code></p>
            <button id="cast" onclick={cast}>{ t(lang, "この内容で投票する（署名へ）", "Cast this ballot (sign)") }</button>
            { " " }<button class="secondary" id="change" onclick={change}>{ t(lang, "選び直す", "Change") }</button>
        </section>
    }
}
