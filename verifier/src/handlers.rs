//! The answers of the voter API's endpoints.

use shared::api::{ElectionSummary, TimeResponse};
use warp::Reply;
use warp::reply::Response;

use crate::AppState;

/// Answers that the server runs.
pub fn health() -> Response {
    warp::reply::json(&serde_json::json!({ "status": "ok" })).into_response()
}

/// Answers the server's time in UTC and JST (the app's clock offset, R-VOTE-1).
pub fn time(state: &AppState) -> Response {
    warp::reply::json(&TimeResponse::at(state.clock.now())).into_response()
}

/// Answers the election's public facts: name, kind, window in UTC and JST and its state (R-VOTE-2).
pub fn current_election(state: &AppState) -> Response {
    warp::reply::json(&ElectionSummary::of(&state.election, state.clock.now())).into_response()
}
