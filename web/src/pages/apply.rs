//! Applying for internet voting (申出) or switching back to paper (切替申出), R-REG-1, R-REG-2, R-REG-9: the voter
//! logs in with the card's authentication certificate, fills in the application, and signs its exact text with the
//! signing certificate through the card helper, which shows the application's fields on its own page; the verifier
//! answers a receipt number and the receipt date (R-REG-10). The voter also mails the overseas voter card to the
//! committee (R-REG-3).

use shared::api::{ApplicationInput, ApplicationRequest, ApplicationStatus, LoginRequest, Purpose};
use shared::wire::Base64;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::i18n::{Lang, t};
use crate::refusals::failure_text;
use crate::services::card_helper;
use shared::api::ApiError;

use crate::services::verifier_api;

/// Properties of [`Apply`].
#[derive(Properties, PartialEq)]
pub struct Props {
    /// The display language.
    pub lang: Lang,
}

#[derive(Clone, PartialEq)]
enum State {
    Form,
    Working(&'static str, &'static str),
    Done(Vec<ApplicationStatus>, String),
    Failed(ApiError),
}

fn value(id: &str) -> String {
    use wasm_bindgen::JsCast;
    let Some(el) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id(id)) else {
        return String::new();
    };
    if let Some(area) = el.dyn_ref::<web_sys::HtmlTextAreaElement>() {
        return area.value();
    }
    el.dyn_into::<HtmlInputElement>()
        .map(|i| if i.type_() == "checkbox" || i.type_() == "radio" { i.checked().to_string() } else { i.value() })
        .unwrap_or_default()
}

fn field(
    lang: Lang,
    id: &'static str,
    ja: &'static str,
    en: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
) -> Html {
    html! {
        <p><label for={id}>{ t(lang, ja, en) }</label><br />
        <input id={id} type={kind} autocomplete={autocomplete} required=true /></p>
    }
}

