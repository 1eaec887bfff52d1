//! The server's clock: the one source of "now" for every election rule (R-VOTE-1).

use chrono::{DateTime, Utc};

/// Reads the system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clock;

impl Clock {
    /// Returns the current instant from the system clock.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
