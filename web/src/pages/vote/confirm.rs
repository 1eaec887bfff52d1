//! The confirmation of one contest (R-VOTE-6, R-VOTE-7): cast the sealed ballot whose tracker is shown, go back to
//! change the choice, or check the encryption (the Benaloh challenge): the sealed ballot is opened and discarded,
//! the card helper's page (or `ballot-check`) shows what it holds, and the choice is sealed afresh.

use std::rc::Rc;

use shared::api::BallotView;
use yew::prelude::*;

use super::helper_origin;
use crate::components::confirmation::{Confirmation, HelperCheck};
use crate::i18n::Lang;
use crate::services::card_helper;
use crate::services::cast::{self, ElectionKey, Live};
use crate::services::verifier_api;
use crate::state::{Action, Confirming, VoteState};

/// The confirmation screen of a sealed ballot.
pub(super) fn confirm_html(
    lang: Lang,
    state: &UseReducerHandle<VoteState>,
    b: &BallotView,
    key: Rc<ElectionKey>,
    c: &Confirming,
) -> Html {
    let Some(contest) = b.contests.get(c.contest).map(|cv| cv.contest.clone()) else { return html! {} };
    let (i, choice) = (c.contest, c.choice);
    let change = {
        let (dispatch, id) = (state.dispatcher(), contest.id.clone());
        Callback::from(move |()| {
            crate::research::back_from_confirm(id.as_str());
            dispatch.dispatch(Action::Choose(i, Some(choice)))
        })
    };
    let cast = {
        let (dispatch, slot, known, key) = (state.dispatcher(), state.sealed.clone(), state.helper(), key.clone());
        Callback::from(move |()| {
            // Taken once: a second press while the first cast runs finds nothing to cast.
            let Some(sealed) = slot.take() else { return };
            let (dispatch, known, key) = (dispatch.clone(), known.clone(), key.clone());
            dispatch.dispatch(Action::Working(
                "カードヘルパーの画面で投票内容を確かめ、署名用の暗証番号（6〜16文字）を入力してください。",
                "Check your choice on the card helper's window and enter your signing password (6 to 16 characters) there.",
            ));
            wasm_bindgen_futures::spawn_local(async move {
                let helper = match helper_origin(known, &dispatch).await {
                    Ok(h) => h,
                    Err(e) => return dispatch.dispatch(Action::Fail(e)),
                };
                match cast::sign_cast(&Live { helper }, sealed).await {
                    Ok(receipt) => {
                        crate::research::cast_done(receipt.contest.as_str());
                        // The refreshed view must carry the key pinned at login.
                        let fresh = verifier_api::ballot().await.and_then(|v| key.check_view(&v).map(|()| v));
                        dispatch.dispatch(Action::Cast(receipt, fresh));
                    }
                    Err(e) => dispatch.dispatch(Action::CastFailed(e)),
                }
            });
        })
    };
    let challenge = {
        let (dispatch, slot, known) = (state.dispatcher(), state.sealed.clone(), state.helper());
        let (election, contest, key) = (b.election_id.clone(), contest.clone(), key.clone());
        Callback::from(move |()| {
            let Some(sealed) = slot.take() else { return };
            crate::research::challenged(contest.id.as_str());
            let opening = sealed.challenge();
            match cast::seal(&key, &election, &contest, choice) {
                Ok(fresh) => dispatch.dispatch(Action::Challenged(opening.clone(), fresh)),
                Err(e) => return dispatch.dispatch(Action::Fail(e)),
            }
            let (dispatch, known) = (dispatch.clone(), known.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let tracker = opening.ballot.tracker();
                let check = match helper_origin(known, &dispatch).await {
                    Ok(helper) => card_helper::check_ballot(&helper, &opening).await,
                    Err(e) => Err(e),
                };
                let check = match check {
                    Ok(started) => HelperCheck::Opened(started.check_url),
                    Err(e) => HelperCheck::Refused(e.code),
                };
                dispatch.dispatch(Action::Checked(tracker, check));
            });
        })
    };
    html! {
        <Confirmation {lang} {contest} {choice} fingerprint={key.fingerprint().to_string()} tracker={c.tracker.clone()}
            challenged={c.challenged.clone()} on_cast={cast} on_change={change} on_challenge={challenge} />
    }
}
