//! Who is calling: the registered, unrevoked operator holding the connection's certificate, with a live
//! session bound to it; every refusal is audited with the person's name.

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};

use warp::filters::path::FullPath;
use warp::{Filter, Rejection, reject};

use super::refusals::{
    forbidden_role, internal, no_client_cert, operator_revoked, other_municipality, totp_required, unknown_operator,
};
use super::{OperatorContext, PeerCert};
use crate::errors::Refusal;
use crate::operators::auth;
use crate::operators::{Operator, Role};

/// The outcome of authentication, computed once per request however many routes ask for it (so it is audited
/// once).
#[derive(Clone, Default)]
pub(super) struct AuthOnce(Arc<OnceLock<Result<Operator, Refusal>>>);

/// Refuses, with `OTHER_MUNICIPALITY` and an audit entry, an operator who may not see a municipality's data
/// ([`Operator::may_see`]). Call it from blocking code (it writes to the database).
pub fn check_municipality(ctx: &OperatorContext, operator: &Operator, municipality: &str) -> Result<(), Refusal> {
    if operator.may_see(municipality) {
        return Ok(());
    }
    let detail = serde_json::json!({ "code": "OTHER_MUNICIPALITY", "municipality": municipality });
    ctx.db.audit(ctx.clock.now(), &operator.actor(), "operator_refused", detail).map_err(internal)?;
    Err(other_municipality(municipality))
}
/// What authentication reads from a request.
#[derive(Clone)]
pub(super) struct RequestFacts {
    peer: Option<PeerCert>,
    once: Option<AuthOnce>,
    pub(super) token: Option<String>,
    method: String,
    path: String,
}

pub(super) fn request_facts() -> impl Filter<Extract = (RequestFacts,), Error = Infallible> + Clone {
    warp::ext::optional::<PeerCert>()
        .and(warp::ext::optional::<AuthOnce>())
        .and(warp::filters::header::headers_cloned())
        .and(warp::method())
        .and(warp::path::full())
        .map(|peer, once, headers: warp::http::HeaderMap, method: warp::http::Method, path: FullPath| {
            let token = headers
                .get(warp::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(|t| t.trim().to_owned());
            RequestFacts { peer, once, token, method: method.to_string(), path: path.as_str().to_owned() }
        })
}

pub(super) fn audit_refusal(
    ctx: &OperatorContext,
    actor: &str,
    refusal: &Refusal,
    facts: &RequestFacts,
    extra: serde_json::Value,
) {
    let mut detail = serde_json::json!({ "code": refusal.code, "method": facts.method, "path": facts.path });
    if let (Some(d), serde_json::Value::Object(e)) = (detail.as_object_mut(), extra) {
        d.extend(e);
    }
    if let Err(e) = ctx.db.audit(ctx.clock.now(), actor, "operator_refused", detail) {
        tracing::error!(error = %e, "cannot audit an operator refusal");
    }
}

/// The registered, unrevoked operator holding the connection's certificate (refusals audited).
pub(super) fn identify(ctx: &OperatorContext, facts: &RequestFacts) -> Result<Operator, Refusal> {
    let peer = facts.peer.as_ref().ok_or_else(no_client_cert)?;
    match auth::lookup(&ctx.db, &peer.fingerprint).map_err(internal)? {
        None => {
            let refusal = unknown_operator();
            let actor = format!("operator-cert:{}", &peer.fingerprint[..16.min(peer.fingerprint.len())]);
            audit_refusal(ctx, &actor, &refusal, facts, serde_json::json!({ "fingerprint": peer.fingerprint }));
            Err(refusal)
        }
        Some(r) if r.revoked => {
            let refusal = operator_revoked();
            audit_refusal(ctx, &r.operator.actor(), &refusal, facts, serde_json::json!({ "serial": r.serial }));
            Err(refusal)
        }
        Some(r) => Ok(r.operator),
    }
}

fn authenticate(ctx: &OperatorContext, facts: &RequestFacts) -> Result<Operator, Refusal> {
    let operator = identify(ctx, facts)?;
    let now = ctx.clock.real_now();
    if facts.token.as_deref().and_then(|t| ctx.sessions.get(t, &operator.fingerprint, now)).is_none() {
        let refusal = totp_required();
        audit_refusal(ctx, &operator.actor(), &refusal, facts, serde_json::json!({}));
        return Err(refusal);
    }
    let detail = serde_json::json!({ "method": facts.method, "path": facts.path });
    ctx.db.audit(now, &operator.actor(), "operator_request", detail).map_err(internal)?;
    Ok(operator)
}

/// The authenticated operator: a verified client certificate, registered and not revoked, with a live session
/// bound to it. Writes the request's audit entry (once per request). Refuses with `NO_CLIENT_CERT`,
/// `UNKNOWN_OPERATOR`, `OPERATOR_REVOKED` or `TOTP_REQUIRED`. Put it after the path and method filters.
pub fn authenticated(ctx: &OperatorContext) -> impl Filter<Extract = (Operator,), Error = Rejection> + Clone + use<> {
    let ctx = ctx.clone();
    request_facts().and_then(move |facts: RequestFacts| {
        let ctx = ctx.clone();
        async move {
            let result = tokio::task::spawn_blocking(move || match &facts.once {
                Some(once) => once.0.get_or_init(|| authenticate(&ctx, &facts)).clone(),
                None => authenticate(&ctx, &facts),
            })
            .await
            .unwrap_or_else(|e| Err(internal(e)));
            result.map_err(reject::custom)
        }
    })
}

/// [`authenticated`], and the operator's role must be one of `roles` (else `FORBIDDEN_ROLE`, audited).
pub fn require(
    ctx: &OperatorContext,
    roles: &'static [Role],
) -> impl Filter<Extract = (Operator,), Error = Rejection> + Clone + use<> {
    let audit_ctx = ctx.clone();
    authenticated(ctx).and(warp::path::full()).and_then(move |operator: Operator, path: FullPath| {
        let ctx = audit_ctx.clone();
        async move {
            if roles.contains(&operator.role) {
                return Ok(operator);
            }
            let refusal = forbidden_role(operator.role, roles);
            let detail = serde_json::json!({
                "code": refusal.code, "path": path.as_str(), "role": auth::role_str(operator.role),
            });
            let actor = operator.actor();
            let audited = tokio::task::spawn_blocking(move || {
                ctx.db.audit(ctx.clock.now(), &actor, "operator_forbidden", detail)
            })
            .await;
            match audited {
                Ok(Ok(())) => Err(reject::custom(refusal)),
                Ok(Err(e)) => Err(reject::custom(internal(e))),
                Err(e) => Err(reject::custom(internal(e))),
            }
        }
    })
}
