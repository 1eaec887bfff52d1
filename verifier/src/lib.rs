//! `verifier`: the voting subsystem, a warp server that serves the voter app and its JSON API on one origin.
//!
//! Map (the folders are the subsystems the seed names; the seed's counting subsystem, 開票, is the offline
//! `tally` crate, and the ballot box is the `ballot-box` crate):
//! - [`cli`]: the `verifier` command line, one file per subcommand; [`server`] binds both listeners and serves
//!   until Ctrl-C, logging as JSON.
//! - [`voting`] (投票): the voter API on the open internet: listener, rate limits, filters and handlers,
//!   sessions, the served app, candidate changes.
//! - [`registration`] (名簿): applications, switches, the roll, history, cross-channel checks, the record
//!   (R-REG-*), e-mail notices to voters (R-REG-7), and the committees' endpoints on the operator API.
//! - [`operators`]: the people who run the election (R-SEC-4): the operator CA, TOTP, roles, the operator API on
//!   its own TLS listener, four eyes, the named operator behind a command on the host.
//! - [`store`]: the voter store and its one versioned schema, the protocol that records a cast in it and in the
//!   ballot box's own file (R-VOTE-8, R-VOTE-9), the hash-chained audit log (R-SEC-5) and its signed checkpoints.
//! - [`certs`]: JPKI certificate checks (chain, validity, usage, CRL; R-VOTE-5, R-VOTE-6), and the CRLs re-read
//!   while serving.
//! - [`ops`]: the zero-vote check with its build check, the signed export after the close, the ballot-box digest.
//! - [`research`]: UX research in practice elections only: mode assignment, anonymous task metrics, instructed
//!   studies, and their reports (tracker issues 9 and 22).
//! - [`contract`]: both APIs as data (404, 405, OpenAPI); [`errors`]: every refusal as `{code, message}`.
//! - [`clock`]: the server's clock, the only source of "now" (R-VOTE-1: election times are JST from the server);
//!   [`demo`]: the embedded demo election, re-dated so that voting is open now.
//!
//! What it must never do: receive a PIN or password, hold the election's private key, or store or log anything
//! that joins a voter to a ballot (R-VOTE-8).

pub mod certs;
pub mod cli;
pub mod clock;
pub mod contract;
pub mod demo;
pub mod errors;
pub mod operators;
pub mod ops;
pub mod registration;
pub mod research;
pub mod server;
pub mod store;
pub mod voting;

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
    pub db: Arc<store::Db>,
    /// Trusted CAs and CRLs for voters' certificates; without them nobody can log in.
    pub trust: Option<Arc<certs::TrustStore>>,
    /// Challenges and sessions.
    pub sessions: Arc<voting::sessions::Sessions>,
    /// Per-network rate limits.
    pub limits: Arc<voting::limits::RateLimits>,
    /// The server's clock.
    pub clock: clock::Clock,
    /// Settings.
    pub config: Arc<Config>,
}
