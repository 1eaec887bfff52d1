//! Pieces shared by screens.

pub mod chooser;
pub mod confirmation;
pub mod pause_notice;
pub mod research_chooser;
pub mod session_bar;
pub mod settings;
pub mod status_bar;
