//! Pieces shared by screens.

pub mod jst_clock;
