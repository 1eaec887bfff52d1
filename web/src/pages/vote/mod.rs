//! Voting (R-VOTE-5..9): log in with the card through the helper, see one's contests, choose in each, confirm the
//! choice in words beside the tracker of the ballot this page encrypted (and check that encryption if the voter
//! wishes: the Benaloh challenge), sign with the card through the helper (the password is asked per contest,
//! R-VOTE-6, and the helper shows the choice itself), cast, and keep the receipt's tracker.
//!
//! Map:
//! - this file: the [`Vote`] component: the flow's state (`crate::state`), read once per page (the election, the
//!   client configuration, the card check), the session handed to the status bar, and one screen per step;
//! - [`login`]: the start screen with the card check, and the card login (also used to extend the session);
//! - [`contests`]: the voter's contests, each with its receipt once cast ([`receipt`]: the tracker, saved or
//!   printed);
//! - [`choose`]: the candidate screen; "continue" seals the choice;
//! - [`confirm`]: the confirmation: cast, change, or check the encryption;
//! - [`failure`]: what failed and what to do.
//!
//! The plaintext choice never leaves this page except to the card helper, which shows it to the voter; only the
//! ciphertext, the signature and the certificate go to the verifier (`crate::services::cast`).

mod choose;
mod confirm;
mod contests;
mod failure;
mod login;
mod receipt;

use yew::prelude::*;

use crate::components::session_bar::SessionStatus;
use crate::hooks::use_server_clock::{ServerClock, use_server_clock};
use crate::i18n::{Lang, t};
use crate::services::card_helper;
use shared::api::ApiError;

use crate::services::verifier_api;
use crate::state::{Action, Step, VoteState};

/// Properties of [`Vote`].
#[derive(Properties, PartialEq)]
pub struct Props {
    /// The display language.
    pub lang: Lang,
    /// Told the session whenever it changes (none once logged out), for the status bar.
    pub on_session: Callback<Option<SessionStatus>>,
}

/// Returns the card helper's origin: the one read with the client configuration, or, if that failed or has not
/// answered yet, reads the configuration now (and keeps it).
async fn helper_origin(known: Option<String>, dispatch: &UseReducerDispatcher<VoteState>) -> Result<String, ApiError> {
    if let Some(h) = known {
        return Ok(h);
    }
    let config = verifier_api::client_config().await;
    dispatch.dispatch(Action::Config(config.clone()));
    Ok(config?.card_helper_origin)
}

/// The voting flow.
#[function_component(Vote)]
pub fn vote(props: &Props) -> Html {
    let lang = props.lang;
    let state = use_reducer(VoteState::default);
    {
        let dispatch = state.dispatcher();
        use_effect_with((), move |_| {
            let practice = dispatch.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(e) = verifier_api::current_election().await {
                    practice.dispatch(Action::Practice(e.practice));
                }
            });
            // The client configuration, once per page, then the card check (R-SEC-3): is the helper there, is a
            // card in the reader, how many tries are left?
            wasm_bindgen_futures::spawn_local(async move {
                let config = verifier_api::client_config().await;
                if let Ok(c) = &config {
                    crate::research::remember_config(c.research.clone());
                }
                let helper = config.as_ref().map(|c| c.card_helper_origin.clone()).map_err(Clone::clone);
                dispatch.dispatch(Action::Config(config));
                let status = match helper {
                    Ok(h) => card_helper::status(&h).await,
                    Err(e) => Err(e),
                };
                dispatch.dispatch(Action::Card(status));
            });
        });
    }

    // The session countdown (R-VOTE-4): always shown once logged in, with the extension (WCAG 2.2.1); at the end
    // the page says so, never silently.
    let clock = use_server_clock();
    let logged_in = !matches!(state.step, Step::Idle | Step::Failed(..));
    let now = match (&clock, &state.ballot) {
        (ServerClock::Now(now), Some(_)) if logged_in => Some(*now),
        _ => None,
    };
    let expired = matches!((now, &state.ballot), (Some(now), Some(b)) if now >= b.session_expires_at);
    {
        let dispatch = state.dispatcher();
        use_effect_with(expired, move |expired| {
            if *expired {
                dispatch.dispatch(Action::Expired);
            }
        });
    }
    // The session goes to the status bar at the top of the page, which stays in view (issue 22 part 7).
    let session = match (now, &state.ballot) {
        (Some(_), Some(b)) => Some((b.session_expires_at, b.session_extensions_left)),
        _ => None,
    };
    {
        let on_session = props.on_session.clone();
        let (dispatch, known) = (state.dispatcher(), state.helper());
        let deps = (session, state.extending, state.extend_error.clone(), known.clone());
        use_effect_with(deps, move |(session, extending, extend_error, _)| {
            let status = session.map(|(expires_at, extensions_left)| SessionStatus {
                expires_at,
                extensions_left,
                extending: *extending,
                extend_error: extend_error.clone(),
                on_extend: Callback::from(move |()| {
                    let (dispatch, known) = (dispatch.clone(), known.clone());
                    dispatch.dispatch(Action::Extending);
                    wasm_bindgen_futures::spawn_local(async move {
                        let result = async {
                            let helper = helper_origin(known, &dispatch).await?;
                            verifier_api::extend_session(&login::card_login(&helper).await?).await
                        }
                        .await;
                        dispatch.dispatch(Action::Extended(result));
                    });
                }),
            });
            on_session.emit(status);
        });
    }

    let body = match (&state.step, &state.ballot, &state.key) {
        (Step::Idle, _, _) => login::idle_html(lang, &state),
        (Step::Working(ja, en), _, _) => html! {
            <section class="card" role="status" aria-live="polite"><p id="working">{ t(lang, ja, en) }</p></section>
        },
        (Step::Failed(f, mismatch), _, _) => failure::failure_html(lang, &state, f, mismatch.as_ref()),
        (Step::Ballot, Some(b), _) => contests::contests_html(lang, b, &state),
        (Step::Choose(i, choice), Some(b), key) => choose::choose_html(lang, &state, b, key.clone(), *i, *choice),
        (Step::Confirm(c), Some(b), Some(key)) => confirm::confirm_html(lang, &state, b, key.clone(), c),
        _ => html! {},
    };
    html! { <div id="vote">{ body }</div> }
}
