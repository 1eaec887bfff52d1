//! The server's clock: the one source of "now" for every election rule (R-VOTE-1).
//!
//! A rehearsal of a whole election (R-SYS-6) must open and close the voting window within minutes, so the clock
//! can be shifted by a fixed offset — only through the loudly named `--insecure-test-clock-offset-seconds` flag,
//! which the verifier logs, audits (`insecure_test_clock_used`) and shows on every voter page, and which every
//! command refuses for a real (non-practice) election (`cli::guard_clock`). Operators' one-time codes are always checked
//! against the real time ([`Clock::real_now`]), because their authenticator apps know no offset.

use chrono::{DateTime, TimeDelta, Utc};

/// Reads the system clock, shifted by an offset that is zero except in an insecure rehearsal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    offset: TimeDelta,
}

impl Clock {
    /// The system clock, as every real election uses it.
    pub const SYSTEM: Clock = Clock { offset: TimeDelta::zero() };

    /// INSECURE: a clock `offset` ahead of (or, if negative, behind) the system clock, for rehearsals and tests.
    pub fn insecure_test_offset(offset: TimeDelta) -> Clock {
        Clock { offset }
    }

    /// Returns the current election time: the system clock plus the offset.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }

    /// Returns the real current time (for operators' one-time codes).
    pub fn real_now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// Returns the offset when this is an insecure test clock.
    pub fn test_offset(&self) -> Option<TimeDelta> {
        (self.offset != TimeDelta::zero()).then_some(self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_moves_election_time_but_not_real_time() {
        let c = Clock::insecure_test_offset(TimeDelta::days(3));
        let (election, real) = (c.now(), c.real_now());
        assert!(election - real >= TimeDelta::days(3) - TimeDelta::seconds(1));
        assert!(election - real <= TimeDelta::days(3) + TimeDelta::seconds(1));
        assert_eq!(c.test_offset(), Some(TimeDelta::days(3)));
        assert_eq!(Clock::SYSTEM.test_offset(), None);
        assert!((Clock::SYSTEM.now() - Utc::now()).abs() < TimeDelta::seconds(1));
    }
}
