//! Talking to the outside: the verifier's API, the card helper, and the cast that goes through both.

pub mod card_helper;
pub mod cast;
pub mod verifier_api;
