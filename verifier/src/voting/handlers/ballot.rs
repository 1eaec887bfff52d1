//! The ballot and the cast (R-VOTE-6..9), the refused casts counted per hour for the audit log, and what is
//! published for anyone to check: the audit log's checkpoints and, after the close, the ballot box.

use shared::api::{BallotView, CastReceipt, CastRequest, ContestView};
use shared::crypto::envelope_message;
use shared::window::WindowState;
use warp::Reply;
use warp::http::StatusCode;
use warp::reply::Response;

use super::refusals::{cert_refusal, registered, session_refusal, storage_refusal};
use crate::AppState;
use crate::certs::{CertError, CertKind};
use crate::errors::Refusal;

/// Returns the voter's contests with their status, the election key and the deadlines.
pub fn ballot(state: &AppState, token: Option<String>) -> Result<Response, Refusal> {
    let now = state.clock.now();
    let session = state.sessions.get(token.as_deref(), now).map_err(session_refusal)?;
    let voter = registered(state, &session)?;
    // One version of the election for the whole answer, even if a candidate change lands meanwhile.
    let election = state.election.get();
    let voted = state.db.voted_contests(&voter.person_id, election.id.as_str()).map_err(storage_refusal)?;
    let contests = election
        .contests
        .iter()
        .filter(|c| voter.districts.contains(&c.district))
        .map(|c| ContestView { contest: c.clone(), voted: voted.iter().any(|v| v == c.id.as_str()) })
        .collect();
    let body = BallotView {
        election_id: election.id.clone(),
        contests,
        public_key: state.key.spki_der().to_vec().into(),
        key_fingerprint: state.key.fingerprint(),
        session_expires_at: session.clock.expires_at,
        session_extensions_left: state.config.session_extensions.saturating_sub(session.extensions),
        window_closes_at: election.window().closes_at,
        paused: state.db.pause_state().map_err(storage_refusal)?.map(|(reason, _)| reason),
    };
    Ok(warp::reply::json(&body).into_response())
}

/// Receives one contest's ballot (R-VOTE-6..9): every check first, then ONE transaction marks the voter and
/// stores the bare ciphertext; the signature and certificate are dropped here.
pub fn cast(state: &AppState, token: Option<String>, req: CastRequest) -> Result<Response, Refusal> {
    let now = state.clock.now();
    let election = state.election.get();
    let session = state.sessions.get(token.as_deref(), now).map_err(session_refusal)?;
    let voter = registered(state, &session)?;
    match election.window().state(now) {
        WindowState::Open => {}
        WindowState::NotYetOpen => {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "VOTING_NOT_OPEN",
                "Voting has not opened yet (08:30 JST the day after the public notice).",
            ));
        }
        WindowState::Closed => {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "VOTING_CLOSED",
                "Online voting has closed (20:00 JST the day before election day).",
            ));
        }
    }
    if let Some((reason, _)) = state.db.pause_state().map_err(storage_refusal)? {
        return Err(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "VOTING_PAUSED",
            format!("Voting is paused: {reason}. Your ballot was not recorded; try again when voting resumes."),
        ));
    }
    let contest = election
        .contest(req.contest.as_str())
        .filter(|c| voter.districts.contains(&c.district))
        .ok_or_else(|| Refusal::new(StatusCode::FORBIDDEN, "WRONG_CONTEST", "This contest is not on your ballot."))?;
    let already = || {
        Refusal::new(
            StatusCode::CONFLICT,
            "ALREADY_VOTED",
            "Your ballot in this contest was already accepted; it cannot be changed.",
        )
    };
    let paper = || {
        Refusal::new(
            StatusCode::FORBIDDEN,
            "EMERGENCY_PAPER_VOTE",
            "You declared at an embassy that you vote on paper in this election, so an online ballot cannot be accepted.",
        )
    };
    // An early answer; the cast's own transaction decides a declaration made meanwhile (`CastError::EmergencyPaperVote`).
    if crate::registration::emergency_declared(&state.db, &voter.person_id, election.id.as_str())
        .map_err(storage_refusal)?
    {
        return Err(paper());
    }
    let voted = state.db.voted_contests(&voter.person_id, election.id.as_str()).map_err(storage_refusal)?;
    if voted.iter().any(|v| v == contest.id.as_str()) {
        return Err(already());
    }
    let ballot = req.sealed(&election.id);
    let ciphertext = ballot.ciphertext();
    if ciphertext.len() != state.key.ciphertext_len() {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "MALFORMED",
            format!("A ballot is {} bytes of ciphertext; got {}.", state.key.ciphertext_len(), ciphertext.len()),
        ));
    }
    let trust = state.trust.as_ref().ok_or_else(|| cert_refusal(&CertError::UnknownCa))?;
    let checked = trust.check(CertKind::Sign, req.certificate.as_bytes(), now).map_err(|e| cert_refusal(&e))?;
    let holder = state.db.voter_by_cert(&checked.fingerprint, CertKind::Sign).map_err(storage_refusal)?;
    if holder.as_ref().map(|v| v.person_id.as_str()) != Some(voter.person_id.as_str()) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "CERT_MISMATCH",
            "This signing certificate does not belong to the person who logged in. Use your own card for both.",
        ));
    }
    let message = envelope_message(election.id.as_str(), contest.id.as_str(), ciphertext);
    checked.verify_signature(&message, req.signature.as_bytes()).map_err(|_| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "BAD_SIGNATURE",
            "The card's signature does not match this ballot. Vote again.",
        )
    })?;
    // From here on only the bare ciphertext goes on; the signature and certificate are dropped with `req`.
    match state.db.cast(&voter.person_id, election.id.as_str(), contest.id.as_str(), ciphertext) {
        Ok(tracker) => {
            let body = CastReceipt { contest: contest.id.clone(), tracker };
            Ok(warp::reply::with_status(warp::reply::json(&body), StatusCode::CREATED).into_response())
        }
        Err(crate::store::CastError::AlreadyVoted) => Err(already()),
        Err(crate::store::CastError::EmergencyPaperVote) => Err(paper()),
        Err(crate::store::CastError::Duplicate) => Err(Refusal::new(
            StatusCode::CONFLICT,
            "DUPLICATE_BALLOT",
            "This exact encrypted ballot was already received, so it was not accepted. Go back and vote again: \
             your choice is then encrypted afresh.",
        )),
        Err(crate::store::CastError::Sealed) => Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "VOTING_CLOSED",
            "Online voting has closed (20:00 JST the day before election day).",
        )),
        Err(crate::store::CastError::Storage(e)) => Err(storage_refusal(e)),
        Err(crate::store::CastError::Unavailable(e)) => Err(storage_refusal(e)),
    }
}

