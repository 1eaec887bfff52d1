//! Talking to the outside: the verifier's API.

pub mod verifier_api;
