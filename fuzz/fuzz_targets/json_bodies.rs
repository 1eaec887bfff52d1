//! Every JSON request body the verifier accepts, parsed as its route parses it (`serde_json::from_slice`), then
//! what the handler does next where that is a pure function: base64 fields and signed messages, the application
//! inside an application request, `TaskMetrics::check`, the roll-change CSV. Never panics.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use libfuzzer_sys::fuzz_target;
use shared::api::{ApplicationInput, ApplicationRequest, CastRequest, LoginRequest, TaskMetrics};
use shared::crypto::{application_message, auth_message, envelope_message};
use verifier::operator_api::SessionRequest;
use verifier::operator_routes::{Cutoff, DocumentSwitch, PostalPapers, Reason, roll_csv_text};
use verifier::registration::parse_roll_csv;

fuzz_target!(|data: &[u8]| {
    // Voter API: POST /api/v1/session and /session/extend.
    if let Ok(login) = serde_json::from_slice::<LoginRequest>(data) {
        if let Ok(nonce) = B64.decode(&login.nonce) {
            let _ = auth_message(jp_ivote_fuzz::ORIGIN, &nonce);
        }
        let _ = (B64.decode(&login.certificate), B64.decode(&login.signature));
    }
    // POST /api/v1/ballots.
    if let Ok(cast) = serde_json::from_slice::<CastRequest>(data)
        && let Ok(ciphertext) = B64.decode(&cast.ciphertext)
    {
        let _ = envelope_message(jp_ivote_fuzz::demo_election().id.as_str(), &cast.contest, &ciphertext);
    }
    // POST /api/v1/applications: the application is JSON text inside the JSON body.
    if let Ok(request) = serde_json::from_slice::<ApplicationRequest>(data) {
        let _ = serde_json::from_str::<ApplicationInput>(&request.application);
        let _ = application_message(request.application.as_bytes());
    }
    let _ = serde_json::from_slice::<ApplicationInput>(data);
    // POST /api/v1/research/metrics.
    if let Ok(metrics) = serde_json::from_slice::<TaskMetrics>(data) {
        let _ = metrics.check();
    }
    // Operator API: POST /op/v1/session, the committees' bodies, and the roll-change CSV (raw or a JSON string).
    let _ = serde_json::from_slice::<SessionRequest>(data);
    let _ = serde_json::from_slice::<Reason>(data);
    let _ = serde_json::from_slice::<DocumentSwitch>(data);
    let _ = serde_json::from_slice::<PostalPapers>(data);
    let _ = serde_json::from_slice::<Cutoff>(data);
    let _ = parse_roll_csv(&roll_csv_text(data));
});
