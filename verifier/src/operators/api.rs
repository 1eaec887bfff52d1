//! The operator API (R-SEC-4) on its own TLS listener, separate from the voters' listener.
//!
//! Who is calling is settled in two steps:
//! 1. TLS (rustls, ring, TLS 1.3 only) requires a client certificate signed by the operator CA and not on its CRL
//!    ([`crate::operators::auth::CRL_FILE`], re-read for every new connection, so a revocation takes effect at the
//!    next connection without a restart). Without one the handshake fails: no HTTP request is ever read.
//! 2. Every request then needs a live operator session bound to that certificate: `POST /op/v1/session` with the
//!    TOTP code (RFC 6238) returns a bearer token for 8 hours (`Authorization: Bearer <token>`). The certificate
//!    must be registered in the `operators` table and not revoked there (which also ends live sessions).
//!
//! Domain endpoints are warp filters mounted under `/op/v1` (see [`OperatorServer::bind`]); they get the
//! [`Operator`] from [`authenticated`] or [`require`]. Every call with a known certificate is an audit entry
//! naming the person: `operator_request` (method, path) when it passes, `operator_refused` (code) when not,
//! `operator_totp_failed` for a wrong or reused code, `operator_forbidden` for a role that may not call it.
//! Endpoints add their own entries for what they change. Refusals are `{code, message}` ([`Refusal`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration as StdDuration;

use anyhow::{Context, anyhow};
use chrono::{DateTime, Duration, Utc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use tokio_rustls::TlsAcceptor;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::filters::path::FullPath;
use warp::http::StatusCode;
use warp::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderValue};
use warp::reply::{Reply, Response};
use warp::{Rejection, reject};

use crate::clock::Clock;
use crate::errors::Refusal;
use crate::operators::auth::{self, TotpCheck};
use crate::operators::{Operator, Role};
use crate::store::Db;

/// How long an operator session lasts after the TOTP code (absolute, not sliding).
pub const SESSION_HOURS: i64 = 8;
/// Wrong TOTP codes allowed per certificate within [`TOTP_LOCK_MINUTES`] before further codes are refused.
pub const MAX_TOTP_FAILURES: usize = 5;
/// The window of [`MAX_TOTP_FAILURES`].
pub const TOTP_LOCK_MINUTES: i64 = 5;
const HANDSHAKE_TIMEOUT: StdDuration = StdDuration::from_secs(10);
const MAX_SESSION_BODY: u64 = 1024;

/// Where and how the operator listener runs.
#[derive(Clone)]
pub struct OperatorApiConfig {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The operator CA folder: [`auth::CA_CERT_FILE`] and [`auth::CRL_FILE`] are read from it.
    pub ca_dir: PathBuf,
    /// The listener's certificate chain (PEM), from [`auth::OperatorCa::server_cert`].
    pub server_cert_pem: String,
    /// The listener's private key (PKCS#8 PEM).
    pub server_key_pem: String,
}

impl std::fmt::Debug for OperatorApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorApiConfig")
            .field("listen", &self.listen)
            .field("ca_dir", &self.ca_dir)
            .finish_non_exhaustive()
    }
}

impl OperatorApiConfig {
    /// Reads the listener's certificate and key from the CA folder, where
    /// [`auth::OperatorCa::write_server_cert`] puts them.
    pub fn from_ca_dir(listen: SocketAddr, ca_dir: &Path) -> anyhow::Result<OperatorApiConfig> {
        let read = |name: &str| {
            let path = ca_dir.join(name);
            std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {} (run `verifier operators server-cert` first)", path.display()))
        };
        Ok(OperatorApiConfig {
            listen,
            ca_dir: ca_dir.to_path_buf(),
            server_cert_pem: read(auth::SERVER_CERT_FILE)?,
            server_key_pem: read(auth::SERVER_KEY_FILE)?,
        })
    }
}

/// The verified client certificate of the connection a request came on, put into each request's extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerCert {
    /// Hex SHA-256 of the certificate (DER).
    pub fingerprint: String,
}

