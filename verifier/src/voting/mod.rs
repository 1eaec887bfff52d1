//! The voting subsystem (投票): the voter API on the open internet, from the login challenge to the receipt.
//!
//! Map:
//! - [`listener`]: TLS in the verifier itself, a connection cap, deadlines for the request head and the whole
//!   request (issue 19).
//! - [`limits`]: per-address and per-network rate limits on challenges, logins and casts (429 `RATE_LIMITED`).
//! - [`filters`]: one warp filter per endpoint, documented by its HTTP line; [`handlers`] answer them.
//! - [`sessions`]: stateless login challenges and session tokens, shared by the front-ends that load one key (their
//!   spent tags in the voting store), and failed-login counts (R-VOTE-4, R-VOTE-5, issues 19 and 24).
//! - [`web`]: the built voter app, served with a strict Content-Security-Policy.
//! - [`withdrawals`]: candidate changes while voting is paused (R-VOTE-3).
//!
//! The cast itself is recorded by [`crate::store`], in the voter store and the ballot box (R-VOTE-8, R-VOTE-9).
//!
//! What it must never do: receive a PIN or password, or keep a voter's identity beside the ballot it accepted.

pub mod filters;
pub mod handlers;
pub mod limits;
pub mod listener;
pub mod sessions;
pub mod web;
pub mod withdrawals;
