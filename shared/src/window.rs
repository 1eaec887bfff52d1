//! The online voting window of an election (R-VOTE-2): from 08:30:00 JST on the day after the public notice
//! (公示日/告示日の翌日) to 20:00:00 JST on the day before election day (選挙期日の前日). The same for general
//! elections, by-elections and re-elections, for every district and country; never shortened or extended.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{calendar, jst};

/// The JST wall-clock time voting opens.
pub const OPENS_AT_JST: NaiveTime = match NaiveTime::from_hms_opt(8, 30, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};
/// The JST wall-clock time voting closes.
pub const CLOSES_AT_JST: NaiveTime = match NaiveTime::from_hms_opt(20, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// The instants between which online votes are received: `opens_at <= at < closes_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VotingWindow {
    /// The first instant at which a ballot is accepted.
    pub opens_at: DateTime<Utc>,
    /// The first instant at which a ballot is no longer accepted.
    pub closes_at: DateTime<Utc>,
}

/// Where an instant lies relative to the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WindowState {
    /// Before `opens_at`.
    NotYetOpen,
    /// In `[opens_at, closes_at)`.
    Open,
    /// At or after `closes_at`.
    Closed,
}

impl VotingWindow {
    /// Computes the window from the notice date and election day (both JST dates).
    pub fn for_election(notice_date: NaiveDate, election_day: NaiveDate) -> VotingWindow {
        VotingWindow {
            opens_at: jst::jst_instant(calendar::add_days(notice_date, 1), OPENS_AT_JST),
            closes_at: jst::jst_instant(calendar::add_days(election_day, -1), CLOSES_AT_JST),
        }
    }

    /// Returns whether ballots are received at an instant.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        self.opens_at <= at && at < self.closes_at
    }

    /// Returns where an instant lies relative to the window.
    pub fn state(&self, at: DateTime<Utc>) -> WindowState {
        if at < self.opens_at {
            WindowState::NotYetOpen
        } else if at < self.closes_at {
            WindowState::Open
        } else {
            WindowState::Closed
        }
    }

    /// Returns the time left until the close, zero once closed.
    pub fn until_close(&self, at: DateTime<Utc>) -> chrono::Duration {
        (self.closes_at - at).max(chrono::Duration::zero())
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn window() -> VotingWindow {
        // House of Councillors ordinary election 2025: notice 07-03, election day 07-20.
        VotingWindow::for_election("2025-07-03".parse().unwrap(), "2025-07-20".parse().unwrap())
    }

    #[test]
    fn opens_0830_jst_after_notice_and_closes_2000_jst_before_election_day() {
        let w = window();
        assert_eq!(w.opens_at, utc("2025-07-04T08:30:00+09:00"));
        assert_eq!(w.closes_at, utc("2025-07-19T20:00:00+09:00"));
    }

    #[test]
    fn open_is_half_open() {
        let w = window();
        assert!(!w.is_open(utc("2025-07-04T08:29:59+09:00")));
        assert!(w.is_open(utc("2025-07-04T08:30:00+09:00")));
        assert!(w.is_open(utc("2025-07-19T19:59:59+09:00")));
        assert!(w.is_open(utc("2025-07-19T19:59:59.999+09:00")));
        assert!(!w.is_open(utc("2025-07-19T20:00:00+09:00")));
        assert_eq!(w.state(utc("2025-07-04T08:29:59+09:00")), WindowState::NotYetOpen);
        assert_eq!(w.state(utc("2025-07-10T03:00:00+09:00")), WindowState::Open);
        assert_eq!(w.state(utc("2025-07-19T20:00:00+09:00")), WindowState::Closed);
    }

    #[test]
    fn same_instants_seen_from_any_time_zone() {
        // 08:30 JST is 23:30 UTC the day before, and 19:30 EDT two days before in New York.
        let w = window();
        assert_eq!(w.opens_at, utc("2025-07-03T23:30:00Z"));
        assert_eq!(w.opens_at, utc("2025-07-03T19:30:00-04:00"));
    }

    #[test]
    fn until_close_counts_down_to_zero() {
        let w = window();
        assert_eq!(w.until_close(utc("2025-07-19T19:59:00+09:00")), chrono::Duration::seconds(60));
        assert_eq!(w.until_close(utc("2025-07-20T00:00:00+09:00")), chrono::Duration::zero());
    }

    #[test]
    fn by_election_across_new_year() {
        let w = VotingWindow::for_election("2026-12-31".parse().unwrap(), "2027-01-02".parse().unwrap());
        assert_eq!(w.opens_at, utc("2027-01-01T08:30:00+09:00"));
        assert_eq!(w.closes_at, utc("2027-01-01T20:00:00+09:00"));
    }
}
