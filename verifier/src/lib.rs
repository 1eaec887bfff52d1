//! `verifier`: the voting subsystem, a warp server that serves the voter app and its JSON API on one origin.
//!
//! Map:
//! - [`cli`]: the `verifier` command line (`serve`, `election check`).
//! - [`server`]: binds, serves until Ctrl-C, logs as JSON.
//! - [`limits`]: per-address and per-network rate limits on challenges, logins and casts (429 `RATE_LIMITED`, issue 19).
//! - [`listener`]: the voter listener on the open internet: TLS in the verifier itself, a connection cap, and
//!   deadlines for the request head and the whole request (issue 19).
//! - [`filters`]: one warp filter per endpoint, documented by its HTTP line; [`handlers`] answer them.
//! - [`errors`]: every refusal as `{code, message}` with a stable code and a sentence saying what to do.
//! - [`web`]: the built voter app, served with a strict Content-Security-Policy.
//! - [`clock`]: the server's clock, the only source of "now" (R-VOTE-1: election times are JST from the server).
//! - [`demo`]: the embedded demo election, re-dated so that voting is open now.
//! - [`db`]: the voter store, and the protocol that records a cast in it and in the ballot box's own file (R-VOTE-8,
//!   R-VOTE-9); [`schema`]: the voter store's one schema, versioned with `user_version` (issue 23 part 2).
//! - [`audit`]: the hash-chained audit log (R-SEC-5).
//! - [`checkpoints`]: the audit log's head signed with the audit key, at an interval and after critical actions,
//!   published so that a kept copy shows a cut-off or rewritten log (issue 21).
//! - [`sessions`]: stateless login challenges, bounded sessions and failed-login counts, in memory only (R-VOTE-4,
//!   R-VOTE-5, issue 19).
//! - [`registration`]: applications, switches, the roll, history, cross-channel checks, the record (R-REG-*).
//! - [`notify`]: e-mail notices to voters (R-REG-7), queued in the database and retried until sent.
//! - [`research`]: UX research in practice elections only: mode assignment, anonymous task metrics, mock
//!   elections; [`research_report`] turns the metrics into CSV, SVG plots and an HTML summary (tracker issue 9).
//! - [`study`]: instructed usability studies (tasks with targets, counterbalanced layouts, the SUS) and their
//!   analysis (issue 22 part 6); practice elections only.
//! - [`build_check`]: the zero-vote check's comparison of the running programs and the served app with the
//!   audited build's published hashes (issue 21).
//! - [`ops`]: zero-vote check, signed export after the close, the published ballot-box digest.
//! - [`certs`]: JPKI certificate checks: chain, validity, usage, CRL (R-VOTE-5, R-VOTE-6).
//! - [`crl_watch`]: the card CRLs re-read while serving, on file change and every minute, with alarms (issue 19).
//! - [`operator_auth`]: the operator CA (client certificates, CRL), the operators table and TOTP (R-SEC-4).
//! - [`host_operator`]: the named operator behind a command on the verifier host: certificate, key and a TOTP
//!   login, as on the operator API (issue 21).
//! - [`crew`]: named operators driving the binary for the demo, rehearsals and tests (never a real election's).
//! - [`four_eyes`]: critical actions requested by one operator and carried out only when another approves.
//! - [`operator_api`]: the operator API on its own TLS listener: client certificate + TOTP session, roles.
//! - [`operator_routes`]: the committees' endpoints on it (applications, roll, switches, checks, record).
//! - [`contract`]: both APIs as data: the 404 and 405 answers and the OpenAPI documents come from it.
//!
//! What it must never do: receive a PIN or password, hold the election's private key, or store or log anything
//! that joins a voter to a ballot (R-VOTE-8).

pub mod audit;
pub mod build_check;
pub mod certs;
pub mod checkpoints;
pub mod cli;
pub mod clock;
pub mod contract;
pub mod crew;
pub mod crl_watch;
pub mod db;
pub mod demo;
pub mod errors;
pub mod filters;
pub mod four_eyes;
pub mod handlers;
pub mod host_operator;
pub mod limits;
pub mod listener;
pub mod notify;
pub mod operator_api;
pub mod operator_auth;
pub mod operator_routes;
pub mod operators;
pub mod ops;
pub mod registration;
pub mod research;
pub mod research_report;
pub mod schema;
pub mod server;
pub mod sessions;
pub mod study;
pub mod web;
pub mod withdrawals;

use std::sync::Arc;

use shared::crypto::ElectionPublicKey;
use shared::election::Election;

/// Settings of the voter API.
#[derive(Clone, Debug)]
pub struct Config {
    /// The origin voters use (e.g. `https://vote.example.jp`): the card helper binds it into login signatures.
    pub public_origin: String,
    /// Session lifetime after login (R-VOTE-4; 20 minutes by default).
    pub session_lifetime: chrono::Duration,
    /// How often a voter may extend a session by logging in again with the same card (WCAG 2.2.1).
    pub session_extensions: u32,
    /// Mark cookies `Secure` (behind TLS).
    pub secure_cookies: bool,
    /// The card helper's origin on the voter's PC (the app calls it; the page's CSP allows it).
    pub card_helper_origin: String,
    /// The UX researcher's mode assignment (tracker issue 9); given to the app in practice elections only.
    pub research: Option<shared::api::ResearchConfig>,
    /// The researcher's instructed study (issue 22 part 6); served in practice elections only.
    pub study: Option<Arc<shared::study::Study>>,
}

/// The election being run: as filed, with the candidate changes made while voting was paused (R-VOTE-3). The
/// voter API and the operator API share one, so that a change is offered to the next voter who loads the ballot.
#[derive(Clone)]
pub struct CurrentElection(Arc<std::sync::RwLock<Arc<Election>>>);

impl CurrentElection {
    /// Wraps the election loaded from the database.
    pub fn new(election: Election) -> CurrentElection {
        CurrentElection(Arc::new(std::sync::RwLock::new(Arc::new(election))))
    }

    /// Returns the election now in force.
    pub fn get(&self) -> Arc<Election> {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Puts a changed election in force (after the database has committed it).
    pub fn replace(&self, election: Election) {
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(election);
    }
}

/// What every request handler may read.
#[derive(Clone)]
pub struct AppState {
    /// The election being run.
    pub election: CurrentElection,
    /// The election's public key.
    pub key: Arc<ElectionPublicKey>,
    /// The database.
    pub db: Arc<db::Db>,
    /// Trusted CAs and CRLs for voters' certificates; without them nobody can log in.
    pub trust: Option<Arc<certs::TrustStore>>,
    /// Challenges and sessions.
    pub sessions: Arc<sessions::Sessions>,
    /// Per-network rate limits.
    pub limits: Arc<limits::RateLimits>,
    /// The server's clock.
    pub clock: clock::Clock,
    /// Settings.
    pub config: Arc<Config>,
}