/// The outcome of authentication, computed once per request however many routes ask for it (so it is audited
/// once).
#[derive(Clone, Default)]
struct AuthOnce(Arc<OnceLock<Result<Operator, Refusal>>>);

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
    fn start(&self, fingerprint: &str, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
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
    fn get(&self, token: &str, fingerprint: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let map = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(token).filter(|s| s.fingerprint == fingerprint && s.expires_at > now).map(|s| s.expires_at)
    }

    fn end(&self, token: &str) {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner).remove(token);
    }

    fn locked(&self, fingerprint: &str, now: DateTime<Utc>) -> bool {
        let mut map = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let since = now - Duration::minutes(TOTP_LOCK_MINUTES);
        map.get_mut(fingerprint).is_some_and(|v| {
            v.retain(|t| *t > since);
            v.len() >= MAX_TOTP_FAILURES
        })
    }

    fn failed(&self, fingerprint: &str, now: DateTime<Utc>) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(fingerprint.to_owned())
            .or_default()
            .push(now);
    }

    fn succeeded(&self, fingerprint: &str) {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner).remove(fingerprint);
    }
}

/// What every operator filter may read.
#[derive(Clone)]
pub struct OperatorContext {
    /// The database (the same one the voter API uses).
    pub db: Arc<Db>,
    /// The server's clock.
    pub clock: Clock,
    sessions: Arc<OperatorSessions>,
    audit_key: Option<Arc<crate::store::checkpoints::AuditKey>>,
}

impl OperatorContext {
    /// Makes the context (the store's schema, `operators` included, is made when it opens).
    pub fn new(db: Arc<Db>) -> anyhow::Result<OperatorContext> {
        Ok(OperatorContext { db, clock: Clock::SYSTEM, sessions: Arc::default(), audit_key: None })
    }

    /// Uses the voter API's clock (an insecure test clock in rehearsals) for election rules such as the record
    /// after the close. One-time codes and operator sessions always run on the real time.
    pub fn with_clock(self, clock: Clock) -> OperatorContext {
        OperatorContext { clock, ..self }
    }

    /// Signs a checkpoint of the audit log after each critical action taken through the API (issue 21).
    pub fn with_audit_key(self, key: Arc<crate::store::checkpoints::AuditKey>) -> OperatorContext {
        OperatorContext { audit_key: Some(key), ..self }
    }

    /// Signs a checkpoint after a critical action, when the context has the audit key. A failure is logged as an
    /// alarm and does not undo the action, which is already in the log; the next interval signs it.
    pub fn checkpoint(&self, reason: &str) {
        let Some(key) = &self.audit_key else { return };
        let now = Clock::SYSTEM.now();
        if let Err(e) = self.db.with(|c| crate::store::checkpoints::sign_head(c, key, now, reason, false)) {
            tracing::error!(error = %e, reason, "ALARM: cannot sign an audit checkpoint");
        }
    }
}

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

fn internal(what: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %what, "operator API failure");
    Refusal::internal()
}

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

/// Runs blocking work (database) off the async threads; a refusal becomes a rejection.
pub async fn blocking<F>(f: F) -> Result<Response, Rejection>
where
    F: FnOnce() -> Result<Response, Refusal> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(refusal)) => Err(reject::custom(refusal)),
        Err(e) => Err(reject::custom(internal(e))),
    }
}

/// What authentication reads from a request.
#[derive(Clone)]
struct RequestFacts {
    peer: Option<PeerCert>,
    once: Option<AuthOnce>,
    token: Option<String>,
    method: String,
    path: String,
}

