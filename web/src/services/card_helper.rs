//! The card helper on the voter's PC (loopback, its own origin): the app asks it to authenticate or sign, opens
//! its confirmation page in a popup for the PIN (the voting page never sees a PIN), and polls for the result.

use gloo_net::http::Request;
use serde::de::DeserializeOwned;
use shared::api::ApiError;
use shared::helper_api::{AuthenticateRequest, HelperStatus, OperationStarted, OperationView, SignRequest, SignWhat};

use crate::services::verifier_api::ApiFailure;

fn failure(e: gloo_net::Error) -> ApiFailure {
    ApiFailure { code: "HELPER_UNREACHABLE".into(), message: e.to_string() }
}

async fn answer<T: DeserializeOwned>(resp: gloo_net::http::Response) -> Result<T, ApiFailure> {
    if resp.ok() {
        resp.json::<T>().await.map_err(failure)
    } else {
        match resp.json::<ApiError>().await {
            Ok(e) => Err(ApiFailure { code: e.code, message: e.message }),
            Err(e) => Err(failure(e)),
        }
    }
}

/// Reads the reader, card and tries left.
pub async fn status(helper: &str) -> Result<HelperStatus, ApiFailure> {
    answer(Request::get(&format!("{helper}/api/v1/status")).send().await.map_err(failure)?).await
}

/// Starts a login signature over the verifier's nonce (base64).
pub async fn authenticate(helper: &str, nonce: &str) -> Result<OperationStarted, ApiFailure> {
    let body = AuthenticateRequest { challenge: nonce.to_string() };
    let req = Request::post(&format!("{helper}/api/v1/authenticate")).json(&body).map_err(failure)?;
    answer(req.send().await.map_err(failure)?).await
}

/// Starts a signature over a digest, described to the voter.
pub async fn sign(
    helper: &str,
    digest: &[u8; 32],
    what_ja: String,
    what_en: String,
) -> Result<OperationStarted, ApiFailure> {
    let body = SignRequest { digest: hex::encode(digest), what: SignWhat { ja: what_ja, en: what_en } };
    let req = Request::post(&format!("{helper}/api/v1/sign")).json(&body).map_err(failure)?;
    answer(req.send().await.map_err(failure)?).await
}

/// Opens the helper's confirmation page in a popup and polls until the operation ends; closes the popup.
pub async fn confirm_and_wait(helper: &str, started: &OperationStarted) -> Result<(Vec<u8>, Vec<u8>), ApiFailure> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;
    let popup = web_sys::window()
        .and_then(|w| {
            // A target name per operation: a popup still closing from the last step must not be reused.
            let target = format!("card-helper-{}", started.operation_id);
            w.open_with_url_and_target_and_features(&started.confirm_url, &target, "popup,width=560,height=720").ok()
        })
        .flatten();
    let url = format!("{helper}/api/v1/operations/{}", started.operation_id);
    let result = loop {
        gloo_timers::future::TimeoutFuture::new(500).await;
        let view: OperationView = answer(Request::get(&url).send().await.map_err(failure)?).await?;
        match view {
            OperationView::Pending { .. } => continue,
            OperationView::Done { signature, certificate } => {
                let decode = |s: &str| {
                    B64.decode(s).map_err(|e| ApiFailure { code: "HELPER_ANSWER".into(), message: e.to_string() })
                };
                break Ok((decode(&signature)?, decode(&certificate)?));
            }
            OperationView::Cancelled => break Err(ApiFailure { code: "CANCELLED".into(), message: String::new() }),
            OperationView::Failed { code } => break Err(ApiFailure { code, message: String::new() }),
        }
    };
    if let Some(p) = popup {
        let _ = p.close();
    }
    result
}
