//! A cast ballot's receipt (R-VOTE-9): the tracker this page computed from the ciphertext it signed and sent
//! (checked against the verifier's receipt), to be found in the ballot-box list published after the close; the
//! voter can save it as a text file or print the page.

use shared::api::CastReceipt;
use shared::election::{Contest, Id};
use yew::prelude::*;

use crate::i18n::{Lang, t};

/// Returns the text of a saved receipt: the election, the contest and the tracker, in Japanese and English.
pub(super) fn receipt_text(election: &Id, contest: &Contest, tracker: &str) -> String {
    format!(
        "在外選挙インターネット投票 受付の控え / Internet voting receipt\n\
         選挙 / Election: {election}\n\
         選挙区など / Contest: {} / {} ({})\n\
         トラッカー / Tracker: {tracker}\n\
         投票の終了後、公開される一覧にこのトラッカーが含まれていることを確認してください。\n\
         After the close, check that this tracker is in the published list.\n",
        contest.name.ja, contest.name.en, contest.id
    )
}

/// Returns a `data:` URL holding a text file.
pub(super) fn text_data_url(text: &str) -> String {
    format!("data:text/plain;charset=utf-8,{}", String::from(js_sys::encode_uri_component(text)))
}

/// Prints the page (the receipts are on it; the print style leaves out the buttons).
pub(super) fn print() -> Callback<MouseEvent> {
    Callback::from(|_: MouseEvent| {
        if let Some(w) = web_sys::window() {
            let _ = w.print();
        }
    })
}

/// A contest's receipt: its tracker, a link saving it as a text file, and a print button.
pub(super) fn receipt_html(lang: Lang, election: &Id, contest: &Contest, receipt: &CastReceipt) -> Html {
    let id = contest.id.as_str();
    let text = receipt_text(election, contest, &receipt.tracker);
    html! {
        <>
            <p class="tracker">{ t(lang, "受付番号（トラッカー）: ", "Receipt tracker: ") }<code>{ &receipt.tracker }</code></p>
            <p class="receipt-actions">
                <a class="button secondary receipt-save" id={format!("receipt-save-{id}")} download={format!("tracker-{id}.txt")}
                    href={text_data_url(&text)}>{ t(lang, "トラッカーを保存", "Save the tracker") }</a>
                <button class="secondary receipt-print" id={format!("receipt-print-{id}")} onclick={print()}>{ t(lang, "印刷", "Print") }</button>
            </p>
        </>
    }
}
