//! Every refusal as JSON `{code, message}`: a stable code and a sentence that says what to do next.

use std::convert::Infallible;

use shared::api::ApiError;
use shared::contract::{Contract, Routing};
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::http::header::{ALLOW, HeaderValue};
use warp::{Filter, Rejection, Reply};

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

/// A source over its rate (`crate::voting::limits`): 429 `RATE_LIMITED` with `Retry-After` in seconds.
#[derive(Debug)]
pub struct RateLimited(pub u64);

impl warp::reject::Reject for RateLimited {}

/// A request under an API's prefix that no operation of its contract answers.
#[derive(Debug)]
pub enum Unmatched {
    /// No operation has this path.
    Path,
    /// The path is an operation's; these methods are allowed on it.
    Method(Vec<&'static str>),
}

impl warp::reject::Reject for Unmatched {}

/// Rejects every request with what `contract` says of its method and path; the refusals of a route that matched
/// are found first by [`handle_rejection`], so this decides only when no route did.
pub fn unmatched(contract: &'static Contract) -> BoxedFilter<(warp::reply::Response,)> {
    warp::method()
        .and(warp::path::full())
        .and_then(move |method: warp::http::Method, path: warp::path::FullPath| async move {
            Err::<warp::reply::Response, _>(match contract.allowed(method.as_str(), path.as_str()) {
                Routing::Served | Routing::Elsewhere => warp::reject::not_found(),
                Routing::WrongMethod(allow) => warp::reject::custom(Unmatched::Method(allow)),
                Routing::Unknown => warp::reject::custom(Unmatched::Path),
            })
        })
        .boxed()
}

/// Maps every rejection to `{code, message}` (the one place where errors become replies).
pub async fn handle_rejection(err: Rejection) -> Result<warp::reply::Response, Infallible> {
    let refusal = if let Some(RateLimited(seconds)) = err.find::<RateLimited>() {
        let mut r = Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!("Too many requests from your network. Wait {seconds} seconds and try again."),
        )
        .into_reply();
        r.headers_mut().insert(warp::http::header::RETRY_AFTER, HeaderValue::from(*seconds));
        return Ok(r);
    } else if let Some(r) = err.find::<Refusal>() {
        r.clone()
    } else if err.find::<warp::reject::PayloadTooLarge>().is_some() {
        Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, "TOO_LARGE", "The request is too large. Send less data.")
    } else if err.find::<warp::reject::LengthRequired>().is_some() {
        Refusal::new(StatusCode::LENGTH_REQUIRED, "LENGTH_REQUIRED", "Send the body with a Content-Length header.")
    } else if let Some(e) = err.find::<warp::filters::body::BodyDeserializeError>() {
        Refusal::new(StatusCode::BAD_REQUEST, "MALFORMED", format!("The request body is not valid: {e}"))
    } else if let Some(e) = err.find::<warp::reject::InvalidHeader>() {
        Refusal::new(StatusCode::BAD_REQUEST, "MALFORMED", format!("A header is not valid: {e}. Check the request."))
    } else if let Some(e) = err.find::<warp::reject::MissingHeader>() {
        Refusal::new(StatusCode::BAD_REQUEST, "MALFORMED", format!("A header is missing: {e}. Check the request."))
    } else if let Some(e) = err.find::<warp::reject::InvalidQuery>() {
        Refusal::new(StatusCode::BAD_REQUEST, "MALFORMED", format!("The query is not valid: {e}. Check the address."))
    } else if let Some(Unmatched::Method(allow)) = err.find::<Unmatched>() {
        let mut r = Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            format!("This method is not allowed here. Use {}.", allow.join(" or ")),
        )
        .into_reply();
        if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
            r.headers_mut().insert(ALLOW, v);
        }
        return Ok(r);
    } else if err.find::<Unmatched>().is_some() || err.is_not_found() {
        Refusal::new(StatusCode::NOT_FOUND, "NOT_FOUND", "There is no such page or API. Check the address.")
    } else if err.find::<warp::reject::MethodNotAllowed>().is_some() {
        Refusal::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "This method is not allowed here.")
    } else {
        tracing::error!(?err, "unhandled rejection");
        Refusal::internal()
    };
    Ok(refusal.into_reply())
}
