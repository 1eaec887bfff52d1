//! Hooks shared by screens.

pub mod use_server_clock;
