//! Login and its session (R-VOTE-4, R-VOTE-5): the single-use challenge, the card's signed login, extending a
//! session with the same card, logout, and the failed logins counted for the audit log.

use shared::api::{Challenge, LoginRequest, LoginResponse, Purpose};
use shared::crypto::auth_message;
use warp::Reply;
use warp::http::StatusCode;
use warp::reply::Response;

use super::SESSION_COOKIE;
use super::refusals::{cert_refusal, challenge_refusal, session_refusal, spent_refusal, storage_refusal};
use crate::AppState;
use crate::certs::CertKind;
use crate::errors::Refusal;
use crate::store::Voter;
use crate::voting::sessions::{ApplicantCard, ChallengeError, ExtendError, Session};

/// Issues a single-use login nonce.
pub fn challenge(state: &AppState) -> Response {
    let nonce = state.sessions.challenge(state.clock.now());
    let body =
        Challenge { nonce: nonce.to_vec().into(), expires_in: crate::voting::sessions::CHALLENGE_SECONDS as u64 };
    warp::reply::with_status(warp::reply::json(&body), StatusCode::CREATED).into_response()
}

/// Logs a voter in (R-VOTE-5): nonce, certificate chain, validity, CRL, signature over (origin, nonce), and the
/// certificate's holder is a registered internet voter with a contest in this election.
pub fn login(state: &AppState, req: LoginRequest) -> Result<Response, Refusal> {
    let now = state.clock.now();
    let result = login_checks(state, &req, now);
    // A failed login writes nothing: anyone can send one, and the single writer is the voters'. It is counted in
    // memory and the counts are audited once a minute (`write_login_failures`).
    let (session, token, voter) = result.inspect_err(|r| state.sessions.count_failure(r.code))?;
    let (actor, action, detail) = match &voter {
        Some(v) => (format!("voter:{}", v.person_id), "login_succeeded", serde_json::json!({})),
        None => {
            let serial = session.applicant.as_ref().map(|a| a.serial.as_str());
            (crate::store::audit::SYSTEM.to_string(), "applicant_login", serde_json::json!({ "serial": serial }))
        }
    };
    state.db.audit(now, &actor, action, detail).map_err(storage_refusal)?;
    Ok(session_reply(state, &session, &token, StatusCode::CREATED))
}

/// Writes the failed logins counted since the last call as one audit row (`login_failures`, counts per refusal
/// code); nothing when there were none. The serve loop calls it every minute, and at the stop.
pub async fn write_login_failures(
    db: &std::sync::Arc<crate::store::Db>,
    sessions: &crate::voting::sessions::Sessions,
    now: chrono::DateTime<chrono::Utc>,
) {
    let counts = sessions.take_failures();
    if counts.is_empty() {
        return;
    }
    let db = db.clone();
    let detail = serde_json::json!({ "counts": counts, "total": counts.values().sum::<u64>() });
    let written =
        tokio::task::spawn_blocking(move || db.audit(now, crate::store::audit::SYSTEM, "login_failures", detail)).await;
    if !matches!(written, Ok(Ok(_))) {
        tracing::error!("the login failure counts could not be audited");
    }
}

/// The session's times and the cookie that carries its token (its Max-Age is the session's lifetime).
fn session_reply(state: &AppState, session: &Session, token: &str, status: StatusCode) -> Response {
    let body = LoginResponse {
        started_at: session.clock.started_at,
        expires_at: session.clock.expires_at,
        extensions_left: state.config.session_extensions.saturating_sub(session.extensions),
    };
    let mut cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/api/v1; Max-Age={}",
        state.config.session_lifetime.num_seconds()
    );
    if state.config.secure_cookies {
        cookie.push_str("; Secure");
    }
    let mut r = warp::reply::with_status(warp::reply::json(&body), status).into_response();
    if let Ok(v) = warp::http::HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(warp::http::header::SET_COOKIE, v);
    }
    r
}

