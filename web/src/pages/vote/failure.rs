//! What failed and what to do (every code has its sentence, `crate::refusals`). A code that means the page, the
//! verifier or the key cannot be trusted is a warning: the voter is told not to continue and to report it, and is
//! not offered to start again; a receipt that names another ballot shows both trackers, to be saved or printed.

use shared::api::BallotView;
use yew::prelude::*;

use super::receipt;
use crate::i18n::{Lang, t};
use crate::refusals::{failure_text, is_tampering};
use crate::services::cast::TrackerMismatch;
use crate::state::{Action, VoteState};
use shared::api::ApiError;

fn mismatch_text(ballot: Option<&BallotView>, m: &TrackerMismatch) -> String {
    let election = ballot.map(|b| b.election_id.to_string()).unwrap_or_default();
    format!(
        "在外選挙インターネット投票: 受付の控えのトラッカーが一致しません / Internet voting: the receipt's tracker \
         does not match (TRACKER_MISMATCH)\n\
         選挙 / Election: {election}\n\
         選挙区など / Contest: {}\n\
         このページで計算したトラッカー / Tracker computed by this page: {}\n\
         受付の控えのトラッカー / Tracker on the verifier's receipt: {}\n",
        m.contest, m.computed, m.receipt
    )
}

/// The failure screen.
pub(super) fn failure_html(
    lang: Lang,
    state: &UseReducerHandle<VoteState>,
    f: &ApiError,
    mismatch: Option<&TrackerMismatch>,
) -> Html {
    let (ja, en) = failure_text(&f.code);
    let tampering = is_tampering(&f.code);
    let retry = {
        let dispatch = state.dispatcher();
        Callback::from(move |_: MouseEvent| dispatch.dispatch(Action::Restart))
    };
    let contest_name = |id: &shared::election::Id| {
        let contests = state.ballot.iter().flat_map(|b| &b.contests);
        contests.map(|cv| &cv.contest).find(|c| c.id == *id).map(|c| t(lang, &c.name.ja, &c.name.en).to_string())
    };
    html! {
        <section class="card error" role="alert">
            if tampering {
                <h2 id="failure-h">{ t(lang, "警告: 投票を続けないでください", "Warning: do not continue voting") }</h2>
            }
            <p id="failure">{ t(lang, ja, en) }</p>
            <p class="en">{ format!("({})", f.code) }</p>
            if let Some(m) = mismatch {
                <dl class="facts" id="mismatch">
                    <dt>{ t(lang, "選挙区など", "Contest") }</dt>
                    <dd>{ contest_name(&m.contest).unwrap_or_else(|| m.contest.to_string()) }</dd>
                    <dt>{ t(lang, "このページで計算したトラッカー", "Tracker computed by this page") }</dt>
                    <dd><code id="tracker-computed">{ &m.computed }</code></dd>
                    <dt>{ t(lang, "受付の控えのトラッカー", "Tracker on the verifier's receipt") }</dt>
                    <dd><code id="tracker-receipt">{ &m.receipt }</code></dd>
                </dl>
                <p class="receipt-actions">
                    <a class="button secondary" id="mismatch-save" download={format!("tracker-mismatch-{}.txt", m.contest)}
                        href={receipt::text_data_url(&mismatch_text(state.ballot.as_ref(), m))}>{ t(lang, "2つのトラッカーを保存", "Save both trackers") }</a>
                    <button class="secondary" id="mismatch-print" onclick={receipt::print()}>{ t(lang, "印刷", "Print") }</button>
                </p>
            }
            if !state.receipts.is_empty() {
                <p>{ t(lang, "この画面で受け付けられた投票のトラッカー:", "Trackers of the ballots accepted on this page:") }</p>
                <ul id="failure-receipts">
                    { for state.receipts.iter().map(|r| html! {
                        <li>{ contest_name(&r.contest).unwrap_or_else(|| r.contest.to_string()) }{ ": " }<code>{ &r.tracker }</code></li>
                    }) }
                </ul>
            }
            if !tampering {
                <button onclick={retry}>{ t(lang, "最初に戻る", "Start again") }</button>
            }
        </section>
    }
}
