//! One module per screen.

pub mod accessibility;
pub mod apply;
pub mod gallery;
pub mod start;
pub mod study;
pub mod vote;
