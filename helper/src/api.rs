//! The helper's loopback HTTP API and its confirmation page.
//!
//! API (`/api/v1`, JSON, CORS for the allowed origins only; any other `Origin`, or none, gets 403):
//! - `GET /api/v1/status`: reader, card, certificates readable without a PIN, tries left.
//! - `POST /api/v1/authenticate` `{challenge}`: starts a login signature over
//!   `shared::crypto::auth_digest(Origin header, challenge)`.
//! - `POST /api/v1/sign/ballot` (a ballot with its opening): reads the election from the asking site, re-encrypts
//!   the claimed choice and compares, then starts a signature over the envelope digest it computed, showing the
//!   choice in words ([`crate::requests`]).
//! - `POST /api/v1/sign/application` `{application}`: shows every field and signs the digest of that text.
//! - `POST /api/v1/check/ballot` (a challenged ballot's opening): the same check, shown on the helper's page, and
//!   that ballot is never signed afterwards.
//! - `POST /api/v1/sign` (a raw digest, as before issue 18): refused with `RAW_DIGEST_REFUSED`.
//! - `GET /api/v1/operations/{id}`: the operation's state; the result is handed out once.
//! - `POST /api/v1/operations/{id}/cancel`.
//!
//! Pages (the helper's own origin, `http://127.0.0.1:PORT`, which the voting page cannot read or frame):
//! - `GET /confirm/{id}`: who asks (origin), what will be signed as the helper computed it, tries left, the PIN
//!   field; for a check, what the challenged ballot holds.
//! - `POST /confirm/{id}`: the form; the PIN goes straight into the card call.
//!
//! Every request must name this helper in its `Host` header (127.0.0.1 or localhost with our port), which defeats
//! DNS rebinding. Bodies above 8 KiB are refused.

use std::convert::Infallible;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use secrecy::SecretString;
use serde::Deserialize;
use shared::api::ApiError;
use shared::helper_api::{
    ApplicationSignRequest, AuthenticateRequest, CheckStarted, HelperStatus, OperationStarted, OperationView, TriesView,
};
use shared::sealed::BallotOpening;
use warp::filters::BoxedFilter;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::backend::{CardBackend, CardError, Tries};
use crate::operations::{OpError, Operation, Operations, Request, State};
use crate::pin::{KeyKind, Pin};
use crate::requests::{Challenged, Refused, Shown};

/// The largest request body accepted.
pub const MAX_BODY: u64 = 8 * 1024;

/// The helper's shared state.
pub struct Helper {
    card: Arc<dyn CardBackend>,
    ops: Operations,
    http: reqwest::Client,
    challenged: Challenged,
    pinned_keys: Vec<String>,
    allowed_origins: Vec<String>,
    port: u16,
}

impl Helper {
    /// Makes the state for a helper listening on `port` that answers `allowed_origins`.
    pub fn new(card: Arc<dyn CardBackend>, allowed_origins: Vec<String>, port: u16) -> Arc<Helper> {
        Helper::with_pinned_keys(card, allowed_origins, port, Vec::new())
    }

    /// As [`Helper::new`], accepting ballots only under these election key fingerprints (none: any key the
    /// voting site serves).
    pub fn with_pinned_keys(
        card: Arc<dyn CardBackend>,
        allowed_origins: Vec<String>,
        port: u16,
        pinned_keys: Vec<String>,
    ) -> Arc<Helper> {
        let pinned_keys = pinned_keys.into_iter().map(|k| k.trim().to_ascii_lowercase()).collect();
        let allowed_origins = allowed_origins.into_iter().map(|o| o.trim_end_matches('/').to_string()).collect();
        Arc::new(Helper {
            card,
            ops: Operations::default(),
            http: crate::requests::client(),
            challenged: Challenged::default(),
            pinned_keys,
            allowed_origins,
            port,
        })
    }

