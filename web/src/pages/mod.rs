//! One module per screen.

pub mod accessibility;
pub mod apply;
pub mod start;
pub mod vote;