/// Extends the session (WCAG 2.2.1): the same card logs in again through the helper (a fresh challenge signed
/// with the authentication certificate), and the session's fixed time restarts, up to the configured limit.
pub fn extend_session(state: &AppState, token: Option<String>, req: LoginRequest) -> Result<Response, Refusal> {
    let now = state.clock.now();
    let (checked, _) = verified_card(state, &req, now)?;
    let limit = state.config.session_extensions;
    let card = card_id(&checked)?;
    let result = state.sessions.extend(token.as_deref(), card, now, state.config.session_lifetime, limit);
    let (token, session) = result.map_err(|e| match e {
        ExtendError::Session(e) => session_refusal(e),
        ExtendError::Busy => challenge_refusal(ChallengeError::Busy),
        ExtendError::OtherCard => Refusal::new(
            StatusCode::FORBIDDEN,
            "OTHER_CARD",
            "This is not the card you logged in with. Use the same My Number card to extend your session.",
        ),
        ExtendError::Limit => Refusal::new(
            StatusCode::FORBIDDEN,
            "EXTENSION_LIMIT",
            "Your session cannot be extended again. Finish voting, or log in again after it ends.",
        ),
    })?;
    let audited = state.db.voter_by_cert(&session.card.fingerprint(), CertKind::Auth).map_err(storage_refusal);
    let audited = audited.and_then(|voter| {
        let actor = voter.map_or(crate::store::audit::SYSTEM.to_string(), |v| format!("voter:{}", v.person_id));
        let detail = serde_json::json!({ "extensions": session.extensions });
        state.db.audit(now, &actor, "session_extended", detail).map_err(storage_refusal)
    });
    let mut reply = session_reply(state, &session, &token, StatusCode::OK);
    if let Err(refusal) = audited {
        // The old token is spent already: the refusal carries the new one, so that the voter is not logged out.
        let cookie = reply.headers_mut().remove(warp::http::header::SET_COOKIE);
        reply = refusal.into_reply();
        if let Some(c) = cookie {
            reply.headers_mut().insert(warp::http::header::SET_COOKIE, c);
        }
    }
    Ok(reply)
}

/// The session's handle on a checked card: its fingerprint as 32 bytes.
fn card_id(checked: &crate::certs::CheckedCert) -> Result<crate::voting::sessions::CardId, Refusal> {
    crate::voting::sessions::CardId::from_fingerprint(&checked.fingerprint).ok_or_else(|| {
        tracing::error!("a checked certificate's fingerprint is not 64 hex characters");
        Refusal::internal()
    })
}

/// Checks a card login: the nonce was issued here, is within its time and unused, the certificate is a valid,
/// unrevoked authentication certificate of a trusted CA, and it signed (origin, nonce); only then is the nonce
/// used up (a failed login stores nothing). Returns the checked certificate.
fn verified_card(
    state: &AppState,
    req: &LoginRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(crate::certs::CheckedCert, Vec<u8>), Refusal> {
    let (nonce, cert, sig) = (req.nonce.as_bytes(), req.certificate.as_bytes(), req.signature.as_bytes());
    state.sessions.check_challenge(nonce, now).map_err(challenge_refusal)?;
    let trust = state.trust.as_ref().ok_or_else(|| {
        Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "LOGIN_UNAVAILABLE", "Login is not configured on this server.")
    })?;
    let checked = trust.check(CertKind::Auth, cert, now).map_err(|e| cert_refusal(&e))?;
    checked.verify_signature(&auth_message(&state.config.public_origin, nonce), sig).map_err(|_| {
        Refusal::new(StatusCode::UNAUTHORIZED, "BAD_SIGNATURE", "The card's signature does not verify. Log in again.")
    })?;
    state.sessions.consume_challenge(nonce, now).map_err(challenge_refusal)?;
    Ok((checked, cert.to_vec()))
}

/// Checks a login and starts its session: the session, its token and the card's registered voter if any.
fn login_checks(
    state: &AppState,
    req: &LoginRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Session, String, Option<Voter>), Refusal> {
    let (checked, cert) = verified_card(state, req, now)?;
    let applying = req.purpose.unwrap_or_default() == Purpose::Apply;
    let voter = state.db.voter_by_cert(&checked.fingerprint, CertKind::Auth).map_err(storage_refusal)?;
    let card = card_id(&checked)?;
    let lifetime = state.config.session_lifetime;
    if applying {
        // An applicant session: any valid card may apply or see its own applications (R-REG-1, R-REG-2).
        let applicant = ApplicantCard { serial: checked.serial.clone(), certificate: cert };
        let (token, session) = state.sessions.start(card, Some(applicant), now, lifetime).map_err(challenge_refusal)?;
        return Ok((session, token, voter));
    }
    let not_registered = || {
        Refusal::new(
            StatusCode::FORBIDDEN,
            "NOT_REGISTERED",
            "This card is not registered for internet voting in this election. Apply to your municipal election \
             committee, or vote by post or at an embassy.",
        )
    };
    let voter = voter.ok_or_else(not_registered)?;
    if !state.election.get().contests.iter().any(|c| voter.districts.contains(&c.district)) {
        return Err(not_registered());
    }
    let (token, session) = state.sessions.start(card, None, now, lifetime).map_err(challenge_refusal)?;
    Ok((session, token, Some(voter)))
}

/// Ends the session at every front-end. If that cannot be recorded the cookie is kept and the voter told to try
/// again, rather than believe the session ended while it would still be accepted.
pub fn logout(state: &AppState, token: Option<String>) -> Response {
    if let Some(t) = token
        && state.sessions.end(&t, state.clock.now()).is_err()
    {
        return spent_refusal().into_reply();
    }
    let mut r = warp::reply::json(&shared::api::Empty {}).into_response();
    let expire = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/api/v1; Max-Age=0");
    if let Ok(v) = warp::http::HeaderValue::from_str(&expire) {
        r.headers_mut().insert(warp::http::header::SET_COOKIE, v);
    }
    r
}
