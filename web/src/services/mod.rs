//! Talking to the outside: the verifier's API.

pub mod card_helper;
pub mod verifier_api;
