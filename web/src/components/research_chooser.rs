//! The candidate screen with the UX researcher's modes (tracker issue 9): in a practice election it first learns
//! whether the researcher assigned modes (`GET /api/v1/client-config`, once per page) and this participant's draw,
//! then shows [`Chooser`] with them; a real election never asks and shows list + scroll.

use shared::api::Assignment;
use shared::election::{Choice, Contest};
use yew::prelude::*;

use crate::components::chooser::Chooser;
use crate::i18n::{Lang, t};
use crate::research;

/// Properties of [`ResearchChooser`].
#[derive(Properties, PartialEq)]
pub struct Props {
    /// The display language.
    pub lang: Lang,
    /// The contest.
    pub contest: Contest,
    /// A practice election.
    pub practice: bool,
    /// The choice so far.
    pub choice: Option<Choice>,
    /// Called when the voter picks.
    pub on_pick: Callback<Choice>,
}

/// The candidate screen, with the researcher's modes when there are any.
#[function_component(ResearchChooser)]
pub fn research_chooser(props: &Props) -> Html {
    // None: not known yet; Some(None): no assigned modes; Some(Some(a)): this participant's modes.
    let known = |config: Option<Option<shared::api::ResearchConfig>>| -> Option<Option<Assignment>> {
        config.map(|c| c.map(|c| research::assignment(&c)))
    };
    let assignment = use_state(|| if props.practice { known(research::cached_config()) } else { Some(None) });
    {
        let assignment = assignment.clone();
        use_effect_with(props.practice, move |practice| {
            if *practice && assignment.is_none() {
                wasm_bindgen_futures::spawn_local(async move {
                    let config = research::load_config().await;
                    assignment.set(Some(config.map(|c| research::assignment(&c))));
                });
            }
        });
    }
    match *assignment {
        None => html! { <p role="status" id="chooser-loading">{ t(props.lang, "読み込み中…", "Loading…") }</p> },
        Some(a) => html! {
            <Chooser lang={props.lang} contest={props.contest.clone()} practice={props.practice}
                choice={props.choice} on_pick={props.on_pick.clone()} assignment={a} />
        },
    }
}
