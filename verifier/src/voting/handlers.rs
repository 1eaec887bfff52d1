//! The answers of the voter API's endpoints.

use shared::api::{ElectionSummary, TimeResponse};
use warp::Reply;
use warp::reply::Response;

use crate::AppState;

/// Answers that the server runs.
pub fn health() -> Response {
    warp::reply::json(&shared::api::Health { status: "ok".into() }).into_response()
}

/// Answers the server's time in UTC and JST (the app's clock offset, R-VOTE-1).
pub fn time(state: &AppState) -> Response {
    warp::reply::json(&TimeResponse::at(state.clock.now())).into_response()
}

/// Answers the election's public facts: name, kind, window in UTC and JST and its state (R-VOTE-2).
pub fn current_election(state: &AppState) -> Response {
    let paused = state.db.pause_state().ok().flatten().map(|(reason, _)| reason);
    let mut summary = ElectionSummary::of(&state.election.get(), state.clock.now(), paused);
    summary.insecure_test_clock = state.clock.test_offset().is_some();
    warp::reply::json(&summary).into_response()
}

/// `GET /api/v1/elections/current/definition`: the election as filed and its public key, for the card helper,
/// which shows a ballot's choice in words from this, never from the page (issue 18).
pub fn election_definition(state: &AppState) -> Response {
    let body = ElectionDefinition {
        election: (*state.election.get()).clone(),
        public_key: state.key.spki_der().to_vec().into(),
        key_fingerprint: state.key.fingerprint(),
    };
    warp::reply::json(&body).into_response()
}

// ---- Login and voting (R-VOTE-4..9) ----

use shared::api::{
    BallotView, CastReceipt, CastRequest, Challenge, ContestView, ElectionDefinition, LoginRequest, LoginResponse,
    Purpose,
};
use shared::crypto::{auth_message, envelope_message};
use shared::window::WindowState;
use warp::http::StatusCode;

use crate::certs::{CertError, CertKind};
use crate::errors::Refusal;
use crate::voting::sessions::{ChallengeError, Session, SessionError};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "vsession";

fn cert_refusal(e: &CertError) -> Refusal {
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

fn session_refusal(e: SessionError) -> Refusal {
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
    }
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

fn registered(session: &Session) -> Result<&crate::store::Voter, Refusal> {
    session.voter.as_ref().ok_or_else(|| {
        Refusal::new(
            StatusCode::FORBIDDEN,
            "NOT_REGISTERED",
            "This card is not registered for internet voting. Apply to your municipal election committee.",
        )
    })
}

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
    let (session, token) = result.inspect_err(|r| state.sessions.count_failure(r.code))?;
    let (actor, action, detail) = match &session.voter {
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
    let session = result.map_err(|e| match e {
        crate::voting::sessions::ExtendError::Session(e) => session_refusal(e),
        crate::voting::sessions::ExtendError::OtherCard => Refusal::new(
            StatusCode::FORBIDDEN,
            "OTHER_CARD",
            "This is not the card you logged in with. Use the same My Number card to extend your session.",
        ),
        crate::voting::sessions::ExtendError::Limit => Refusal::new(
            StatusCode::FORBIDDEN,
            "EXTENSION_LIMIT",
            "Your session cannot be extended again. Finish voting, or log in again after it ends.",
        ),
    })?;
    let actor =
        session.voter.as_ref().map_or(crate::store::audit::SYSTEM.to_string(), |v| format!("voter:{}", v.person_id));
    state
        .db
        .audit(now, &actor, "session_extended", serde_json::json!({ "extensions": session.extensions }))
        .map_err(storage_refusal)?;
    Ok(session_reply(state, &session, token.as_deref().unwrap_or_default(), StatusCode::OK))
}

/// The session's handle on a checked card: its fingerprint as 32 bytes.
fn card_id(checked: &crate::certs::CheckedCert) -> Result<crate::voting::sessions::CardId, Refusal> {
    crate::voting::sessions::CardId::from_fingerprint(&checked.fingerprint).ok_or_else(|| {
        tracing::error!("a checked certificate's fingerprint is not 64 hex characters");
        Refusal::internal()
    })
}

fn challenge_refusal(e: ChallengeError) -> Refusal {
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
    }
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

fn login_checks(
    state: &AppState,
    req: &LoginRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Session, String), Refusal> {
    let (checked, cert) = verified_card(state, req, now)?;
    let applying = req.purpose.unwrap_or_default() == Purpose::Apply;
    let voter = state.db.voter_by_cert(&checked.fingerprint, CertKind::Auth).map_err(storage_refusal)?;
    let card = card_id(&checked)?;
    let pending = crate::voting::sessions::Session {
        voter: None,
        card,
        applicant: None,
        clock: shared::session::SessionClock::start(now, chrono::Duration::zero()),
        extensions: 0,
    };
    if applying {
        // An applicant session: any valid card may apply or see its own applications (R-REG-1, R-REG-2).
        let applicant =
            crate::voting::sessions::ApplicantCard { serial: checked.serial.clone(), certificate: cert.clone() };
        let session = crate::voting::sessions::Session { voter, applicant: Some(applicant.into()), ..pending };
        let (token, clock) =
            state.sessions.start(session.clone(), now, state.config.session_lifetime).map_err(challenge_refusal)?;
        return Ok((crate::voting::sessions::Session { clock, ..session }, token));
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
    let session = crate::voting::sessions::Session { voter: Some(voter), ..pending };
    let (token, clock) =
        state.sessions.start(session.clone(), now, state.config.session_lifetime).map_err(challenge_refusal)?;
    Ok((crate::voting::sessions::Session { clock, ..session }, token))
}

/// Ends the session.
pub fn logout(state: &AppState, token: Option<String>) -> Response {
    if let Some(t) = token {
        state.sessions.end(&t);
    }
    let mut r = warp::reply::json(&shared::api::Empty {}).into_response();
    let expire = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/api/v1; Max-Age=0");
    if let Ok(v) = warp::http::HeaderValue::from_str(&expire) {
        r.headers_mut().insert(warp::http::header::SET_COOKIE, v);
    }
    r
}

/// Returns the voter's contests with their status, the election key and the deadlines.
pub fn ballot(state: &AppState, token: Option<String>) -> Result<Response, Refusal> {
    let now = state.clock.now();
    let session = state.sessions.get(token.as_deref(), now).map_err(session_refusal)?;
    let voter = registered(&session)?;
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
    let voter = registered(&session)?;
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

// ---- Applications (R-REG-1, R-REG-2, R-REG-9) ----

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
    let Some(applicant) = session.applicant.clone() else {
        return Err(Refusal::new(
            StatusCode::UNAUTHORIZED,
            "NO_SESSION",
            "This is a voting session, not an application session. Log in again from the application page to apply.",
        ));
    };
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
