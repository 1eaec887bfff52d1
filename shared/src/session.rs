//! Session lifetime and countdowns (R-VOTE-4, R-VOTE-1).
//!
//! A voter's session ends a fixed time after login (20 minutes by default, configurable), absolute: activity does
//! not extend it; only a new login with the same card does, a limited number of times (WCAG 2.2.1). The
//! remaining time is always shown, a warning comes before the end, and the end is never
//! silent. The same countdown arithmetic and formatting serves the time left until voting closes.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The default session lifetime after login, in minutes (R-VOTE-4: "about 20 minutes").
pub const DEFAULT_SESSION_MINUTES: i64 = 20;
/// How long before the end the voter is warned, in seconds.
pub const DEFAULT_WARNING_SECONDS: i64 = 120;

/// A session's start and absolute end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClock {
    /// When the voter logged in (server time).
    pub started_at: DateTime<Utc>,
    /// When the session ends, whatever the voter does.
    pub expires_at: DateTime<Utc>,
}

/// Where a session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionPhase {
    /// More than the warning time is left.
    Active,
    /// The end is near: the voter must be told, and may extend once if allowed.
    Warning,
    /// The session has ended.
    Expired,
}

impl SessionClock {
    /// Starts a session at an instant with a lifetime.
    pub fn start(started_at: DateTime<Utc>, lifetime: Duration) -> SessionClock {
        SessionClock { started_at, expires_at: started_at + lifetime }
    }

    /// Returns the time left, zero once ended.
    pub fn remaining(&self, at: DateTime<Utc>) -> Duration {
        (self.expires_at - at).max(Duration::zero())
    }

    /// Returns the phase at an instant given how long before the end the warning starts.
    pub fn phase(&self, at: DateTime<Utc>, warn_before: Duration) -> SessionPhase {
        if at >= self.expires_at {
            SessionPhase::Expired
        } else if self.expires_at - at <= warn_before {
            SessionPhase::Warning
        } else {
            SessionPhase::Active
        }
    }
}

/// A duration split into days, hours, minutes and seconds for display; seconds are rounded up, so that 0:00 is
/// shown only when the time is really up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Countdown {
    /// Whole days.
    pub days: i64,
    /// Hours, 0–23.
    pub hours: i64,
    /// Minutes, 0–59.
    pub minutes: i64,
    /// Seconds, 0–59.
    pub seconds: i64,
}

impl Countdown {
    /// Splits a duration; a negative duration counts as zero.
    pub fn from_duration(d: Duration) -> Countdown {
        let millis = d.num_milliseconds().max(0);
        let total = millis / 1000 + i64::from(millis % 1000 != 0);
        Countdown {
            days: total / 86_400,
            hours: total % 86_400 / 3600,
            minutes: total % 3600 / 60,
            seconds: total % 60,
        }
    }

    /// Returns whether nothing is left.
    pub fn is_zero(&self) -> bool {
        *self == Countdown { days: 0, hours: 0, minutes: 0, seconds: 0 }
    }

    /// Formats in Japanese, leaving out leading zero units: `2日 3時間 04分 05秒`, `4分 05秒`.
    pub fn ja(&self) -> String {
        self.words(["日", "時間", "分", "秒"], "")
    }

    /// Formats in English, leaving out leading zero units: `2 d 3 h 04 min 05 s`, `4 min 05 s`.
    pub fn en(&self) -> String {
        self.words(["d", "h", "min", "s"], " ")
    }

    /// Formats as a compact clock: `19:59`, `3:04:05`, `2d 03:04:05`.
    pub fn digital(&self) -> String {
        match (self.days, self.hours) {
            (0, 0) => format!("{:02}:{:02}", self.minutes, self.seconds),
            (0, h) => format!("{h}:{:02}:{:02}", self.minutes, self.seconds),
            (d, h) => format!("{d}d {h:02}:{:02}:{:02}", self.minutes, self.seconds),
        }
    }

    fn words(&self, units: [&str; 4], sep: &str) -> String {
        let values = [self.days, self.hours, self.minutes, self.seconds];
        let first = values.iter().position(|v| *v != 0).unwrap_or(3).min(2);
        values[first..]
            .iter()
            .zip(&units[first..])
            .enumerate()
            .map(|(i, (v, u))| if i == 0 || first + i < 2 { format!("{v}{sep}{u}") } else { format!("{v:02}{sep}{u}") })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn session_ends_twenty_minutes_after_login_absolute() {
        let s = SessionClock::start(at("2026-11-24T03:00:00Z"), Duration::minutes(DEFAULT_SESSION_MINUTES));
        let warn = Duration::seconds(DEFAULT_WARNING_SECONDS);
        assert_eq!(s.expires_at, at("2026-11-24T03:20:00Z"));
        assert_eq!(s.phase(at("2026-11-24T03:17:59Z"), warn), SessionPhase::Active);
        assert_eq!(s.phase(at("2026-11-24T03:18:00Z"), warn), SessionPhase::Warning);
        assert_eq!(s.phase(at("2026-11-24T03:19:59Z"), warn), SessionPhase::Warning);
        assert_eq!(s.phase(at("2026-11-24T03:20:00Z"), warn), SessionPhase::Expired);
        assert_eq!(s.remaining(at("2026-11-24T03:25:00Z")), Duration::zero());
    }

    #[test]
    fn countdown_rounds_up_and_formats() {
        let c = Countdown::from_duration(Duration::milliseconds(1));
        assert_eq!(c.digital(), "00:01");
        let c = Countdown::from_duration(Duration::minutes(20));
        assert_eq!((c.digital(), c.ja(), c.en()), ("20:00".into(), "20分 00秒".into(), "20 min 00 s".into()));
        let c = Countdown::from_duration(Duration::seconds(2 * 86_400 + 3 * 3600 + 4 * 60 + 5));
        assert_eq!(c.digital(), "2d 03:04:05");
        assert_eq!(c.ja(), "2日 3時間 04分 05秒");
        assert_eq!(c.en(), "2 d 3 h 04 min 05 s");
        let c = Countdown::from_duration(Duration::seconds(3 * 3600 + 5));
        assert_eq!((c.digital(), c.ja()), ("3:00:05".into(), "3時間 00分 05秒".into()));
        let zero = Countdown::from_duration(Duration::seconds(-5));
        assert!(zero.is_zero());
        assert_eq!((zero.digital(), zero.ja(), zero.en()), ("00:00".into(), "0分 00秒".into(), "0 min 00 s".into()));
    }
}