/// The application form and its result.
#[function_component(Apply)]
pub fn apply(props: &Props) -> Html {
    let lang = props.lang;
    let state = use_state(|| State::Form);
    let submit = {
        let state = state.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let state = state.clone();
            let pending = value("apply-pending") == "true";
            let birth = value("apply-birth").parse();
            let input = ApplicationInput {
                kind: if value("apply-kind-switch") == "true" { "switch".into() } else { "apply".into() },
                municipality: value("apply-municipality"),
                roll_entry: if pending { None } else { Some(value("apply-roll")) },
                registration_pending: pending,
                name: value("apply-name"),
                birth_date: birth.unwrap_or_default(),
                address_abroad: value("apply-address"),
                email: value("apply-email"),
            };
            if birth.is_err() {
                state.set(State::Failed(ApiError { code: "MALFORMED".into(), message: "birth date".into() }));
                return;
            }
            state.set(State::Working(
                "カードヘルパーの画面で利用者証明用の暗証番号（4桁）を入力してください。",
                "Enter your 4-digit PIN on the card helper's window.",
            ));
            wasm_bindgen_futures::spawn_local(async move {
                let result: Result<(Vec<ApplicationStatus>, String), ApiError> = async {
                    let helper = verifier_api::client_config().await?.card_helper_origin;
                    let nonce = verifier_api::challenge().await?.nonce;
                    let started = card_helper::authenticate(&helper, &nonce).await?;
                    let (sig, cert) = card_helper::confirm_and_wait(&helper, &started).await?;
                    let login = LoginRequest {
                        purpose: Some(Purpose::Apply),
                        nonce,
                        certificate: Base64(cert),
                        signature: Base64(sig),
                    };
                    verifier_api::login(&login).await?;
                    let text = serde_json::to_string(&input)
                        .map_err(|e| ApiError { code: "MALFORMED".into(), message: e.to_string() })?;
                    // The helper shows every field of this text on its own page and signs these exact bytes.
                    let started = card_helper::sign_application(&helper, &text).await?;
                    let (sig, cert) = card_helper::confirm_and_wait(&helper, &started).await?;
                    let body =
                        ApplicationRequest { application: text, signature: Base64(sig), certificate: Base64(cert) };
                    let status = verifier_api::apply(&body).await?;
                    Ok((verifier_api::applications().await?, status.receipt_no))
                }
                .await;
                match result {
                    Ok((all, receipt)) => state.set(State::Done(all, receipt)),
                    Err(e) => state.set(State::Failed(e)),
                }
            });
        })
    };
    let body = match &*state {
        State::Form => html! {
            <form onsubmit={submit}>
                <fieldset><legend>{ t(lang, "申出の種類", "Request") }</legend>
                    <label class="mode" for="apply-kind-apply"><input type="radio" name="apply-kind" id="apply-kind-apply" checked=true />{ t(lang, "インターネット投票の申出", "Apply for internet voting") }</label>
                    <label class="mode" for="apply-kind-switch"><input type="radio" name="apply-kind" id="apply-kind-switch" />{ t(lang, "紙の投票への切替申出", "Switch back to paper voting") }</label>
                </fieldset>
                { field(lang, "apply-municipality", "名簿登録地の市区町村コード", "Municipality code of your roll entry", "text", "off") }
                <p><label for="apply-roll">{ t(lang, "在外選挙人名簿の登録番号", "Roll entry number") }</label><br /><input id="apply-roll" type="text" /></p>
                <p><label class="mode" for="apply-pending"><input type="checkbox" id="apply-pending" />{ t(lang, "名簿登録の申請中です", "My roll registration is pending") }</label></p>
                { field(lang, "apply-name", "氏名（カードの署名用電子証明書のとおり）", "Name (as in your card's signing certificate)", "text", "name") }
                { field(lang, "apply-birth", "生年月日", "Birth date", "date", "bday") }
                // A postal address has lines: `street-address` belongs on a textarea (HTML's autofill rules).
                <p><label for="apply-address">{ t(lang, "海外の住所", "Address abroad") }</label><br />
                <textarea id="apply-address" rows="3" autocomplete="street-address" required=true /></p>
                { field(lang, "apply-email", "通知を受け取るメールアドレス", "E-mail for notices", "email", "email") }
                <p class="en">{ t(lang, "送信すると、カードで申出に電子署名します。あわせて在外選挙人証を市区町村選挙管理委員会へ郵送してください。両方が届いた時点で申出が成立します。",
                    "Sending signs the application with your card. Also mail your overseas voter card to the municipal election committee: the application is established when both have arrived.") }</p>
                <button id="apply-submit" type="submit">{ t(lang, "カードで署名して送信", "Sign with the card and send") }</button>
            </form>
        },
        State::Working(ja, en) => {
            html! { <p role="status" aria-live="polite">{ if lang == Lang::Ja { *ja } else { *en } }</p> }
        }
        State::Failed(e) => {
            let (ja, en) = failure_text(&e.code);
            let back = {
                let state = state.clone();
                Callback::from(move |_: MouseEvent| state.set(State::Form))
            };
            html! { <div role="alert" class="error"><p id="apply-failure">{ if lang == Lang::Ja { ja } else { en } }{ format!(" ({})", e.code) }</p><button onclick={back}>{ t(lang, "戻る", "Back") }</button></div> }
        }
        State::Done(all, receipt) => html! {
            <div role="status">
                <p id="apply-receipt">{ t(lang, "受け付けました。受付番号: ", "Received. Receipt number: ") }<strong>{ receipt }</strong></p>
                <p>{ t(lang, "在外選挙人証を郵送してください。結果はメールでお知らせします。", "Please mail your overseas voter card. You will be told the result by e-mail.") }</p>
                <h3>{ t(lang, "あなたの申出", "Your requests") }</h3>
                <ul id="apply-list">{ for all.iter().map(|a| html! {
                    <li>{ format!("{} — {} — {} ({})", a.receipt_no, a.kind, a.status, a.receipt_date) }</li>
                }) }</ul>
            </div>
        },
    };
    html! {
        <section class="card" aria-labelledby="apply-h">
            <h2 id="apply-h">{ t(lang, "インターネット投票の申出・切替申出", "Apply for internet voting, or switch back to paper") }</h2>
            { body }
        </section>
    }
}
