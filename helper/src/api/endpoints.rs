//! The loopback API's endpoints under `/api/v1`, one filter each, documented by its HTTP line; every one but the
//! preflight answers only an allowed `Origin`.

use std::convert::Infallible;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use shared::helper_api::{
    ApplicationSignRequest, AuthenticateRequest, CheckStarted, HelperStatus, OperationStarted, OperationView, TriesView,
};
use shared::sealed::BallotOpening;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::refusals::{card_refusal, internal, op_refusal, origin_refusal, refuse, refused, unmatched};
use super::{Helper, MAX_BODY};
use crate::backend::Tries;
use crate::operations::{Request, State};

/// The API's routes, tried in this order, then [`unmatched`] for a 404 or a 405.
pub(super) fn api_routes(h: Arc<Helper>) -> BoxedFilter<(Response,)> {
    preflight(h.clone())
        .or(status(h.clone()))
        .unify()
        .or(authenticate(h.clone()))
        .unify()
        .or(sign_ballot(h.clone()))
        .unify()
        .or(sign_application(h.clone()))
        .unify()
        .or(check_ballot(h.clone()))
        .unify()
        .or(raw_digest(h.clone()))
        .unify()
        .or(poll(h.clone()))
        .unify()
        .or(cancel(h))
        .unify()
        .or(unmatched())
        .unify()
        .boxed()
}

/// Hands each request the helper's state.
fn with(h: Arc<Helper>) -> impl Filter<Extract = (Arc<Helper>,), Error = Infallible> + Clone {
    warp::any().map(move || h.clone())
}

/// `/api/v1/…` asked by an allowed origin, which it extracts; any other origin, or none, is refused.
fn api(h: Arc<Helper>) -> impl Filter<Extract = (String,), Error = Rejection> + Clone {
    let allowed_origin = warp::header::optional::<String>("origin").and(with(h)).and_then(
        |origin: Option<String>, h: Arc<Helper>| async move {
            match origin {
                Some(o) if h.origin_allowed(&o) => Ok(o),
                _ => Err(origin_refusal()),
            }
        },
    );
    warp::path("api").and(warp::path("v1")).and(allowed_origin)
}

fn json_body<T: serde::de::DeserializeOwned + Send>() -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::body::content_length_limit(MAX_BODY).and(warp::body::json())
}

/// `OPTIONS /api/…`: the CORS preflight, for an allowed origin only.
fn preflight(h: Arc<Helper>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path("api").and(warp::options()).and(warp::header::optional::<String>("origin")).and(with(h)).and_then(
        |origin: Option<String>, h: Arc<Helper>| async move {
            match origin {
                Some(o) if h.origin_allowed(&o) => {
                    Ok(warp::reply::with_status("", StatusCode::NO_CONTENT).into_response())
                }
                _ => Err(origin_refusal()),
            }
        },
    )
}

/// `GET /api/v1/status`
fn status(h: Arc<Helper>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    api(h.clone()).and(warp::path!("status")).and(warp::get()).and(with(h)).and_then(
        |_origin: String, h: Arc<Helper>| async move {
            let card = h.card.clone();
            let s =
                tokio::task::spawn_blocking(move || card.status()).await.map_err(internal)?.map_err(card_refusal)?;
            let tries = |t: Tries| TriesView { left: t.left, max: t.max };
            Ok::<_, Rejection>(
                warp::reply::json(&HelperStatus {
                    backend: s.backend.into(),
                    reader: s.reader,
                    card_present: s.card_present,
                    auth_certificate: s.auth_certificate.map(|c| B64.encode(c)),
                    signing_certificate: s.signing_certificate.map(|c| B64.encode(c)),
                    auth_tries: tries(s.auth_tries),
                    sign_tries: tries(s.sign_tries),
                })
                .into_response(),
            )
        },
    )
}

/// `POST /api/v1/authenticate`
fn authenticate(h: Arc<Helper>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    api(h.clone())
        .and(warp::path!("authenticate"))
        .and(warp::post())
        .and(warp::body::content_length_limit(MAX_BODY))
        .and(warp::body::json())
        .and(with(h))
        .and_then(|origin: String, req: AuthenticateRequest, h: Arc<Helper>| async move {
            let challenge =
                B64.decode(&req.challenge).ok().filter(|c| (16..=128).contains(&c.len())).ok_or_else(|| {
                    refuse(StatusCode::BAD_REQUEST, "MALFORMED", "The challenge must be 16 to 128 bytes in base64.")
                })?;
            let digest = shared::crypto::auth_digest(&origin, &challenge);
            started(&h, &origin, Request::Authenticate { digest })
        })
}

/// `POST /api/v1/sign`: a raw digest, which the helper never signs.
fn raw_digest(h: Arc<Helper>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    api(h).and(warp::path!("sign")).and(warp::post()).and_then(|_origin: String| async move {
        Err::<Response, _>(refuse(
            StatusCode::GONE,
            "RAW_DIGEST_REFUSED",
            "The card helper signs only what it computes and shows itself: send a ballot with its opening \
             (POST /api/v1/sign/ballot) or an application (POST /api/v1/sign/application).",
        ))
    })
}

