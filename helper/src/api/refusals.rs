//! Refusals: every error of the API becomes a status, a stable code and a sentence saying what to do next
//! (`{code, message}`, as the voting API answers), and a path or method the helper does not serve a 404 or a 405
//! with `Allow` ([`crate::contract::HELPER`]).

use std::convert::Infallible;

use shared::api::ApiError;
use warp::filters::BoxedFilter;
use warp::http::{HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::backend::CardError;
use crate::operations::OpError;
use crate::pin::KeyKind;
use crate::requests::Refused;

/// A refusal: status, stable code, and a sentence saying what to do.
#[derive(Debug)]
pub(super) struct Refusal(pub(super) StatusCode, pub(super) &'static str, pub(super) String);

impl warp::reject::Reject for Refusal {}

pub(super) fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Rejection {
    warp::reject::custom(Refusal(status, code, message.into()))
}

pub(super) fn refused(Refused(status, code, message): Refused) -> Rejection {
    refuse(status, code, message)
}

/// A request under `/api/` that no operation answers: 404, or 405 with `Allow` for a known path
/// ([`crate::contract::HELPER`]). Refusals of a route that matched are found first by [`rejection_parts`].
#[derive(Debug)]
struct Unmatched(Vec<&'static str>);

impl warp::reject::Reject for Unmatched {}

pub(super) fn unmatched() -> BoxedFilter<(Response,)> {
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

pub(super) fn origin_refusal() -> Rejection {
    refuse(
        StatusCode::FORBIDDEN,
        "ORIGIN_NOT_ALLOWED",
        "This site may not use the card helper. Use the official voting site.",
    )
}

pub(super) fn internal<E: std::fmt::Display>(e: E) -> Rejection {
    refuse(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", format!("The helper failed: {e}. Restart it and try again."))
}

pub(super) fn card_refusal(e: CardError) -> Rejection {
    let status = match e {
        CardError::NoCard(_) => StatusCode::SERVICE_UNAVAILABLE,
        CardError::Locked(_) => StatusCode::LOCKED,
        _ => StatusCode::BAD_GATEWAY,
    };
    refuse(status, e.code(), card_message(&e).1)
}

pub(super) fn op_refusal(e: OpError) -> Rejection {
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

pub(super) async fn json_rejection(err: Rejection) -> Result<Response, Infallible> {
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