    /// Returns the helper's own origin, where its pages live.
    pub fn own_origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|o| o == origin)
    }

    fn host_ok(&self, host: &str) -> bool {
        host == format!("127.0.0.1:{}", self.port) || host == format!("localhost:{}", self.port)
    }
}

/// A refusal: status, stable code, and a sentence saying what to do.
#[derive(Debug)]
struct Refusal(StatusCode, &'static str, String);

impl warp::reject::Reject for Refusal {}

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Rejection {
    warp::reject::custom(Refusal(status, code, message.into()))
}

fn json_body<T: serde::de::DeserializeOwned + Send>() -> impl Filter<Extract = (T,), Error = Rejection> + Clone {
    warp::body::content_length_limit(MAX_BODY).and(warp::body::json())
}

fn refused(Refused(status, code, message): Refused) -> Rejection {
    refuse(status, code, message)
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

/// Every route of the helper.
pub fn routes(h: Arc<Helper>) -> BoxedFilter<(Response,)> {
    let host = {
        let h = h.clone();
        warp::header::optional::<String>("host")
            .and_then(move |host: Option<String>| {
                let ok = host.as_deref().is_some_and(|v| h.host_ok(v));
                async move {
                    if ok {
                        Ok(())
                    } else {
                        Err(refuse(StatusCode::FORBIDDEN, "BAD_HOST", "Open the helper as http://127.0.0.1 only."))
                    }
                }
            })
            .untuple_one()
    };
    let is_api = warp::path::peek()
        .and_then(|p: warp::path::Peek| async move {
            if p.segments().next() == Some("api") { Ok(()) } else { Err(warp::reject::not_found()) }
        })
        .untuple_one();
    let origin = warp::header::optional::<String>("origin");
    let api = is_api.and(origin).and(api_routes(h.clone()).recover(json_rejection).unify()).map({
        let h = h.clone();
        move |origin: Option<String>, r: Response| with_cors(&h, origin.as_deref(), r)
    });
    let pages = pages(h.clone()).recover(html_rejection).unify();
    host.and(api.or(pages).unify()).recover(json_rejection).unify().map(no_store).boxed()
}

fn api_routes(h: Arc<Helper>) -> BoxedFilter<(Response,)> {
    let with = move || {
        let h = h.clone();
        warp::any().map(move || h.clone())
    };
    let preflight =
        warp::path("api").and(warp::options()).and(warp::header::optional::<String>("origin")).and(with()).and_then(
            |origin: Option<String>, h: Arc<Helper>| async move {
                match origin {
                    Some(o) if h.origin_allowed(&o) => {
                        Ok(warp::reply::with_status("", StatusCode::NO_CONTENT).into_response())
                    }
                    _ => Err(origin_refusal()),
                }
            },
        );
    let allowed_origin = warp::header::optional::<String>("origin").and(with()).and_then(
        |origin: Option<String>, h: Arc<Helper>| async move {
            match origin {
                Some(o) if h.origin_allowed(&o) => Ok(o),
                _ => Err(origin_refusal()),
            }
        },
    );
    let api = warp::path("api").and(warp::path("v1")).and(allowed_origin);

    // GET /api/v1/status
    let status = api.clone().and(warp::path!("status")).and(warp::get()).and(with()).and_then(
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
    );

    // POST /api/v1/authenticate
    let authenticate = api
        .clone()
        .and(warp::path!("authenticate"))
        .and(warp::post())
        .and(warp::body::content_length_limit(MAX_BODY))
        .and(warp::body::json())
        .and(with())
        .and_then(|origin: String, req: AuthenticateRequest, h: Arc<Helper>| async move {
            let challenge =
                B64.decode(&req.challenge).ok().filter(|c| (16..=128).contains(&c.len())).ok_or_else(|| {
                    refuse(StatusCode::BAD_REQUEST, "MALFORMED", "The challenge must be 16 to 128 bytes in base64.")
                })?;
            let digest = shared::crypto::auth_digest(&origin, &challenge);
            started(&h, &origin, Request::Authenticate { digest })
        });

    // POST /api/v1/sign: a raw digest, which the helper never signs.
    let raw = api.clone().and(warp::path!("sign")).and(warp::post()).and_then(|_origin: String| async move {
        Err::<Response, _>(refuse(
            StatusCode::GONE,
            "RAW_DIGEST_REFUSED",
            "The card helper signs only what it computes and shows itself: send a ballot with its opening \
             (POST /api/v1/sign/ballot) or an application (POST /api/v1/sign/application).",
        ))
    });

    // POST /api/v1/sign/ballot
    let sign_ballot = api.clone().and(warp::path!("sign" / "ballot")).and(warp::post()).and(json_body()).and(with()).and_then(
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
    );

    // POST /api/v1/sign/application
    let sign_application =
        api.clone().and(warp::path!("sign" / "application")).and(warp::post()).and(json_body()).and(with()).and_then(
            |origin: String, req: ApplicationSignRequest, h: Arc<Helper>| async move {
                // The signature binds the authentication certificate of the card in the reader (one card, one
                // person: the verifier compares it with the applicant's session).
                let card = h.card.clone();
                let status = tokio::task::spawn_blocking(move || card.status())
                    .await
                    .map_err(internal)?
                    .map_err(card_refusal)?;
                let auth = status.auth_certificate.ok_or_else(|| {
                    card_refusal(crate::backend::CardError::NoCard("no authentication certificate on the card".into()))
                })?;
                let (digest, shown) = crate::requests::application(&req.application, &auth).map_err(refused)?;
                started(&h, &origin, Request::Sign { digest, shown })
            },
        );

    // POST /api/v1/check/ballot
    let check =
        api.clone().and(warp::path!("check" / "ballot")).and(warp::post()).and(json_body()).and(with()).and_then(
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
                Ok::<_, Rejection>(
                    warp::reply::with_status(warp::reply::json(&body), StatusCode::CREATED).into_response(),
                )
            },
        );

    // GET /api/v1/operations/{id}
    let poll = api.clone().and(warp::path!("operations" / String)).and(warp::get()).and(with()).and_then(
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
    );

    // POST /api/v1/operations/{id}/cancel
    let cancel = api.and(warp::path!("operations" / String / "cancel")).and(warp::post()).and(with()).and_then(
        |origin: String, id: String, h: Arc<Helper>| async move {
            h.ops.cancel(&id, &origin).map_err(op_refusal)?;
            Ok::<_, Rejection>(warp::reply::json(&OperationView::Cancelled).into_response())
        },
    );

    preflight
        .or(status)
        .unify()
        .or(authenticate)
        .unify()
        .or(sign_ballot)
        .unify()
        .or(sign_application)
        .unify()
        .or(check)
        .unify()
        .or(raw)
        .unify()
        .or(poll)
        .unify()
        .or(cancel)
        .unify()
        .or(unmatched())
        .unify()
        .boxed()
}

/// A request under `/api/` that no operation answers: 404, or 405 with `Allow` for a known path
/// ([`crate::contract::HELPER`]). Refusals of a route that matched are found first by [`rejection_parts`].
#[derive(Debug)]
struct Unmatched(Vec<&'static str>);

impl warp::reject::Reject for Unmatched {}

fn unmatched() -> BoxedFilter<(Response,)> {
    use shared::contract::Routing;
    warp::method()
        .and(warp::path::full())
        .and_then(|method: warp::http::Method, path: warp::path::FullPath| async move {
            Err::<Response, _>(match crate::contract::HELPER.allowed(method.as_str(), path.as_str()) {
                Routing::Served | Routing::Elsewhere => warp::reject::not_found(),
                Routing::WrongMethod(allow) => warp::reject::custom(Unmatched(allow)),
                Routing::Unknown => warp::reject::custom(Unmatched(Vec::new())),
            })
        })
        .boxed()
}

fn started(h: &Helper, origin: &str, request: Request) -> Result<Response, Rejection> {
    let op = h.ops.create(origin, request).map_err(op_refusal)?;
    let body = OperationStarted {
        operation_id: op.id.clone(),
        confirm_url: format!("{}/confirm/{}", h.own_origin(), op.confirm_id),
        expires_in: op.seconds_left(),
    };
    Ok(warp::reply::with_status(warp::reply::json(&body), StatusCode::CREATED).into_response())
}

fn origin_refusal() -> Rejection {
    refuse(
        StatusCode::FORBIDDEN,
        "ORIGIN_NOT_ALLOWED",
        "This site may not use the card helper. Use the official voting site.",
    )
}

fn internal<E: std::fmt::Display>(e: E) -> Rejection {
    refuse(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", format!("The helper failed: {e}. Restart it and try again."))
}

fn card_refusal(e: CardError) -> Rejection {
    let status = match e {
        CardError::NoCard(_) => StatusCode::SERVICE_UNAVAILABLE,
        CardError::Locked(_) => StatusCode::LOCKED,
        _ => StatusCode::BAD_GATEWAY,
    };
    refuse(status, e.code(), card_message(&e).1)
}

fn op_refusal(e: OpError) -> Rejection {
    match e {
        OpError::Unknown => refuse(StatusCode::NOT_FOUND, "UNKNOWN_OPERATION", "No such operation. Start again."),
        OpError::Expired => {
            refuse(StatusCode::GONE, "OPERATION_EXPIRED", "The confirmation took too long. Start again.")
        }
        OpError::Busy => {
            refuse(StatusCode::TOO_MANY_REQUESTS, "BUSY", "Too many pending requests. Wait and try again.")
        }
        OpError::Finished => refuse(StatusCode::CONFLICT, "OPERATION_FINISHED", "This request is already finished."),
    }
}

/// Returns what to tell the voter about a card error, in Japanese and English (R-SEC-3).
pub fn card_message(e: &CardError) -> (String, String) {
    match e {
        CardError::NoCard(_) => (
            "カードが読み取れません。カードリーダーが接続され、マイナンバーカードが正しく置かれているか確認してください。".into(),
            "The card cannot be read. Check that the reader is connected and your My Number card is placed on it.".into(),
        ),
        CardError::WrongPin { tries_left, .. } if *tries_left == 1 => (
            "暗証番号が違います。残りはあと1回です。次に間違えるとロックされます。".into(),
            "Wrong PIN. One try left: one more mistake locks it.".into(),
        ),
        CardError::WrongPin { tries_left, .. } => (
            format!("暗証番号が違います。残り{tries_left}回です。"),
            format!("Wrong PIN. {tries_left} tries left."),
        ),
        CardError::Locked(kind) => {
            let (ja, en) = match kind {
                KeyKind::Auth => ("利用者証明用電子証明書の暗証番号", "user-authentication PIN"),
                KeyKind::Sign => ("署名用電子証明書の暗証番号", "signing password"),
            };
            (
                format!(
                    "{ja}がロックされています。在外公館または住所地の市区町村の窓口で暗証番号の再設定を受けてください。\
                     それまでの間は、郵便等投票または在外公館投票で投票できます。"
                ),
                format!(
                    "Your {en} is locked. Have it reset at an embassy or consulate, or at your municipal office. \
                     Until then you can vote by post or at an embassy or consulate."
                ),
            )
        }
        CardError::NoPin(_) => (
            "このカードは顔認証マイナンバーカードのため、暗証番号を使うインターネット投票には使えません。郵便等投票または在外公館投票をご利用ください。".into(),
            "This is a face-authentication My Number card without PINs, so it cannot be used for internet voting. Vote by post or at an embassy or consulate.".into(),
        ),
        CardError::Certificate(_) => (
            "カードの電子証明書を読み取れません。証明書の有効期限が切れていないか確認し、必要なら市区町村の窓口で更新してください。".into(),
            "The card's certificate cannot be read. Check that it has not expired, and renew it at your municipal office if needed.".into(),
        ),
        CardError::Backend(_) => (
            "カードの処理に失敗しました。カードを置き直してから、もう一度お試しください。".into(),
            "The card operation failed. Place the card again and retry.".into(),
        ),
    }
}

async fn json_rejection(err: Rejection) -> Result<Response, Infallible> {
    let (status, code, message) = rejection_parts(&err);
    let mut r =
        warp::reply::with_status(warp::reply::json(&ApiError { code: code.into(), message }), status).into_response();
    if let Some(Unmatched(allow)) = err.find::<Unmatched>().filter(|_| status == StatusCode::METHOD_NOT_ALLOWED)
        && let Ok(v) = HeaderValue::from_str(&allow.join(", "))
    {
        r.headers_mut().insert(warp::http::header::ALLOW, v);
    }
    Ok(r)
}

fn rejection_parts(err: &Rejection) -> (StatusCode, &'static str, String) {
    if let Some(Refusal(s, c, m)) = err.find::<Refusal>() {
        (*s, c, m.clone())
    } else if err.find::<warp::reject::PayloadTooLarge>().is_some() {
        (StatusCode::PAYLOAD_TOO_LARGE, "TOO_LARGE", "The request is larger than 8 KiB.".into())
    } else if err.find::<warp::reject::LengthRequired>().is_some() {
        (StatusCode::LENGTH_REQUIRED, "LENGTH_REQUIRED", "Send a Content-Length.".into())
    } else if let Some(e) = err.find::<warp::filters::body::BodyDeserializeError>() {
        (StatusCode::BAD_REQUEST, "MALFORMED", format!("The request body is not valid: {e}"))
    } else if let Some(Unmatched(allow)) = err.find::<Unmatched>() {
        if allow.is_empty() {
            (StatusCode::NOT_FOUND, "NOT_FOUND", "There is no such page.".into())
        } else {
            let message = format!("This method is not allowed here. Use {}.", allow.join(" or "));
            (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", message)
        }
    } else if err.find::<warp::reject::MethodNotAllowed>().is_some() {
        (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "This method is not allowed here.".into())
    } else if let Some(e) = err.find::<warp::reject::InvalidHeader>() {
        (StatusCode::BAD_REQUEST, "MALFORMED", format!("A header is not valid: {e}."))
    } else {
        (StatusCode::NOT_FOUND, "NOT_FOUND", "There is no such page.".into())
    }
}

fn with_cors(h: &Helper, origin: Option<&str>, mut r: Response) -> Response {
    let headers = r.headers_mut();
    headers.insert("vary", HeaderValue::from_static("Origin"));
    if let Some(o) = origin.filter(|o| h.origin_allowed(o))
        && let Ok(v) = HeaderValue::from_str(o)
    {
        headers.insert("access-control-allow-origin", v);
        headers.insert("access-control-allow-methods", HeaderValue::from_static("GET, POST"));
        headers.insert("access-control-allow-headers", HeaderValue::from_static("content-type"));
        headers.insert("access-control-max-age", HeaderValue::from_static("600"));
        // Chrome's Private Network Access: a public site may reach this loopback helper only if it says so.
        headers.insert("access-control-allow-private-network", HeaderValue::from_static("true"));
    }
    r
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert("cache-control", HeaderValue::from_static("no-store"));
    r
}

// ---- The confirmation page ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmForm {
    pin: Option<String>,
    action: String,
}

fn pages(h: Arc<Helper>) -> BoxedFilter<(Response,)> {
    let with = move || {
        let h = h.clone();
        warp::any().map(move || h.clone())
    };
    // GET /confirm/{id}
    let show = warp::path!("confirm" / String).and(warp::get()).and(with()).and_then(
        |id: String, h: Arc<Helper>| async move {
            let op = h.ops.by_confirm_id(&id).map_err(op_refusal)?;
            let Some(kind) = op.request.kind() else {
                return Ok::<_, Rejection>(page(confirm_page(&op, None, None)));
            };
            let card = h.card.clone();
            let status = tokio::task::spawn_blocking(move || card.status()).await.map_err(internal)?;
            Ok(page(confirm_page(&op, status.as_ref().ok().map(|s| tries_of(s, kind)), None)))
        },
    );
    // POST /confirm/{id}
    let submit = warp::path!("confirm" / String)
        .and(warp::post())
        .and(warp::header::optional::<String>("origin"))
        .and(warp::body::content_length_limit(MAX_BODY))
        .and(warp::body::form())
        .and(with())
        .and_then(|id: String, origin: Option<String>, form: ConfirmForm, h: Arc<Helper>| async move {
            if origin.as_deref() != Some(h.own_origin().as_str()) {
                return Err(refuse(StatusCode::FORBIDDEN, "ORIGIN_NOT_ALLOWED", "Confirm on the helper's own page."));
            }
            let op = h.ops.by_confirm_id(&id).map_err(op_refusal)?;
            if form.action == "cancel" {
                h.ops.set_state(&op.id, State::Cancelled);
                return Ok(page(finished_page("キャンセルしました。", "Cancelled.")));
            }
            let (Some(kind), Some(digest)) = (op.request.kind(), op.request.digest().copied()) else {
                return Err(refuse(StatusCode::CONFLICT, "OPERATION_FINISHED", "A check has nothing to confirm."));
            };
            let typed = SecretString::from(form.pin.unwrap_or_default());
            let pin = match Pin::parse(kind, typed) {
                Ok(pin) => pin,
                Err(_) => {
                    let (ja, en) = kind.pin_name();
                    let msg = (format!("{ja}の形式が正しくありません。"), format!("The {en} does not have that form."));
                    return Ok(page(confirm_page(&op, None, Some(msg))));
                }
            };
            let card = h.card.clone();
            let result = tokio::task::spawn_blocking(move || card.sign(&pin, &digest)).await.map_err(internal)?;
            match result {
                Ok(signed) => {
                    h.ops.set_state(&op.id, State::Done(signed));
                    Ok(page(finished_page(
                        "完了しました。このウィンドウを閉じて、投票画面に戻ってください。",
                        "Done. Close this window and return to the voting page.",
                    )))
                }
                Err(e @ CardError::WrongPin { tries_left, .. }) => {
                    h.ops.set_state(&op.id, State::Pending { last_error: Some(e.code()) });
                    let tries = Tries { left: tries_left, max: kind.max_tries() };
                    Ok(page(confirm_page(&op, Some(tries), Some(card_message(&e)))))
                }
                Err(e) => {
                    h.ops.set_state(&op.id, State::Failed(e.code()));
                    let (ja, en) = card_message(&e);
                    Ok(page(finished_page(&ja, &en)))
                }
            }
        });
    let css = warp::path!("helper.css").and(warp::get()).map(|| {
        let mut r = Response::new(HELPER_CSS.into());
        r.headers_mut().insert("content-type", HeaderValue::from_static("text/css; charset=utf-8"));
        r
    });
    show.or(submit).unify().or(css).unify().map(page_headers).boxed()
}

fn tries_of(s: &crate::backend::CardStatus, kind: KeyKind) -> Tries {
    match kind {
        KeyKind::Auth => s.auth_tries,
        KeyKind::Sign => s.sign_tries,
    }
}

async fn html_rejection(err: Rejection) -> Result<Response, Rejection> {
    // Only refusals of the pages become HTML; anything else (not a page) passes on.
    match err.find::<Refusal>() {
        Some(Refusal(status, code, message)) if *code != "BAD_HOST" => {
            let mut r = page(finished_page(&format!("この確認ページは使えません（{code}）。"), message));
            *r.status_mut() = *status;
            Ok(r)
        }
        _ => Err(err),
    }
}

const HELPER_CSS: &str = "body{font-family:\"Noto Sans JP\",system-ui,sans-serif;margin:0;color:#1a1a1a;line-height:1.7}\
header{background:#0017c1;color:#fff;padding:.75rem 1rem}h1{font-size:1.2rem;margin:0}main{max-width:36rem;margin:0 auto;padding:1rem}\
.en{color:#414141}.origin{font-family:monospace;font-size:1.1rem;font-weight:bold;background:#f1f1f4;padding:.25rem .5rem}\
.warn{background:#fff4cc;border-left:6px solid #ac8700;padding:.5rem 1rem}.error{color:#ce0000;font-weight:bold}\
label{display:block;font-weight:bold;margin-top:1rem}input{font-size:1.5rem;min-height:44px;width:100%;max-width:16rem;\
padding:.25rem .5rem;border:2px solid #767676;border-radius:8px}button{min-height:44px;min-width:44px;margin:1rem .5rem 0 0;\
padding:.5rem 1.25rem;border-radius:8px;border:2px solid #0017c1;font:inherit;font-weight:bold;cursor:pointer}\
button[value=confirm]{background:#0017c1;color:#fff}button[value=cancel]{background:#fff;color:#0017c1}\
:focus-visible{outline:4px solid #000;outline-offset:2px;box-shadow:0 0 0 8px #ffd43d}\
dl{margin:.5rem 0;border-left:6px solid #0017c1;padding:.25rem 1rem;background:#f1f1f4}dt{font-weight:bold;margin-top:.5rem}\
dd{margin:0;overflow-wrap:anywhere}dd.main{font-size:1.4rem;font-weight:bold}";

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// What the helper computed, as a definition list (`dl`), each value with its id.
fn shown_html(shown: &Shown) -> String {
    let rows: String = shown
        .rows
        .iter()
        .map(|r| {
            let class = if r.main { " class=\"main\"" } else { "" };
            format!(
                "<dt>{} / <span lang=\"en\">{}</span></dt><dd id=\"{}\"{class}>{}</dd>",
                r.ja,
                r.en,
                r.id,
                escape(&r.value)
            )
        })
        .collect();
    format!("<dl id=\"shown\">{rows}</dl>")
}

fn confirm_page(op: &Operation, tries: Option<Tries>, error: Option<(String, String)>) -> String {
    let origin = format!(
        "<p>要求元のサイト / <span lang=\"en\">Requested by</span>:<br><span class=\"origin\" id=\"origin\">{}</span></p>",
        escape(&op.origin)
    );
    let what = |ja: &str, en: &str| {
        format!(
            "<p>内容 / <span lang=\"en\">What</span>:<br><strong id=\"what\">{}</strong><br><span class=\"en\" lang=\"en\">{}</span></p>",
            escape(ja),
            escape(en)
        )
    };
    let (what_html, kind) = match &op.request {
        Request::Authenticate { .. } => (
            what(
                "投票サイトへのログイン（利用者証明用電子証明書）",
                "Log in to the voting site (user-authentication certificate)",
            ),
            KeyKind::Auth,
        ),
        Request::Sign { shown, .. } => (
            format!(
                "{}{}<p class=\"en\">この内容は、カード用ソフトウェアが自分で計算して表示しています（投票サイトの画面の表示ではありません）。<br>\
<span lang=\"en\">The card software computed what is shown here itself; it is not taken from the voting page.</span></p>",
                what(shown.title.0, shown.title.1),
                shown_html(shown)
            ),
            KeyKind::Sign,
        ),
        Request::Check { shown } => {
            return format!(
                "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>暗号化の確認 / Check of an encryption — マイナンバーカード</title><link rel=\"stylesheet\" href=\"/helper.css\"></head><body>\
<header><h1>暗号化の確認<br><span lang=\"en\">Check of an encryption</span></h1></header><main>{origin}{}\
<p id=\"result\" role=\"status\">カード用ソフトウェアが投票サイトから選挙の公開鍵と候補者を読み、暗号化をやり直して確かめました。この暗号文は上の選択を含んでいます。\
確認した暗号文は送られません。投票画面では新しく暗号化されます。<br><span class=\"en\" lang=\"en\">The card software read the election's key and \
candidates from the voting site and encrypted again: this ciphertext holds the choice above. It is never cast; the voting page encrypts your \
choice afresh.</span></p></main></body></html>",
                what(shown.title.0, shown.title.1) + &shown_html(shown)
            );
        }
    };
    let (pin_ja, pin_en) = kind.pin_name();
    let tries_html = match tries {
        Some(t) if t.left == 1 => format!(
            "<p class=\"warn\" id=\"tries\">残り回数: 1回。次に間違えるとロックされます。<br><span class=\"en\" lang=\"en\">One try left ({} in all): one more mistake locks it.</span></p>",
            t.max
        ),
        Some(t) => format!(
            "<p id=\"tries\">残り回数: {}回（最大{}回）<br><span class=\"en\" lang=\"en\">Tries left: {} of {}</span></p>",
            t.left, t.max, t.left, t.max
        ),
        None => String::new(),
    };
    let error_html = error
        .map(|(ja, en)| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"error\">{}<br><span lang=\"en\">{}</span></p>",
                escape(&ja),
                escape(&en)
            )
        })
        .unwrap_or_default();
    let input_mode = match kind {
        KeyKind::Auth => "inputmode=\"numeric\" pattern=\"[0-9]{4}\" maxlength=\"4\"",
        KeyKind::Sign => "maxlength=\"16\" autocapitalize=\"characters\"",
    };
    format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>暗証番号の入力 / Enter your PIN — マイナンバーカード</title><link rel=\"stylesheet\" href=\"/helper.css\"></head><body>\
<header><h1>マイナンバーカード 暗証番号の入力<br><span lang=\"en\">My Number card: enter your PIN</span></h1></header><main>\
{origin}{what_html}\
<p class=\"en\">このページはお使いのパソコンのカード用ソフトウェアが表示しています。要求元が公式の投票サイトであることを確かめてから入力してください。<br>\
<span lang=\"en\">This page is shown by the card software on your computer. Check that the site above is the official voting site before you type.</span></p>\
{tries_html}{error_html}\
<form method=\"post\" action=\"/confirm/{cid}\"><label for=\"pin\">{pin_ja}<br><span class=\"en\" lang=\"en\">{pin_en}</span></label>\
<input id=\"pin\" name=\"pin\" type=\"password\" autocomplete=\"off\" required autofocus {input_mode}>\
<div><button type=\"submit\" name=\"action\" value=\"confirm\">確定 / <span lang=\"en\">Confirm</span></button>\
<button type=\"submit\" name=\"action\" value=\"cancel\" formnovalidate>キャンセル / <span lang=\"en\">Cancel</span></button></div></form>\
</main></body></html>",
        cid = escape(&op.confirm_id),
    )
}

fn finished_page(ja: &str, en: &str) -> String {
    format!(
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>マイナンバーカード / My Number card</title><link rel=\"stylesheet\" href=\"/helper.css\"></head><body>\
<header><h1>マイナンバーカード<br><span lang=\"en\">My Number card</span></h1></header><main>\
<p id=\"result\" role=\"status\">{}<br><span class=\"en\" lang=\"en\">{}</span></p></main></body></html>",
        escape(ja),
        escape(en)
    )
}

fn page(html: String) -> Response {
    let mut r = Response::new(html.into());
    r.headers_mut().insert("content-type", HeaderValue::from_static("text/html; charset=utf-8"));
    r
}

fn page_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    // same-origin, not no-referrer: with no-referrer Chrome sends `Origin: null` on the form post, which the
    // origin check must refuse.
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    r
}
