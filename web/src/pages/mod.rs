//! One module per screen.

pub mod apply;
pub mod start;
pub mod vote;
