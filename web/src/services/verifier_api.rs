//! The verifier's JSON API under `/api/v1` (same origin). Every failure carries the verifier's code, or a code
//! of our own when the network failed, so that each has a message saying what to do.

use gloo_net::http::Request;
use serde::de::{DeserializeOwned, IgnoredAny};
use shared::api::{ApiError, ElectionSummary, TimeResponse};
use shared::jst::ClockOffset;

async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    send(Request::get(path).build()).await
}

/// Measures the offset between the server's clock and the device's (R-VOTE-1).
pub async fn measure_clock() -> Result<ClockOffset, ApiError> {
    let sent = js_sys::Date::now() as i64;
    let time: TimeResponse = get("/api/v1/time").await?;
    let received = js_sys::Date::now() as i64;
    Ok(ClockOffset::measure(sent, time.unix_ms, received))
}

/// Fetches the election as filed (contests, candidates, readings) and its public key: public, no login needed.
pub async fn definition() -> Result<shared::api::ElectionDefinition, ApiError> {
    get("/api/v1/elections/current/definition").await
}

/// Fetches the election's public facts.
pub async fn current_election() -> Result<ElectionSummary, ApiError> {
    get("/api/v1/elections/current").await
}

/// Sends a request and parses its answer as `T`, or the verifier's refusal.
async fn send<T: DeserializeOwned>(req: Result<gloo_net::http::Request, gloo_net::Error>) -> Result<T, ApiError> {
    let body = body_of(req).await?;
    serde_json::from_str(&body).map_err(|e| ApiError { code: "NETWORK".into(), message: e.to_string() })
}

/// The answer's body, or the refusal it carries. Every call shares this one non-generic step, so that each answer
/// type adds only its own parsing to the app, not another copy of the request's state machine (the `.wasm` size
/// target, README "Performance").
async fn body_of(req: Result<gloo_net::http::Request, gloo_net::Error>) -> Result<String, ApiError> {
    let network = |e: gloo_net::Error| ApiError { code: "NETWORK".into(), message: e.to_string() };
    let resp = req.map_err(network)?.send().await.map_err(network)?;
    let body = resp.text().await.map_err(network)?;
    if resp.ok() {
        return Ok(body);
    }
    Err(serde_json::from_str::<ApiError>(&body)
        .unwrap_or_else(|e| ApiError { code: format!("HTTP_{}", resp.status()), message: e.to_string() }))
}

/// Where the card helper is.
pub async fn client_config() -> Result<shared::api::ClientConfig, ApiError> {
    get("/api/v1/client-config").await
}

/// Asks for a login nonce.
pub async fn challenge() -> Result<shared::api::Challenge, ApiError> {
    send(Request::post("/api/v1/session/challenge").build()).await
}

/// Logs in with the card's certificate and signature (the cookie is set by the server).
pub async fn login(body: &shared::api::LoginRequest) -> Result<shared::api::LoginResponse, ApiError> {
    send(Request::post("/api/v1/session").json(body)).await
}

/// Extends the session by logging in again with the same card (the cookie is re-issued by the server).
pub async fn extend_session(body: &shared::api::LoginRequest) -> Result<shared::api::LoginResponse, ApiError> {
    send(Request::post("/api/v1/session/extend").json(body)).await
}

/// Reads the voter's ballot.
pub async fn ballot() -> Result<shared::api::BallotView, ApiError> {
    get("/api/v1/ballot").await
}

/// Casts one contest's encrypted, signed ballot.
pub async fn cast(body: &shared::api::CastRequest) -> Result<shared::api::CastReceipt, ApiError> {
    send(Request::post("/api/v1/ballots").json(body)).await
}

/// Submits a signed application or switch request.
pub async fn apply(body: &shared::api::ApplicationRequest) -> Result<shared::api::ApplicationStatus, ApiError> {
    send(Request::post("/api/v1/applications").json(body)).await
}

/// Sends one task's anonymous UX metrics (practice elections only; a real election refuses them). The answer's
/// body is not read ([`IgnoredAny`]: no JSON tree in the app for it).
pub async fn research_metrics(body: &shared::api::TaskMetrics) -> Result<IgnoredAny, ApiError> {
    send(Request::post("/api/v1/research/metrics").json(body)).await
}

/// Reads the researcher's usability study (practice elections only).
pub async fn study() -> Result<shared::study::Study, ApiError> {
    get("/api/v1/research/study").await
}

/// Asks for the next participant number and its layouts, in order.
pub async fn study_participant() -> Result<shared::study::StudyPlan, ApiError> {
    send(Request::post("/api/v1/research/study/participants").build()).await
}

/// Sends one layout's tasks and questionnaire (the answer's body is not read).
pub async fn study_results(body: &shared::study::LayoutResult) -> Result<IgnoredAny, ApiError> {
    send(Request::post("/api/v1/research/study/results").json(body)).await
}

/// Lists the applications made with the logged-in card.
pub async fn applications() -> Result<Vec<shared::api::ApplicationStatus>, ApiError> {
    get("/api/v1/applications").await
}
