//! The applicant's side of registration (R-REG-1, R-REG-2, R-REG-9): a signed application or switch request, and
//! the applicant's own applications.

use warp::Reply;
use warp::http::StatusCode;
use warp::reply::Response;

use super::refusals::{cert_refusal, reg_refusal, session_refusal};
use crate::AppState;
use crate::certs::{CertError, CertKind};
use crate::errors::Refusal;
use crate::voting::sessions::{SessionError, SessionKind};

/// Receives a signed application or switch request from an applicant session: the signing certificate is
/// checked (chain, validity, CRL), the signature over the application's exact JSON verified, and the person in the
/// certificate must be the applicant; both certificates are stored with it (R-REG-2).
pub fn submit_application(
    state: &AppState,
    token: Option<String>,
    req: shared::api::ApplicationRequest,
) -> Result<Response, Refusal> {
    let now = state.clock.now();
    let session = state.sessions.get(token.as_deref(), now).map_err(session_refusal)?;
    if session.kind != SessionKind::Applicant {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "NO_SESSION",
            "This is a voting session, not an application session. Log in again from the application page to apply.",
        ));
    }
    // The card's certificate stays with the front-end the applicant logged in to (module notes of
    // `voting::sessions`): at another one, log in again.
    let applicant = session.applicant.clone().ok_or_else(|| session_refusal(SessionError::Missing))?;
    let input: shared::api::ApplicationInput = serde_json::from_str(&req.application).map_err(|e| {
        Refusal::new(StatusCode::BAD_REQUEST, "MALFORMED", format!("The application is not valid: {e}"))
    })?;
    let (cert, sig) = (req.certificate.0, req.signature.0);
    let trust = state.trust.as_ref().ok_or_else(|| cert_refusal(&CertError::UnknownCa))?;
    let checked = trust.check(CertKind::Sign, &cert, now).map_err(|e| cert_refusal(&e))?;
    // One card, one person (R-REG-2): the signature covers the authentication certificate of the card it was made
    // with, which must be the one this applicant session logged in with.
    let message = shared::crypto::application_message(req.application.as_bytes(), &applicant.certificate);
    checked.verify_signature(&message, &sig).map_err(|_| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "BAD_SIGNATURE",
            "The card's signature does not match this application, or it was signed with another card than the one \
             you logged in with. Log in and sign with the same card.",
        )
    })?;
    let signer = jpki::person_from_signing_cert(&cert).map_err(|e| {
        Refusal::new(StatusCode::BAD_REQUEST, "CERT_MALFORMED", format!("The signing certificate: {e}"))
    })?;
    let certs = crate::registration::ApplicantCerts {
        auth: (session.card.fingerprint(), applicant.serial.clone()),
        auth_der: applicant.certificate.clone(),
        sign: (checked.fingerprint, checked.serial),
        sign_der: cert,
    };
    let (receipt_no, receipt_date, status) =
        crate::registration::submit(&state.db, &input, &req.application, &sig, &certs, &signer, now)
            .map_err(reg_refusal)?;
    let body = shared::api::ApplicationStatus {
        receipt_no,
        kind: input.kind,
        status,
        receipt_date,
        reason: None,
        history: Vec::new(),
    };
    Ok(warp::reply::with_status(warp::reply::json(&body), StatusCode::CREATED).into_response())
}

/// Returns the applications made with this session's card, with their status.
pub fn own_applications(state: &AppState, token: Option<String>) -> Result<Response, Refusal> {
    let session = state.sessions.get(token.as_deref(), state.clock.now()).map_err(session_refusal)?;
    let apps = crate::registration::own_applications(&state.db, &session.card.fingerprint()).map_err(reg_refusal)?;
    let mut body = Vec::new();
    for a in apps {
        let history = crate::registration::application_history(&state.db, &a.receipt_no).map_err(reg_refusal)?;
        body.push(shared::api::ApplicationStatus {
            receipt_no: a.receipt_no,
            kind: a.kind,
            status: a.status,
            receipt_date: a.receipt_date,
            reason: a.reason,
            history: history.into_iter().map(|h| (h.at, h.event)).collect(),
        });
    }
    Ok(warp::reply::json(&body).into_response())
}
