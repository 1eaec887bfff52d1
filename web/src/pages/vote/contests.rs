//! The voter's contests: each one to choose in, or voted with the receipt of this page's cast.

use shared::api::BallotView;
use yew::prelude::*;

use super::receipt;
use crate::components::pause_notice::pause_notice;
use crate::i18n::{Lang, t};
use crate::state::{Action, VoteState};

/// Says which step of how many a contest is ("ステップ 1 / 2", "Step 1 of 2"): each contest is one step.
pub(super) fn step_text(lang: Lang, i: usize, n: usize) -> String {
    match lang {
        Lang::Ja => format!("ステップ {} / {n}", i + 1),
        Lang::En => format!("Step {} of {n}", i + 1),
    }
}

/// The list of contests, as numbered steps; the first one not yet voted is the current step.
pub(super) fn contests_html(lang: Lang, b: &BallotView, state: &UseReducerHandle<VoteState>) -> Html {
    let n = b.contests.len();
    let next = b.contests.iter().position(|cv| !cv.voted);
    html! {
        <section class="card" aria-labelledby="contests-h">
            <h2 id="contests-h">{ t(lang, "あなたの投票", "Your ballots") }</h2>
            if let Some(reason) = &b.paused {
                { pause_notice(lang, "ballot-paused", reason) }
            }
            <ol class="contests steps" id="steps">
            { for b.contests.iter().enumerate().map(|(i, cv)| {
                let open = {
                    let dispatch = state.dispatcher();
                    Callback::from(move |_: MouseEvent| dispatch.dispatch(Action::Choose(i, None)))
                };
                let receipt = state.receipts.iter().find(|r| r.contest == cv.contest.id);
                html! {
                    <li id={format!("contest-{}", cv.contest.id)} class={classes!(cv.voted.then_some("done"))}
                        aria-current={(next == Some(i)).then_some("step")}>
                        <span class="step-no">{ step_text(lang, i, n) }</span>{ " " }
                        <strong>{ t(lang, &cv.contest.name.ja, &cv.contest.name.en) }</strong>{ " " }
                        if cv.voted {
                            <span class="status open">{ t(lang, "投票済み", "Voted") }</span>
                            if let Some(r) = receipt {
                                { receipt::receipt_html(lang, &b.election_id, &cv.contest, r) }
                            }
                        } else {
                            <button class="choose" onclick={open}>{ t(lang, "選ぶ", "Choose") }</button>
                        }
                    </li>
                }
            }) }
            </ol>
            <p class="en">{ t(lang, "投票の終了後、公開される一覧でトラッカーが含まれていることを確認できます。", "After the close you can check that your tracker is in the published list.") }</p>
        </section>
    }
}
