//! The confirmation screen (R-SYS-4, R-VOTE-6, R-VOTE-7): the choice in words — the candidate's name with its
//! reading, the party, 白票, or the judges marked for dismissal — before anything is recorded, the election key's
//! fingerprint (derived from the key by this page), the tracker of the encrypted ballot that would be cast, a way
//! back to change the choice, and the check of the encryption (the Benaloh challenge): the voter may open the
//! encrypted ballot to see that it holds the choice; that ballot is then discarded and the choice encrypted afresh.

use shared::election::{Choice, Contest};
use shared::sealed::describe;
use yew::prelude::*;

use crate::i18n::{Lang, t};
use crate::refusals::failure_text;

/// What the card helper said about a challenged ballot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelperCheck {
    /// The page asked the helper; no answer yet.
    Asking,
    /// The helper checked the ballot and its page (this URL) shows the choice it holds.
    Opened(String),
    /// The helper refused or could not be reached: the code (`BALLOT_MISMATCH`: the ballot does not hold the choice).
    Refused(String),
}

/// A ballot the voter challenged on this screen: discarded, never cast.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenged {
    /// Its tracker.
    pub tracker: String,
    /// Its opening (`shared::sealed::BallotOpening`) as JSON, for the helper's page or `ballot-check`.
    pub opening: String,
    /// What the card helper said.
    pub check: HelperCheck,
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
    /// The election key's fingerprint (hex SHA-256 of its DER), derived from the key by this page.
    pub fingerprint: String,
    /// The tracker of the encrypted ballot that "cast" signs and casts.
    pub tracker: String,
    /// The last ballot challenged on this screen, if any.
    #[prop_or_default]
    pub challenged: Option<Challenged>,
    /// The voter confirms: sign and cast the encrypted ballot.
    pub on_cast: Callback<()>,
    /// The voter goes back to change the choice.
    pub on_change: Callback<()>,
    /// The voter checks the encryption: the ballot is opened, discarded, and the choice encrypted afresh.
    pub on_challenge: Callback<()>,
}

/// The confirmation screen.
#[function_component(Confirmation)]
pub fn confirmation(props: &Props) -> Html {
    let lang = props.lang;
    let words = describe(&props.contest, &props.choice);
    let words = match lang {
        Lang::Ja => words.ja,
        Lang::En => words.en,
    };
    // Names are Japanese as filed, also on the English screens.
    let names_lang = match props.choice {
        Choice::Candidate(_) | Choice::Party(_) => "ja",
        _ => lang.code(),
    };
    let cast = props.on_cast.reform(|_: MouseEvent| ());
    let change = props.on_change.reform(|_: MouseEvent| ());
    let challenge = props.on_challenge.reform(|_: MouseEvent| ());
    // A new challenge puts its section on screen: focus goes to its heading, so that the voter (and a screen
    // reader) lands on what the button did, not on a button whose ballot has just changed.
    let heading = use_node_ref();
    {
        let heading = heading.clone();
        let challenged_tracker = props.challenged.as_ref().map(|c| c.tracker.clone());
        use_effect_with(challenged_tracker, move |tracker| {
            if tracker.is_some()
                && let Some(h) = heading.cast::<web_sys::HtmlElement>()
            {
                let _ = h.focus();
            }
        });
    }
    html! {
        <section class="card" aria-labelledby="confirm-h">
            <h2 id="confirm-h">{ t(lang, "投票内容の確認", "Confirm your ballot") }</h2>
            <p id="confirm-contest">{ match lang { Lang::Ja => &props.contest.name.ja, Lang::En => &props.contest.name.en } }</p>
            <p class="choice" id="chosen" lang={names_lang}><strong>{ words }</strong></p>
            <p class="en">{ t(lang, "この内容をこのページで暗号化しました。送った後は変更できません。", "This page has encrypted your choice. Once sent, it cannot be changed.") }</p>
            <p class="en">{ t(lang, "選挙の公開鍵の指紋: ", "Election key fingerprint: ") }<code id="fingerprint">{ &props.fingerprint }</code></p>
            <p class="en">{ t(lang, "投票する暗号文のトラッカー: ", "Tracker of the encrypted ballot to cast: ") }<code id="tracker">{ &props.tracker }</code></p>
            <p class="en" id="challenge-hint">{ t(lang,
                "「暗号化を確認する」を押すと、暗号文が選んだ内容を含んでいることを確かめられます。確かめた暗号文は中身が公開されるので捨てられ、投票には同じ選択を新しく暗号化したものを使います（何度でも確かめられます）。",
                "\"Check the encryption\" lets you verify that the encrypted ballot holds your choice. A checked ballot is opened, so it is discarded, and your choice is encrypted afresh for the cast (you may check as often as you like).") }</p>
            <div class="actions">
                <button id="cast" onclick={cast}>{ t(lang, "この内容で投票する（署名へ）", "Cast this ballot (sign)") }</button>
                <button class="secondary" id="change" onclick={change}>{ t(lang, "選び直す", "Change") }</button>
                <button class="secondary" id="challenge" onclick={challenge} aria-describedby="challenge-hint">{ t(lang, "暗号化を確認する", "Check the encryption") }</button>
            </div>
            if let Some(c) = &props.challenged {
                { challenged_html(lang, c, &heading) }
            }
        </section>
    }
}

