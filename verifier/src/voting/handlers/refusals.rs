//! How the errors of certificates, sessions, storage and registration become refusals (`{code, message}`).

use warp::http::StatusCode;

use crate::AppState;
use crate::certs::{CertError, CertKind};
use crate::errors::Refusal;
use crate::voting::sessions::{ChallengeError, Session, SessionError};

pub(super) fn cert_refusal(e: &CertError) -> Refusal {
    let message = match e {
        CertError::Expired => "Your card's certificate has expired. Renew it at your municipal office or an embassy.",
        CertError::NotYetValid => "Your card's certificate is not valid yet. Check the date and try again later.",
        CertError::Revoked => {
            "Your card's certificate has been revoked (for example after a card reissue). Use your current card."
        }
        CertError::UnknownCa => {
            "This certificate was not issued by the My Number card authority. Use your My Number card."
        }
        CertError::CrlUnavailable(_) => "The revocation list cannot be checked right now. Try again in a few minutes.",
        _ => "The certificate could not be checked. Place the card again and retry.",
    };
    let status =
        if matches!(e, CertError::CrlUnavailable(_)) { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::FORBIDDEN };
    Refusal::new(status, e.code(), message)
}

pub(super) fn session_refusal(e: SessionError) -> Refusal {
    match e {
        SessionError::Missing => Refusal::new(
            StatusCode::UNAUTHORIZED,
            "NO_SESSION",
            "You are not logged in. Log in with your My Number card.",
        ),
        SessionError::Expired => Refusal::new(
            StatusCode::UNAUTHORIZED,
            "SESSION_EXPIRED",
            "Your session has ended (20 minutes after login). Log in again; ballots already accepted are kept.",
        ),
        SessionError::Unavailable => spent_refusal(),
    }
}

/// The refusal when the store of used logins and ended sessions cannot be reached (issue 24: a failover): the
/// session is neither accepted nor taken for ended.
pub(super) fn spent_refusal() -> Refusal {
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "STORAGE_UNAVAILABLE",
        "Logins cannot be checked right now; you are not logged out and nothing was recorded. Try again in a minute.",
    )
}

/// Maps a storage failure to `STORAGE_UNAVAILABLE` (503), logging it.
pub fn storage_refusal(e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "storage failure");
    // SQLITE_FULL, from the disk or the configured max_page_count: the transaction was rolled back whole.
    if e.to_string().contains("database or disk is full") {
        return Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "STORAGE_FULL",
            "The ballot box's storage is full; nothing was recorded and you have not voted. The operators are \
             alerted; try again later.",
        );
    }
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "STORAGE_UNAVAILABLE",
        "The ballot box cannot be written right now; nothing was recorded. Try again in a few minutes.",
    )
}

/// Looks the session's card up on the roll: a session names its card, not its voter, so a voter removed from the
/// roll mid-session is refused here (issue 24).
pub(super) fn registered(state: &AppState, session: &Session) -> Result<crate::store::Voter, Refusal> {
    let voter = state.db.voter_by_cert(&session.card.fingerprint(), CertKind::Auth).map_err(storage_refusal)?;
    voter.ok_or_else(|| {
        Refusal::new(
            StatusCode::FORBIDDEN,
            "NOT_REGISTERED",
            "This card is not registered for internet voting. Apply to your municipal election committee.",
        )
    })
}

pub(super) fn challenge_refusal(e: ChallengeError) -> Refusal {
    match e {
        ChallengeError::Unknown => Refusal::new(
            StatusCode::UNAUTHORIZED,
            "CHALLENGE_UNKNOWN",
            "The login request expired or was already used. Start the login again.",
        ),
        ChallengeError::Busy => Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "LOGIN_BUSY",
            "Too many logins are in progress. Wait a minute and log in again.",
        ),
        ChallengeError::Unavailable => spent_refusal(),
    }
}

/// Maps a registration refusal to its HTTP status.
pub fn reg_refusal(e: crate::registration::RegError) -> Refusal {
    let status = match e.code {
        "FORBIDDEN_ROLE" | "OTHER_MUNICIPALITY" | "APPLICANT_MISMATCH" | "VOTING_NOT_CLOSED" | "SAME_PERSON" => {
            StatusCode::FORBIDDEN
        }
        "UNKNOWN_APPLICATION" | "UNKNOWN_CONTEST" | "UNKNOWN_CANDIDATE" | "NO_ELECTION" | "UNKNOWN_REQUEST" => {
            StatusCode::NOT_FOUND
        }
        "STORAGE_UNAVAILABLE" => StatusCode::SERVICE_UNAVAILABLE,
        "WRONG_STATE"
        | "NOT_ESTABLISHED"
        | "POSTAL_PAPERS_OUTSTANDING"
        | "ALREADY_VOTED_ONLINE"
        | "NOT_PAUSED"
        | "ALREADY_WITHDRAWN"
        | "VOTING_CLOSED"
        | "REQUEST_CLOSED"
        | "REQUEST_EXPIRED"
        | "APPROVE_ON_HOST"
        | crate::registration::CERT_OF_ANOTHER_PERSON => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    };
    Refusal::new(status, e.code, e.message)
}
