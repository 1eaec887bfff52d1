//! The answers of the voter API's endpoints.
//!
//! Map: this file answers the public facts (health, time, the election and its definition); [`session`] the
//! login challenge, login, extension and logout (R-VOTE-4, R-VOTE-5); [`ballot`] the ballot, the cast and what is
//! published after it (R-VOTE-6..9); [`registration`] the applicant's own applications (R-REG-1, R-REG-2,
//! R-REG-9); [`refusals`] how certificate, session, storage and registration errors become `{code, message}`.

pub mod ballot;
pub mod refusals;
pub mod registration;
pub mod session;

pub use ballot::{audit_checkpoints, ballot, cast, published_ballot_box, write_cast_refusals};
pub use refusals::{reg_refusal, storage_refusal};
pub use registration::{own_applications, submit_application};
pub use session::{challenge, extend_session, login, logout, write_login_failures};

use shared::api::{ElectionDefinition, ElectionSummary, TimeResponse};
use warp::Reply;
use warp::reply::Response;

use crate::AppState;

/// Answers that the server runs.
pub fn health() -> Response {
    warp::reply::json(&shared::api::Health { status: "ok".into() }).into_response()
}

/// Answers the server's time in UTC and JST (the app's clock offset, R-VOTE-1).
pub fn time(state: &AppState) -> Response {
    warp::reply::json(&TimeResponse::at(state.clock.now())).into_response()
}

/// Answers the election's public facts: name, kind, window in UTC and JST and its state (R-VOTE-2).
pub fn current_election(state: &AppState) -> Response {
    let paused = state.db.pause_state().ok().flatten().map(|(reason, _)| reason);
    let mut summary = ElectionSummary::of(&state.election.get(), state.clock.now(), paused);
    summary.insecure_test_clock = state.clock.test_offset().is_some();
    warp::reply::json(&summary).into_response()
}

/// `GET /api/v1/elections/current/definition`: the election as filed and its public key, for the card helper,
/// which shows a ballot's choice in words from this, never from the page (issue 18).
pub fn election_definition(state: &AppState) -> Response {
    let body = ElectionDefinition {
        election: (*state.election.get()).clone(),
        public_key: state.key.spki_der().to_vec().into(),
        key_fingerprint: state.key.fingerprint(),
    };
    warp::reply::json(&body).into_response()
}

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "vsession";
