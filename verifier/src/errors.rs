//! Every refusal as JSON `{code, message}`: a stable code and a sentence that says what to do next.

use std::convert::Infallible;

use shared::api::ApiError;
use warp::http::StatusCode;
use warp::{Rejection, Reply};

/// A refusal with its HTTP status, code and sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable code.
    pub code: &'static str,
    /// The sentence for a person.
    pub message: String,
}

impl warp::reject::Reject for Refusal {}

impl Refusal {
    /// Makes a refusal.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal { status, code, message: message.into() }
    }

    /// The refusal for a failure on the server's side (`INTERNAL`, 500); the caller logs what failed.
    pub fn internal() -> Refusal {
        Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "Something went wrong on our side. Try again.")
    }

    /// Turns the refusal into its JSON reply.
    pub fn into_reply(self) -> warp::reply::Response {
        let body = ApiError { code: self.code.into(), message: self.message };
        warp::reply::with_status(warp::reply::json(&body), self.status).into_response()
    }
}

/// Maps every rejection to `{code, message}` (the one place where errors become replies).
pub async fn handle_rejection(err: Rejection) -> Result<warp::reply::Response, Infallible> {
    let refusal = if let Some(r) = err.find::<Refusal>() {
        r.clone()
    } else if err.is_not_found() {
        Refusal::new(StatusCode::NOT_FOUND, "NOT_FOUND", "There is no such page or API. Check the address.")
    } else if err.find::<warp::reject::MethodNotAllowed>().is_some() {
        Refusal::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "This method is not allowed here.")
    } else if err.find::<warp::reject::PayloadTooLarge>().is_some() {
        Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, "TOO_LARGE", "The request is too large. Send less data.")
    } else if let Some(e) = err.find::<warp::filters::body::BodyDeserializeError>() {
        Refusal::new(StatusCode::BAD_REQUEST, "MALFORMED", format!("The request body is not valid: {e}"))
    } else {
        tracing::error!(?err, "unhandled rejection");
        Refusal::internal()
    };
    Ok(refusal.into_reply())
}
