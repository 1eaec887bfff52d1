//! The candidate screen of one contest (R-SYS-4): the judicial review's marks here, every other contest through
//! the researcher's chooser. "Continue to confirm" seals the choice under the pinned election key, so that the
//! confirmation shows the tracker of the ballot that would be cast.

use std::rc::Rc;

use shared::api::BallotView;
use shared::election::{Choice, Contest, Rules};
use yew::prelude::*;

use crate::i18n::{Lang, t};
use crate::services::cast::{self, ElectionKey};
use crate::state::{Action, VoteState};
use shared::api::ApiError;

/// The candidate screen of the `i`-th contest with the choice so far.
pub(super) fn choose_html(
    lang: Lang,
    state: &UseReducerHandle<VoteState>,
    b: &BallotView,
    key: Option<Rc<ElectionKey>>,
    i: usize,
    choice: Option<Choice>,
) -> Html {
    let Some(contest) = b.contests.get(i).map(|cv| cv.contest.clone()) else { return html! {} };
    let pick = |c: Choice| {
        let dispatch = state.dispatcher();
        Callback::from(move |_: MouseEvent| dispatch.dispatch(Action::Choose(i, Some(c))))
    };
    let body = if let Rules::JudicialReview { judges } = &contest.rules {
        let marks = match choice {
            Some(Choice::Review(m)) => m,
            _ => 0,
        };
        let mut items: Vec<Html> = judges
            .iter()
            .enumerate()
            .map(|(j, judge)| {
                let on = {
                    let dispatch = state.dispatcher();
                    Callback::from(move |_: MouseEvent| {
                        dispatch.dispatch(Action::Choose(i, Some(Choice::Review(marks ^ (1 << j)))))
                    })
                };
                html! {
                    <li><label class="option" for={format!("judge-{j}")}>
                        <input type="checkbox" id={format!("judge-{j}")} checked={marks >> j & 1 == 1} onclick={on}
                            aria-label={format!("{}{}（{}）", t(lang, "×（罷免を可とする）: ", "× (dismiss): "), judge.name, judge.reading)} />
                        { t(lang, "×（罷免を可とする）: ", "× (dismiss): ") }<ruby lang="ja">{ &judge.name }<rt>{ &judge.reading }</rt></ruby>
                    </label></li>
                }
            })
            .collect();
        items.push(html! {
            <li><label class="option" for="review-none">
                <input type="radio" name="review" id="review-none" checked={choice == Some(Choice::Review(0))} onclick={pick(Choice::Review(0))} />
                { t(lang, "だれにも×をつけない", "Mark no judge") }
            </label></li>
        });
        items.push(html! {
            <li><label class="option" for="blank">
                <input type="radio" name="review" id="blank" checked={choice == Some(Choice::Blank)} onclick={pick(Choice::Blank)} />
                <strong>{ t(lang, "白票（投票しない）", "Blank ballot (白票)") }</strong>
            </label></li>
        });
        html! { <ul class="options">{ for items }</ul> }
    } else {
        let on_pick = {
            let dispatch = state.dispatcher();
            Callback::from(move |c: Choice| dispatch.dispatch(Action::Choose(i, Some(c))))
        };
        html! { <crate::components::research_chooser::ResearchChooser {lang} contest={contest.clone()} practice={state.practice} {choice} {on_pick} /> }
    };
    let next = choice.map(|c| {
        let (dispatch, election, contest) = (state.dispatcher(), b.election_id.clone(), contest.clone());
        Callback::from(move |_: MouseEvent| {
            crate::research::to_confirm(contest.id.as_str());
            let no_key = || ApiError { code: "ENCRYPTION".into(), message: "no election key".into() };
            let sealed = key.as_deref().ok_or_else(no_key).and_then(|k| cast::seal(k, &election, &contest, c));
            dispatch.dispatch(match sealed {
                Ok(sealed) => Action::Confirm(i, c, sealed),
                Err(e) => Action::Fail(e),
            });
        })
    });
    let back = {
        let dispatch = state.dispatcher();
        Callback::from(move |_: MouseEvent| dispatch.dispatch(Action::Contests))
    };
    html! {
        <section class="card" aria-labelledby="choose-h">
            <p class="step-no" id="choose-step">{ super::contests::step_text(lang, i, b.contests.len()) }</p>
            <h2 id="choose-h">{ t(lang, &contest.name.ja, &contest.name.en) }</h2>
            { withdrawn_notice(lang, &contest) }
            <fieldset><legend>{ t(lang, "投票する候補者・政党を一つ選んでください", "Choose one") }</legend>{ body }</fieldset>
            <button id="to-confirm" disabled={next.is_none()} onclick={next.unwrap_or_default()}>{ t(lang, "確認へ進む", "Continue to confirm") }</button>
            { " " }<button class="secondary" onclick={back}>{ t(lang, "戻る", "Back") }</button>
        </section>
    }
}

/// Names the candidates who withdrew or died during voting (R-VOTE-3): they are no longer offered, and the voter
/// is told why a name from the posted list is missing.
fn withdrawn_notice(lang: Lang, contest: &Contest) -> Html {
    if contest.withdrawn.is_empty() {
        return html! {};
    }
    let items = contest.withdrawn.iter().filter_map(|w| {
        let c = contest.selectable_candidates().into_iter().find(|c| c.number == w.candidate)?;
        let (ja, en) = w.reason.text();
        Some(html! {
            <li><ruby lang="ja">{ &c.name }<rt>{ &c.reading }</rt></ruby>{ format!("（{}）", t(lang, ja, en)) }</li>
        })
    });
    html! {
        <div class="notice" id="withdrawn" role="note">
            <p>{ t(lang,
                "次の候補者は、立候補の辞退または死亡により候補者でなくなったため、選ぶことができません。",
                "These candidates are no longer candidates (they withdrew or died), so they cannot be chosen.") }</p>
            <ul>{ for items }</ul>
        </div>
    }
}
