//! One module per screen.

pub mod start;
pub mod vote;
