//! The voter's contests: each one to choose in, or voted with the receipt of this page's cast.

use shared::api::BallotView;
use yew::prelude::*;

use super::{name, receipt};
use crate::components::pause_notice::pause_notice;
use crate::i18n::{Lang, t};
use crate::state::{Action, VoteState};

/// The list of contests.
pub(super) fn contests_html(lang: Lang, b: &BallotView, state: &UseReducerHandle<VoteState>) -> Html {
    html! {
        <section class="card" aria-labelledby="contests-h">
            <h2 id="contests-h">{ t(lang, "あなたの投票", "Your ballots") }</h2>
            if let Some(reason) = &b.paused {
                { pause_notice(lang, "ballot-paused", reason) }
            }
            <ul class="contests">
            { for b.contests.iter().enumerate().map(|(i, cv)| {
                let open = {
                    let dispatch = state.dispatcher();
                    Callback::from(move |_: MouseEvent| dispatch.dispatch(Action::Choose(i, None)))
                };
                let receipt = state.receipts.iter().find(|r| r.contest == cv.contest.id);
                html! {
                    <li id={format!("contest-{}", cv.contest.id)}>
                        <strong>{ name(lang, &cv.contest.name.ja, &cv.contest.name.en) }</strong>{ " " }
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
            </ul>
            <p class="en">{ t(lang, "投票の終了後、公開される一覧でトラッカーが含まれていることを確認できます。", "After the close you can check that your tracker is in the published list.") }</p>
        </section>
    }
}
