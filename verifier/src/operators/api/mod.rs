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
//!
//! Map: this file holds the listener's settings, the [`OperatorContext`] every filter reads and [`blocking`];
//! [`guard`] settles who is calling ([`authenticated`], [`require`]), [`session`] the TOTP login and its sessions,
//! [`refusals`] the refusals of who is calling, [`routes`] the built-in endpoints and the headers on every answer,
//! and [`tls`] the TLS listener that requires a client certificate not on the CRL.

pub mod guard;
pub mod refusals;
pub mod routes;
pub mod session;
pub mod tls;

pub use guard::{authenticated, check_municipality, require};
pub use refusals::{
    forbidden_role, no_client_cert, operator_revoked, other_municipality, totp_invalid, totp_locked, totp_required,
    unknown_operator,
};
pub use routes::{OPERATOR_CSP, no_routes, routes};
pub use session::{
    MAX_TOTP_FAILURES, OperatorSessions, SESSION_HOURS, SessionRequest, SessionStarted, TOTP_LOCK_MINUTES,
};
pub use tls::{OperatorServer, serve};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use warp::reply::Response;
use warp::{Rejection, reject};

use crate::clock::Clock;
use crate::errors::Refusal;
use crate::operators::auth;
use crate::store::Db;
use refusals::internal;

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
