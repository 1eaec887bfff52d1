//! Hooks shared by screens.

pub mod use_focus_recovery;
pub mod use_location_hash;
pub mod use_server_clock;
