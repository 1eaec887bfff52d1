//! One file per subcommand.

pub mod count;
pub mod import;
pub mod key_ceremony;
pub mod zero_check;
