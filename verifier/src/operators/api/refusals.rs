//! The refusals of who is calling, each with its stable code and what to do next.

use warp::http::StatusCode;

use super::session::TOTP_LOCK_MINUTES;
use crate::errors::Refusal;
use crate::operators::Role;
use crate::operators::auth;

/// `NO_CLIENT_CERT` (401): the request came without a verified client certificate (not past the TLS listener).
pub fn no_client_cert() -> Refusal {
    Refusal::new(
        StatusCode::UNAUTHORIZED,
        "NO_CLIENT_CERT",
        "No operator certificate came with this request. Connect with your operator certificate and key.",
    )
}

/// `UNKNOWN_OPERATOR` (403): the certificate is from the operator CA but not registered in this verifier.
pub fn unknown_operator() -> Refusal {
    Refusal::new(
        StatusCode::FORBIDDEN,
        "UNKNOWN_OPERATOR",
        "This operator certificate is not registered here. Ask an administrator to register it.",
    )
}

/// `OPERATOR_REVOKED` (403).
pub fn operator_revoked() -> Refusal {
    Refusal::new(
        StatusCode::FORBIDDEN,
        "OPERATOR_REVOKED",
        "This operator certificate has been revoked. Ask an administrator for a new one.",
    )
}

/// `TOTP_REQUIRED` (401): no live session for this certificate.
pub fn totp_required() -> Refusal {
    Refusal::new(
        StatusCode::UNAUTHORIZED,
        "TOTP_REQUIRED",
        "Log in with the code from your authenticator app first (POST /op/v1/session); sessions last 8 hours.",
    )
}

/// `TOTP_INVALID` (401).
pub fn totp_invalid(reused: bool) -> Refusal {
    let message = if reused {
        "This code was already used. Wait for the next code in your authenticator app and try again."
    } else {
        "The code is wrong. Check your authenticator app and this computer's clock, then try again."
    };
    Refusal::new(StatusCode::UNAUTHORIZED, "TOTP_INVALID", message)
}

/// `TOTP_LOCKED` (429): too many wrong codes for this certificate lately.
pub fn totp_locked() -> Refusal {
    Refusal::new(
        StatusCode::TOO_MANY_REQUESTS,
        "TOTP_LOCKED",
        format!("Too many wrong codes. Wait {TOTP_LOCK_MINUTES} minutes, then try again."),
    )
}

/// `FORBIDDEN_ROLE` (403).
pub fn forbidden_role(role: Role, allowed: &[Role]) -> Refusal {
    let allowed: Vec<&str> = allowed.iter().map(|r| auth::role_str(*r)).collect();
    Refusal::new(
        StatusCode::FORBIDDEN,
        "FORBIDDEN_ROLE",
        format!("Your role ({}) may not do this; it needs one of: {}.", auth::role_str(role), allowed.join(", ")),
    )
}

/// `OTHER_MUNICIPALITY` (403): a committee operator asked for another municipality's data (R-SYS-1).
pub fn other_municipality(municipality: &str) -> Refusal {
    Refusal::new(
        StatusCode::FORBIDDEN,
        "OTHER_MUNICIPALITY",
        format!("Municipality {municipality} is not yours. You can see only your own municipality's voters."),
    )
}

pub(super) fn internal(what: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %what, "operator API failure");
    Refusal::internal()
}
