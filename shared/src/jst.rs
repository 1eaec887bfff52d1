//! Japan Standard Time (R-VOTE-1): the fixed offset UTC+9, with no daylight saving, the same worldwide.
//!
//! Every election time is JST computed from the server's clock. The browser never trusts the PC's clock or time
//! zone: it measures the offset between the server's time and its own once ([`ClockOffset`]) and applies it.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Offset, Utc};

/// Seconds east of UTC for JST.
pub const JST_OFFSET_SECONDS: i32 = 9 * 3600;

/// Returns the JST fixed offset (UTC+9).
pub fn jst_offset() -> FixedOffset {
    // 9 hours is inside FixedOffset's range (±24 h), so the fallback is never taken.
    FixedOffset::east_opt(JST_OFFSET_SECONDS).unwrap_or(Utc.fix())
}

/// Converts an instant to JST.
pub fn to_jst(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&jst_offset())
}

/// Returns the JST calendar date of an instant.
pub fn jst_date(at: DateTime<Utc>) -> NaiveDate {
    to_jst(at).date_naive()
}

/// Returns the instant of a JST wall-clock time on a JST date (JST has no gaps or folds).
pub fn jst_instant(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    (date.and_time(time) - chrono::Duration::seconds(i64::from(JST_OFFSET_SECONDS))).and_utc()
}

/// Formats an instant as JST, e.g. `2026-11-24 12:04:39 JST`.
pub fn format_jst(at: DateTime<Utc>) -> String {
    to_jst(at).format("%Y-%m-%d %H:%M:%S JST").to_string()
}

/// The difference between the server's clock and the device's clock, measured once per page load.
///
/// The browser asks the server for its time and notes its own clock before and after; the server's reading is
/// taken to belong to the midpoint of the round trip. Afterwards `server_now = device_now + offset`, so a wrong
/// PC clock or time zone never changes what the voter is shown (R-VOTE-1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClockOffset {
    /// Milliseconds to add to the device's clock to get the server's.
    pub millis: i64,
}

impl ClockOffset {
    /// Measures the offset from a round trip: device time when the request left and when the answer came, and the
    /// server's time in the answer, all in milliseconds since the Unix epoch.
    pub fn measure(device_sent_ms: i64, server_ms: i64, device_received_ms: i64) -> ClockOffset {
        let midpoint = device_sent_ms + (device_received_ms - device_sent_ms) / 2;
        ClockOffset { millis: server_ms - midpoint }
    }

    /// Returns the server's time for a device clock reading (milliseconds since the Unix epoch).
    pub fn server_now(self, device_now_ms: i64) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(device_now_ms.checked_add(self.millis)?)
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

    #[test]
    fn jst_is_utc_plus_nine_all_year() {
        // No daylight saving: January and July are both +09:00.
        for s in ["2026-01-15T00:00:00Z", "2026-07-15T00:00:00Z"] {
            assert_eq!(to_jst(utc(s)).offset().local_minus_utc(), 9 * 3600);
        }
        assert_eq!(to_jst(utc("2026-11-24T15:00:00Z")).to_rfc3339(), "2026-11-25T00:00:00+09:00");
    }

    #[test]
    fn date_changes_at_jst_midnight() {
        assert_eq!(jst_date(utc("2026-11-24T14:59:59Z")), NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
        assert_eq!(jst_date(utc("2026-11-24T15:00:00Z")), NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
    }

    #[test]
    fn jst_instant_round_trips() {
        let d = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        let at = jst_instant(d, NaiveTime::from_hms_opt(8, 30, 0).unwrap());
        assert_eq!(at, utc("2026-12-31T23:30:00Z"));
        assert_eq!(format_jst(at), "2027-01-01 08:30:00 JST");
    }

    #[test]
    fn clock_offset_uses_round_trip_midpoint() {
        // Device clock 1 hour slow; 200 ms round trip.
        let off = ClockOffset::measure(1_000_000, 1_000_000 + 3_600_000 + 100, 1_000_200);
        assert_eq!(off.millis, 3_600_000);
        assert_eq!(off.server_now(0).unwrap().timestamp_millis(), 3_600_000);
        assert_eq!(ClockOffset { millis: i64::MAX }.server_now(1), None);
    }
}