fn request_facts() -> impl Filter<Extract = (RequestFacts,), Error = Infallible> + Clone {
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

fn audit_refusal(
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
fn identify(ctx: &OperatorContext, facts: &RequestFacts) -> Result<Operator, Refusal> {
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

fn start_session(ctx: &OperatorContext, facts: &RequestFacts, body: &[u8]) -> Result<Response, Refusal> {
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

/// The TLS settings, rebuilt whenever the CRL file changes.
struct Tls {
    ca_dir: PathBuf,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    current: Mutex<Option<(Vec<u8>, TlsAcceptor)>>,
}

impl Tls {
    fn new(config: &OperatorApiConfig) -> anyhow::Result<Tls> {
        let chain = CertificateDer::pem_slice_iter(config.server_cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow!("the operator listener's certificate is not PEM: {e}"))?;
        anyhow::ensure!(!chain.is_empty(), "the operator listener's certificate PEM holds no certificate");
        let key = PrivateKeyDer::from_pem_slice(config.server_key_pem.as_bytes())
            .map_err(|e| anyhow!("the operator listener's key is not a PEM private key: {e}"))?;
        let tls = Tls { ca_dir: config.ca_dir.clone(), chain, key, current: Mutex::new(None) };
        tls.acceptor()?;
        Ok(tls)
    }

    /// Returns the acceptor for the current CRL, rebuilding it if the file changed. Fails closed: if the CA or
    /// CRL cannot be read, no connection is accepted.
    fn acceptor(&self) -> anyhow::Result<TlsAcceptor> {
        let crl_path = self.ca_dir.join(auth::CRL_FILE);
        let crl = std::fs::read(&crl_path).with_context(|| format!("cannot read {}", crl_path.display()))?;
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((seen, acceptor)) = current.as_ref()
            && *seen == crl
        {
            return Ok(acceptor.clone());
        }
        let acceptor = self.build(&crl)?;
        if current.is_some() {
            tracing::info!(crl = %crl_path.display(), "operator CRL reloaded");
        }
        *current = Some((crl, acceptor.clone()));
        Ok(acceptor)
    }

    fn build(&self, crl_pem: &[u8]) -> anyhow::Result<TlsAcceptor> {
        let ca_path = self.ca_dir.join(auth::CA_CERT_FILE);
        let ca_pem = std::fs::read(&ca_path).with_context(|| format!("cannot read {}", ca_path.display()))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&ca_pem) {
            roots.add(cert.map_err(|e| anyhow!("{}: {e}", ca_path.display()))?)?;
        }
        anyhow::ensure!(!roots.is_empty(), "{} holds no certificate", ca_path.display());
        let crls = CertificateRevocationListDer::pem_slice_iter(crl_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow!("the operator CRL is not PEM: {e}"))?;
        anyhow::ensure!(!crls.is_empty(), "the operator CRL file holds no CRL");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .with_crls(crls)
            .build()
            .context("the operator client-certificate verifier")?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .context("TLS 1.3 with the ring provider")?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .context("the operator listener's certificate and key")?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// The operator listener, bound and ready to run.
pub struct OperatorServer {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    tls: Arc<Tls>,
    routes: BoxedFilter<(Response,)>,
}

impl OperatorServer {
    /// Binds the listener and loads the TLS settings. `extra` are the domain endpoints, mounted under `/op/v1`
    /// (write them as `warp::path!("applications" / ..)`), built with [`authenticated`] or [`require`] on `ctx`.
    pub async fn bind(
        config: OperatorApiConfig,
        ctx: &OperatorContext,
        extra: BoxedFilter<(Response,)>,
    ) -> anyhow::Result<OperatorServer> {
        let tls = Arc::new(Tls::new(&config)?);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {} for operators", config.listen))?;
        let addr = listener.local_addr()?;
        Ok(OperatorServer { listener, addr, tls, routes: routes(ctx, extra) })
    }

    /// Returns the bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then lets open connections finish.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        tracing::info!(addr = %self.addr, "operator API listening");
        loop {
            let (tcp, remote) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::warn!(error = %e, "operator listener accept failed");
                        tokio::time::sleep(StdDuration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            // As on the voter listener: an answer never waits for the client's delayed ACK.
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(%remote, error = %e, "TCP_NODELAY not set");
            }
            let acceptor = match self.tls.acceptor() {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "operator TLS settings unusable; connection dropped");
                    continue;
                }
            };
            let routes = self.routes.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::info!(%remote, error = %e, "operator TLS handshake refused");
                        return;
                    }
                    Err(_) => {
                        tracing::info!(%remote, "operator TLS handshake timed out");
                        return;
                    }
                };
                let Some(peer) = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| PeerCert { fingerprint: auth::fingerprint(c) })
                else {
                    tracing::warn!(%remote, "operator connection without a client certificate");
                    return;
                };
                serve_connection(tls, peer, routes, watcher).await;
            });
        }
        drop(self.listener);
        graceful.shutdown().await;
        tracing::info!("operator API stopped");
    }
}

async fn serve_connection(
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    peer: PeerCert,
    routes: BoxedFilter<(Response,)>,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let svc = hyper_util::service::TowerToHyperService::new(warp::service(routes));
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(peer.clone());
        req.extensions_mut().insert(AuthOnce::default());
        hyper::service::Service::call(&svc, req)
    });
    let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(tls), svc);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "operator connection ended with an error");
    }
}

/// Binds and serves the operator API until `shutdown`; prints `verifier: operator API listening on https://ADDR/`
/// once bound.
pub async fn serve(
    config: OperatorApiConfig,
    ctx: OperatorContext,
    extra: BoxedFilter<(Response,)>,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let server = OperatorServer::bind(config, &ctx, extra).await?;
    println!("verifier: operator API listening on https://{}/", server.local_addr());
    server.run(shutdown).await;
    Ok(())
}
