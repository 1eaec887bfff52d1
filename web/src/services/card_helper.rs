//! The card helper on the voter's PC (loopback, its own origin): the app asks it to authenticate, to sign a ballot
//! or an application, or to check a challenged ballot, and opens the helper's own page in a popup, where the voter
//! sees what is signed (or what a ballot holds) and types the PIN; the voting page never sees a PIN.
//!
//! The helper never signs a digest the page hands it (`POST /api/v1/sign` answers `RAW_DIGEST_REFUSED`): for a
//! ballot it receives the ballot with its opening, re-encrypts the choice itself, shows it in words and signs the
//! envelope digest it computed; for an application it receives the exact text that will be sent.

use gloo_net::http::Request;
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::api::ApiError;
use shared::helper_api::{
    ApplicationSignRequest, AuthenticateRequest, CheckStarted, HelperStatus, OperationStarted, OperationView,
};
use shared::sealed::BallotOpening;
use shared::wire::Base64;

fn failure(e: gloo_net::Error) -> ApiError {
    ApiError { code: "HELPER_UNREACHABLE".into(), message: e.to_string() }
}

/// Parses the helper's answer as `T`, or as the helper's refusal.
async fn answer<T: DeserializeOwned>(resp: gloo_net::http::Response) -> Result<T, ApiError> {
    let body = body_of(resp).await?;
    serde_json::from_str(&body).map_err(|e| ApiError { code: "HELPER_UNREACHABLE".into(), message: e.to_string() })
}

/// The answer's body, or the refusal it carries: one non-generic step for every answer type (see
/// `verifier_api::body_of`).
async fn body_of(resp: gloo_net::http::Response) -> Result<String, ApiError> {
    let body = resp.text().await.map_err(failure)?;
    if resp.ok() {
        return Ok(body);
    }
    serde_json::from_str::<ApiError>(&body)
        .map_err(|e| ApiError { code: "HELPER_UNREACHABLE".into(), message: e.to_string() })
        .and_then(Err)
}

async fn post<B: Serialize, T: DeserializeOwned>(helper: &str, path: &str, body: &B) -> Result<T, ApiError> {
    let req = Request::post(&format!("{helper}{path}")).json(body).map_err(failure)?;
    answer(req.send().await.map_err(failure)?).await
}

/// Opens one of the helper's own pages in a popup window named `target`, if the browser allows it.
fn open_popup(url: &str, target: &str) -> Option<web_sys::Window> {
    web_sys::window()?.open_with_url_and_target_and_features(url, target, "popup,width=560,height=720").ok()?
}

/// Reads the reader, card and tries left.
pub async fn status(helper: &str) -> Result<HelperStatus, ApiError> {
    answer(Request::get(&format!("{helper}/api/v1/status")).send().await.map_err(failure)?).await
}

/// Starts a login signature over the verifier's nonce.
pub async fn authenticate(helper: &str, nonce: &Base64) -> Result<OperationStarted, ApiError> {
    post(helper, "/api/v1/authenticate", &AuthenticateRequest { challenge: nonce.encoded() }).await
}

/// Starts the signature of a ballot (R-VOTE-6): the helper re-encrypts the opening's choice with its seed, refuses
/// a ballot that does not hold it (`BALLOT_MISMATCH`) or that was challenged (`CHALLENGED_BALLOT`), shows the
/// choice in words on its own page and signs the envelope digest it computed.
pub async fn sign_ballot(helper: &str, opening: &BallotOpening) -> Result<OperationStarted, ApiError> {
    post(helper, "/api/v1/sign/ballot", opening).await
}

/// Starts the signature of an application or a switch request (R-REG-2, R-REG-9): `application` is the exact JSON
/// text that will be sent to the verifier; the helper shows its fields and signs the digest of these bytes.
pub async fn sign_application(helper: &str, application: &str) -> Result<OperationStarted, ApiError> {
    post(helper, "/api/v1/sign/application", &ApplicationSignRequest { application: application.to_string() }).await
}

/// Asks the helper to check a challenged ballot (the Benaloh challenge, R-VOTE-7) and opens its page, which shows
/// the choice the ballot holds, in a popup of its own (one per tracker). Nothing is signed and nothing is polled.
pub async fn check_ballot(helper: &str, opening: &BallotOpening) -> Result<CheckStarted, ApiError> {
    let started: CheckStarted = post(helper, "/api/v1/check/ballot", opening).await?;
    open_popup(&started.check_url, &format!("card-helper-check-{}", started.tracker));
    Ok(started)
}

/// Opens the helper's confirmation page in a popup and polls until the operation ends; closes the popup. Returns
/// the signature and the certificate (DER).
pub async fn confirm_and_wait(helper: &str, started: &OperationStarted) -> Result<(Vec<u8>, Vec<u8>), ApiError> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;
    // A target name per operation: a popup still closing from the last step must not be reused.
    let popup = open_popup(&started.confirm_url, &format!("card-helper-{}", started.operation_id));
    let url = format!("{helper}/api/v1/operations/{}", started.operation_id);
    let result = loop {
        gloo_timers::future::TimeoutFuture::new(500).await;
        let view: OperationView = answer(Request::get(&url).send().await.map_err(failure)?).await?;
        match view {
            OperationView::Pending { .. } => continue,
            OperationView::Done { signature, certificate } => {
                let decode = |s: &str| {
                    B64.decode(s).map_err(|e| ApiError { code: "HELPER_ANSWER".into(), message: e.to_string() })
                };
                break Ok((decode(&signature)?, decode(&certificate)?));
            }
            OperationView::Cancelled => break Err(ApiError { code: "CANCELLED".into(), message: String::new() }),
            OperationView::Failed { code } => break Err(ApiError { code, message: String::new() }),
        }
    };
    if let Some(p) = popup {
        let _ = p.close();
    }
    result
}
