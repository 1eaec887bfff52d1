//! The operator's TOTP login (`POST /op/v1/session`) and the sessions it starts, in memory only.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::OperatorContext;
use super::guard::{RequestFacts, audit_refusal, identify};
use super::refusals::{internal, totp_invalid, totp_locked};
use crate::errors::Refusal;
use crate::operators::Operator;
use crate::operators::auth::{self, TotpCheck};

/// How long an operator session lasts after the TOTP code (absolute, not sliding).
pub const SESSION_HOURS: i64 = 8;
/// Wrong TOTP codes allowed per certificate within [`TOTP_LOCK_MINUTES`] before further codes are refused.
pub const MAX_TOTP_FAILURES: usize = 5;
/// The window of [`MAX_TOTP_FAILURES`].
pub const TOTP_LOCK_MINUTES: i64 = 5;

struct OperatorSession {
    fingerprint: String,
    expires_at: DateTime<Utc>,
}

/// Operator sessions and recent wrong TOTP codes, in memory only: a restart asks everyone for a new code.
#[derive(Default)]
pub struct OperatorSessions {
    sessions: Mutex<HashMap<String, OperatorSession>>,
    failures: Mutex<HashMap<String, Vec<DateTime<Utc>>>>,
}

impl OperatorSessions {
    pub(super) fn start(&self, fingerprint: &str, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
        let mut b = [0u8; 32];
        // Without the OS RNG there is no safe session token: stop rather than continue predictably.
        if getrandom::fill(&mut b).is_err() {
            std::process::abort();
        }
        let token = hex::encode(b);
        let expires_at = now + Duration::hours(SESSION_HOURS);
        let mut map = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, s| s.expires_at > now);
        map.insert(token.clone(), OperatorSession { fingerprint: fingerprint.to_owned(), expires_at });
        (token, expires_at)
    }

    /// Returns the session's end if the token is live and belongs to this certificate.
    pub(super) fn get(&self, token: &str, fingerprint: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let map = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(token).filter(|s| s.fingerprint == fingerprint && s.expires_at > now).map(|s| s.expires_at)
    }

    pub(super) fn end(&self, token: &str) {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner).remove(token);
    }

    pub(super) fn locked(&self, fingerprint: &str, now: DateTime<Utc>) -> bool {
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let since = now - Duration::minutes(TOTP_LOCK_MINUTES);
        map.get_mut(fingerprint).is_some_and(|v| {
            v.retain(|t| *t > since);
            v.len() >= MAX_TOTP_FAILURES
        })
    }

    pub(super) fn failed(&self, fingerprint: &str, now: DateTime<Utc>) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(fingerprint.to_owned())
            .or_default()
            .push(now);
    }

    pub(super) fn succeeded(&self, fingerprint: &str) {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner).remove(fingerprint);
    }
}

/// `POST /op/v1/session` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The 6-digit code from the operator's authenticator app.
    pub totp: String,
}

/// `POST /op/v1/session` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionStarted {
    /// The bearer token: send `Authorization: Bearer <token>` with every call.
    pub token: String,
    /// When the session ends (it is not extended by use).
    pub expires_at: DateTime<Utc>,
    /// Who.
    pub operator: Operator,
}

pub(super) fn start_session(ctx: &OperatorContext, facts: &RequestFacts, body: &[u8]) -> Result<Response, Refusal> {
    let request: SessionRequest = serde_json::from_slice(body).map_err(|e| {
        Refusal::new(StatusCode::BAD_REQUEST, "MALFORMED", format!("The request body is not valid: {e}"))
    })?;
    let operator = identify(ctx, facts)?;
    let now = ctx.clock.real_now();
    if ctx.sessions.locked(&operator.fingerprint, now) {
        let refusal = totp_locked();
        audit_refusal(ctx, &operator.actor(), &refusal, facts, serde_json::json!({}));
        return Err(refusal);
    }
    let check = auth::check_totp(&ctx.db, &operator.fingerprint, &request.totp, now).map_err(internal)?;
    if check != TotpCheck::Accepted {
        ctx.sessions.failed(&operator.fingerprint, now);
        let reused = check == TotpCheck::Reused;
        let detail = serde_json::json!({ "reason": if reused { "reused" } else { "wrong" } });
        ctx.db.audit(now, &operator.actor(), "operator_totp_failed", detail).map_err(internal)?;
        return Err(totp_invalid(reused));
    }
    ctx.sessions.succeeded(&operator.fingerprint);
    let (token, expires_at) = ctx.sessions.start(&operator.fingerprint, now);
    let detail = serde_json::json!({ "expires_at": expires_at });
    if let Err(e) = ctx.db.audit(now, &operator.actor(), "operator_session_started", detail) {
        ctx.sessions.end(&token);
        return Err(internal(e));
    }
    Ok(warp::reply::json(&SessionStarted { token, expires_at, operator }).into_response())
}