/// Writes the refused casts of every hour that has ended (of every hour when `all`: at stop) as one audit row per
/// hour: `{hour, counts: {code: n}, total}`, with no person, session, address or ballot in it (R-SEC-5; issue 11's
/// rule: nothing near the ballot box).
pub async fn write_cast_refusals(
    db: &std::sync::Arc<crate::store::Db>,
    sessions: &crate::voting::sessions::Sessions,
    now: chrono::DateTime<chrono::Utc>,
    all: bool,
) {
    let before = if all { i64::MAX } else { now.timestamp().div_euclid(3600) };
    let hours = sessions.take_cast_refusals_before(before);
    if hours.is_empty() {
        return;
    }
    let db = db.clone();
    let written = tokio::task::spawn_blocking(move || {
        for (hour, counts) in hours {
            let start = chrono::DateTime::from_timestamp(hour * 3600, 0).unwrap_or_default();
            let detail = serde_json::json!({
                "hour": shared::jst::format_jst(start),
                "counts": counts,
                "total": counts.values().sum::<u64>(),
            });
            db.audit(now, crate::store::audit::SYSTEM, "cast_refusals", detail)?;
        }
        anyhow::Ok(())
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        tracing::error!("the refused-cast counts could not be audited");
    }
}

/// `GET /api/v1/audit/checkpoints`: every signed checkpoint of the audit log so far (issue 21), for anyone to keep.
pub fn audit_checkpoints(state: &AppState) -> Result<Response, Refusal> {
    let list = state.db.with(|c| crate::store::audit::checkpoints(c)).map_err(storage_refusal)?;
    Ok(warp::reply::json(&shared::export::PublishedCheckpoints { checkpoints: list }).into_response())
}

/// Publishes every contest's sorted trackers and their Merkle root, after the close only (R-VOTE-8: a voter
/// checks the receipt's tracker is included), with the audit log's checkpoints.
pub fn published_ballot_box(state: &AppState) -> Result<Response, Refusal> {
    let now = state.clock.now();
    let election = state.election.get();
    if election.window().state(now) != WindowState::Closed {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "VOTING_NOT_CLOSED",
            "The ballot box is published after voting closes (20:00 JST the day before election day).",
        ));
    }
    let published = crate::ops::published_ballot_box(&state.db, &election).map_err(storage_refusal)?;
    let published = published.ok_or_else(|| {
        Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "BALLOT_BOX_NOT_SEALED",
            "The ballot box is being sealed after the close. Try again in a minute.",
        )
    })?;
    Ok(warp::reply::json(&published).into_response())
}