fn challenged_html(lang: Lang, c: &Challenged, heading: &NodeRef) -> Html {
    let check = match &c.check {
        HelperCheck::Asking => html! {
            <p role="status" id="check-status">{ t(lang, "カードヘルパーに確認を依頼しています…", "Asking the card helper to check it…") }</p>
        },
        HelperCheck::Opened(url) => html! {
            <p role="status" id="check-status">
                { t(lang, "カードヘルパーの画面（別のウィンドウ）に、この暗号文が含む選択が表示されます。表示されないときは、", "The card helper's window shows the choice this ballot holds. If it did not open, ") }
                <a id="check-link" href={url.clone()} target="_blank" rel="noopener">{ t(lang, "カードヘルパーの確認画面を開いてください", "open the card helper's check page") }</a>
                { t(lang, "。", ".") }
            </p>
        },
        HelperCheck::Refused(code) if code == "BALLOT_MISMATCH" => {
            let (ja, en) = failure_text(code);
            html! { <p class="error" role="alert" id="check-warning"><strong>{ if lang == Lang::Ja { ja } else { en } }</strong></p> }
        }
        HelperCheck::Refused(code) => {
            let (ja, en) = failure_text(code);
            html! {
                <p class="notice" role="status" id="check-status">
                    { t(lang, "カードヘルパーで確認できませんでした: ", "The card helper could not check it: ") }
                    { if lang == Lang::Ja { ja } else { en } }{ format!(" ({code}) ") }
                    { t(lang, "下の JSON は ballot-check コマンドでも確かめられます。", "You can still check the JSON below with the ballot-check command.") }
                </p>
            }
        }
    };
    html! {
        <section id="challenged" aria-labelledby="challenged-h">
            <h3 id="challenged-h" tabindex="-1" ref={heading.clone()}>{ t(lang, "確認した暗号文（投票には使われません）", "The ballot you checked (never cast)") }</h3>
            <p>{ t(lang, "確認した暗号文のトラッカー: ", "Tracker of the checked ballot: ") }<code id="challenged-tracker">{ &c.tracker }</code></p>
            <p>{ t(lang,
                "この暗号文は中身（選択と暗号化に使った乱数）を公開したので捨てました。決して投票には使われません。カードヘルパーの確認画面（自動で開きます）か、独立した確認コマンド ballot-check で、下の JSON の暗号文が選んだ内容を含むことを確かめられます。上のトラッカーは、同じ選択を新しく暗号化した、投票に使う暗号文のものです。",
                "This ballot's content (the choice and the randomness that encrypted it) is now revealed, so it was discarded: it is never cast. The card helper's check page (opened for you) or the standalone ballot-check command can verify that the ballot in the JSON below holds your choice. The tracker above is that of your choice encrypted afresh, which is the one you cast.") }</p>
            { check }
            <p><label for="opening">{ t(lang, "確認した暗号文とその中身（JSON）", "The checked ballot and its opening (JSON)") }</label>
            <textarea id="opening" readonly=true rows="8" spellcheck="false" value={c.opening.clone()} /></p>
        </section>
    }
}
