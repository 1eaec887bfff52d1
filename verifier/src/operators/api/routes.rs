//! The operator API's own endpoints (session, whoami, the audit log's check) and what every answer carries: the
//! `/op/v1` prefix, refusals as `{code, message}`, `no-store` and a Content-Security-Policy.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderValue};
use warp::reject;
use warp::reply::{Reply, Response};

use super::guard::{RequestFacts, authenticated, request_facts, require};
use super::refusals::internal;
use super::session::start_session;
use super::{OperatorContext, blocking};
use crate::operators::{Operator, Role};

const MAX_SESSION_BODY: u64 = 1024;

/// The operator API's own endpoints (under `/op/v1`).
fn builtin_routes(ctx: &OperatorContext) -> BoxedFilter<(Response,)> {
    let with = {
        let ctx = ctx.clone();
        move || {
            let ctx = ctx.clone();
            warp::any().map(move || ctx.clone())
        }
    };
    // POST /op/v1/session
    let login = warp::path!("session")
        .and(warp::post())
        .and(warp::body::content_length_limit(MAX_SESSION_BODY))
        .and(warp::body::bytes())
        .and(request_facts())
        .and(with())
        .and_then(|body: bytes::Bytes, facts: RequestFacts, ctx: OperatorContext| {
            blocking(move || start_session(&ctx, &facts, &body))
        });
    // DELETE /op/v1/session
    let logout =
        warp::path!("session").and(warp::delete()).and(authenticated(ctx)).and(request_facts()).and(with()).and_then(
            |operator: Operator, facts: RequestFacts, ctx: OperatorContext| {
                blocking(move || {
                    if let Some(token) = &facts.token {
                        ctx.sessions.end(token);
                    }
                    ctx.db
                        .audit(ctx.clock.now(), &operator.actor(), "operator_session_ended", serde_json::json!({}))
                        .map_err(internal)?;
                    Ok(warp::reply::json(&crate::registration::routes::Ended { ended: true }).into_response())
                })
            },
        );
    // GET /op/v1/whoami
    let whoami = warp::path!("whoami")
        .and(warp::get())
        .and(authenticated(ctx))
        .map(|operator: Operator| warp::reply::json(&operator).into_response());
    // GET /op/v1/audit/verify
    let audit_verify = warp::path!("audit" / "verify")
        .and(warp::get())
        .and(require(ctx, &[Role::Auditor, Role::Admin]))
        .and(with())
        .and_then(|_operator: Operator, ctx: OperatorContext| {
            blocking(move || {
                let v = ctx.db.with(|c| crate::store::audit::verify(c)).map_err(internal)?;
                Ok(warp::reply::json(&v).into_response())
            })
        });
    login.or(logout).unify().or(whoami).unify().or(audit_verify).unify().boxed()
}

/// The operator API's Content-Security-Policy: its pages are self-contained documents with inline styles at most.
pub const OPERATOR_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// A filter with no routes, for a listener with only the built-in endpoints.
pub fn no_routes() -> BoxedFilter<(Response,)> {
    warp::any().and_then(|| async { Err::<Response, _>(reject::not_found()) }).boxed()
}

/// Every operator route: the built-in ones and `extra`, all under `/op/v1`, refusals as `{code, message}`, and
/// `Cache-Control: no-store` on everything, and a Content-Security-Policy that lets an HTML answer (the record, a
/// notice) run no script and load nothing.
pub fn routes(ctx: &OperatorContext, extra: BoxedFilter<(Response,)>) -> BoxedFilter<(Response,)> {
    warp::path("op")
        .and(warp::path("v1"))
        .and(builtin_routes(ctx).or(extra).unify())
        .or(crate::errors::unmatched(&crate::contract::OPERATOR))
        .unify()
        .recover(crate::errors::handle_rejection)
        .unify()
        .map(|mut r: Response| {
            let h = r.headers_mut();
            h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(OPERATOR_CSP));
            h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
            r
        })
        .boxed()
}
