//! The start screen: the card check (R-SEC-3) and the login with the card, whose PIN is typed on the card helper's
//! own page (R-VOTE-5). The login reads the ballot view and pins its election key for the session.

use shared::api::{LoginRequest, Purpose};
use shared::wire::Base64;
use yew::prelude::*;

use super::helper_origin;
use crate::i18n::{Lang, t};
use crate::refusals::failure_text;
use crate::services::card_helper;
use crate::services::cast::ElectionKey;
use shared::api::ApiError;

use crate::services::verifier_api;
use crate::state::{Action, VoteState};

/// Logs in with the card through the helper's own page (the PIN is typed there, never here): a fresh challenge,
/// signed with the authentication certificate. Used for the login and for each session extension.
pub(super) async fn card_login(helper: &str) -> Result<LoginRequest, ApiError> {
    let nonce = verifier_api::challenge().await?.nonce;
    let started = card_helper::authenticate(helper, &nonce).await?;
    let (sig, cert) = card_helper::confirm_and_wait(helper, &started).await?;
    Ok(LoginRequest { purpose: Some(Purpose::Vote), nonce, certificate: Base64(cert), signature: Base64(sig) })
}

fn card_html(lang: Lang, state: &VoteState) -> Html {
    match &state.card {
        None => html! {},
        Some(Err(e)) => {
            let (ja, en) = failure_text(&e.code);
            html! { <p class="notice" id="card-check">{ t(lang, ja, en) }</p> }
        }
        Some(Ok(s)) if !s.card_present => html! {
            <p class="notice" id="card-check">{ t(lang, "カードが読み取れません。カードリーダーにマイナンバーカードを置いてください。", "No card is read. Place your My Number card on the reader.") }</p>
        },
        Some(Ok(s)) if s.auth_tries.left == 0 => {
            let (ja, en) = failure_text("PIN_LOCKED");
            html! { <p class="error" id="card-check" role="alert">{ t(lang, ja, en) }</p> }
        }
        Some(Ok(s)) => html! {
            <p id="card-check">
                { t(lang, "カードを確認しました。暗証番号の残り回数: ", "Card found. PIN tries left: ") }
                { format!("{} / {}", s.auth_tries.left, s.auth_tries.max) }
                if s.auth_tries.left == 1 {
                    <strong class="error">{ t(lang, "（あと1回間違えるとロックされます）", " (one more mistake locks it)") }</strong>
                }
            </p>
        },
    }
}

/// The start screen with the login button.
pub(super) fn idle_html(lang: Lang, state: &UseReducerHandle<VoteState>) -> Html {
    let login = {
        let (dispatch, known) = (state.dispatcher(), state.helper());
        Callback::from(move |_: MouseEvent| {
            let (dispatch, known) = (dispatch.clone(), known.clone());
            dispatch.dispatch(Action::Working(
                "カードヘルパーの画面で暗証番号（4桁）を入力してください。",
                "Enter your 4-digit PIN on the card helper's window.",
            ));
            wasm_bindgen_futures::spawn_local(async move {
                let result: Result<_, ApiError> = async {
                    let helper = helper_origin(known, &dispatch).await?;
                    verifier_api::login(&card_login(&helper).await?).await?;
                    let view = verifier_api::ballot().await?;
                    let key = ElectionKey::from_view(&view)?;
                    Ok((view, key))
                }
                .await;
                dispatch.dispatch(match result {
                    Ok((view, key)) => Action::LoggedIn(view, key),
                    Err(e) => Action::Fail(e),
                });
            });
        })
    };
    html! {
        <section class="card" aria-labelledby="vote-h">
            <h2 id="vote-h">{ t(lang, "投票する", "Vote") }</h2>
            <p>{ t(lang, "マイナンバーカードをカードリーダーに置き、カードヘルパーを起動してからログインしてください。暗証番号はカードヘルパーの画面で入力します（この画面では入力しません）。",
                "Place your My Number card on the reader, start the card helper, then log in. You type your PIN in the card helper's window, never on this page.") }</p>
            { card_html(lang, state) }
            <button id="login" onclick={login}>{ t(lang, "マイナンバーカードでログイン", "Log in with your My Number card") }</button>
        </section>
    }
}
