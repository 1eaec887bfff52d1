//! Every JSON request body the verifier accepts, parsed as its route parses it (`serde_json::from_slice`), then
//! what the handler does next where that is a pure function: base64 fields and signed messages, the application
//! inside an application request, `TaskMetrics::check`, the roll-change CSV. Never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::api::{ApplicationInput, ApplicationRequest, CastRequest, LoginRequest, TaskMetrics};
use shared::crypto::{application_message, auth_message, envelope_message};
use shared::sealed::BallotOpening;
use verifier::operators::api::SessionRequest;
use verifier::registration::parse_roll_csv;
use verifier::registration::routes::{Cutoff, DocumentSwitch, PostalPapers, Reason, roll_csv_text};

fuzz_target!(|data: &[u8]| {
    // Voter API: POST /api/v1/session and /session/extend.
    // Base64 fields are decoded while the body is read (`shared::wire::Base64`).
    if let Ok(login) = serde_json::from_slice::<LoginRequest>(data) {
        let _ = auth_message(jp_ivote_fuzz::ORIGIN, login.nonce.as_bytes());
    }
    // POST /api/v1/ballots.
    if let Ok(cast) = serde_json::from_slice::<CastRequest>(data) {
        let election = jp_ivote_fuzz::demo_election();
        let _ = envelope_message(election.id.as_str(), cast.contest.as_str(), cast.ciphertext.as_bytes());
        let _ = cast.sealed(&election.id).tracker();
    }
    // The card helper's POST /api/v1/sign/ballot and /check/ballot: a ballot's opening, re-encrypted and compared.
    if let Ok(opening) = serde_json::from_slice::<BallotOpening>(data) {
        let _ = opening.check(jp_ivote_fuzz::demo_election(), jp_ivote_fuzz::election_key());
    }
    // POST /api/v1/applications: the application is JSON text inside the JSON body.
    if let Ok(request) = serde_json::from_slice::<ApplicationRequest>(data) {
        let _ = serde_json::from_str::<ApplicationInput>(&request.application);
        let _ = application_message(request.application.as_bytes(), request.certificate.as_bytes());
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
