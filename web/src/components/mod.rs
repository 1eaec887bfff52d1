//! Pieces shared by screens.

pub mod chooser;
pub mod jst_clock;
pub mod settings;
