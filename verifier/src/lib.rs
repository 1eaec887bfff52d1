//! `verifier`: the voting subsystem, a warp server that serves the voter app and its JSON API on one origin.
//!
//! Map:
//! - [`cli`]: the `verifier` command line (`serve`, `election check`).
//! - [`server`]: binds, serves until Ctrl-C, logs as JSON.
//! - [`filters`]: one warp filter per endpoint, documented by its HTTP line; [`handlers`] answer them.
//! - [`errors`]: every refusal as `{code, message}` with a stable code and a sentence saying what to do.
//! - [`web`]: the built voter app, served with a strict Content-Security-Policy.
//! - [`clock`]: the server's clock, the only source of "now" (R-VOTE-1: election times are JST from the server).
//! - [`demo`]: the embedded demo election, re-dated so that voting is open now.
//!
//! What it must never do: receive a PIN or password, hold the election's private key, or store or log anything
//! that joins a voter to a ballot (R-VOTE-8).

pub mod certs;
pub mod cli;
pub mod clock;
pub mod demo;
pub mod errors;
pub mod filters;
pub mod handlers;
pub mod server;
pub mod web;

use std::sync::Arc;

use shared::election::Election;

/// What every request handler may read.
#[derive(Clone)]
pub struct AppState {
    /// The election being run.
    pub election: Arc<Election>,
    /// The server's clock.
    pub clock: clock::Clock,
}