/// `POST /api/v1/sign/ballot`
fn sign_ballot(h: Arc<Helper>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    api(h.clone()).and(warp::path!("sign" / "ballot")).and(warp::post()).and(json_body()).and(with(h)).and_then(
        |origin: String, opening: BallotOpening, h: Arc<Helper>| async move {
            let checked = checked_ballot(&h, &origin, &opening).await?;
            if h.challenged.contains(&checked.tracker) {
                return Err(refuse(
                    StatusCode::CONFLICT,
                    "CHALLENGED_BALLOT",
                    "This encrypted ballot was opened for a check, so it can never be cast. Encrypt your choice afresh.",
                ));
            }
            started(&h, &origin, Request::Sign { digest: checked.digest, shown: checked.shown })
        },
    )
}

/// `POST /api/v1/sign/application`
fn sign_application(h: Arc<Helper>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    api(h.clone()).and(warp::path!("sign" / "application")).and(warp::post()).and(json_body()).and(with(h)).and_then(
        |origin: String, req: ApplicationSignRequest, h: Arc<Helper>| async move {
            // The signature binds the authentication certificate of the card in the reader (one card, one
            // person: the verifier compares it with the applicant's session).
            let card = h.card.clone();
            let status =
                tokio::task::spawn_blocking(move || card.status()).await.map_err(internal)?.map_err(card_refusal)?;
            let auth = status.auth_certificate.ok_or_else(|| {
                card_refusal(crate::backend::CardError::NoCard("no authentication certificate on the card".into()))
            })?;
            let (digest, shown) = crate::requests::application(&req.application, &auth).map_err(refused)?;
            started(&h, &origin, Request::Sign { digest, shown })
        },
    )
}

/// `POST /api/v1/check/ballot`
fn check_ballot(h: Arc<Helper>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    api(h.clone()).and(warp::path!("check" / "ballot")).and(warp::post()).and(json_body()).and(with(h)).and_then(
        |origin: String, opening: BallotOpening, h: Arc<Helper>| async move {
            let checked = checked_ballot(&h, &origin, &opening).await?;
            // Its seed is out: whoever saw the opening knows the choice, so it must never be cast.
            h.challenged.add(&checked.tracker);
            let mut shown = checked.shown;
            shown.title =
                ("暗号化の確認（この投票は送られません）", "Check of an encryption (this ballot is never cast)");
            let op = h.ops.create(&origin, Request::Check { shown }).map_err(op_refusal)?;
            let body = CheckStarted {
                check_url: format!("{}/confirm/{}", h.own_origin(), op.confirm_id),
                tracker: checked.tracker,
            };
            Ok::<_, Rejection>(warp::reply::with_status(warp::reply::json(&body), StatusCode::CREATED).into_response())
        },
    )
}

/// `GET /api/v1/operations/{id}`
fn poll(h: Arc<Helper>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    api(h.clone()).and(warp::path!("operations" / String)).and(warp::get()).and(with(h)).and_then(
        |origin: String, id: String, h: Arc<Helper>| async move {
            let op = h.ops.poll(&id, &origin).map_err(op_refusal)?;
            let view = match op.state {
                State::Pending { last_error } => OperationView::Pending { last_error: last_error.map(String::from) },
                State::Done(s) => {
                    OperationView::Done { signature: B64.encode(s.signature), certificate: B64.encode(s.certificate) }
                }
                State::Cancelled => OperationView::Cancelled,
                State::Failed(code) => OperationView::Failed { code: code.into() },
            };
            Ok::<_, Rejection>(warp::reply::json(&view).into_response())
        },
    )
}

/// `POST /api/v1/operations/{id}/cancel`
fn cancel(h: Arc<Helper>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    api(h.clone()).and(warp::path!("operations" / String / "cancel")).and(warp::post()).and(with(h)).and_then(
        |origin: String, id: String, h: Arc<Helper>| async move {
            h.ops.cancel(&id, &origin).map_err(op_refusal)?;
            Ok::<_, Rejection>(warp::reply::json(&OperationView::Cancelled).into_response())
        },
    )
}

/// Reads the election from the asking site and checks a ballot's opening against it.
async fn checked_ballot(
    h: &Helper,
    origin: &str,
    opening: &BallotOpening,
) -> Result<crate::requests::CheckedBallot, Rejection> {
    let (election, key) = crate::requests::fetch_definition(&h.http, origin).await.map_err(refused)?;
    crate::requests::check_pinned(&key, &h.pinned_keys).map_err(refused)?;
    let checked = crate::requests::ballot(opening, &election, &key).map_err(|r| {
        if r.1 == "BALLOT_MISMATCH" {
            tracing::warn!(origin, "a page asked to sign a ballot that does not hold the choice it claims");
        }
        refused(r)
    })?;
    Ok(checked)
}

/// Starts an operation for `origin` and answers with its id and the helper's confirmation page.
fn started(h: &Helper, origin: &str, request: Request) -> Result<Response, Rejection> {
    let op = h.ops.create(origin, request).map_err(op_refusal)?;
    let body = OperationStarted {
        operation_id: op.id.clone(),
        confirm_url: format!("{}/confirm/{}", h.own_origin(), op.confirm_id),
        expires_in: op.seconds_left(),
    };
    Ok(warp::reply::with_status(warp::reply::json(&body), StatusCode::CREATED).into_response())
}
