//! Japanese national holidays and business days, and the receipt date of applications (R-REG-10).
//!
//! Municipal election committees work 08:30–17:00 JST on business days. An application or switch request that
//! arrives at 17:00 JST or later, on a weekend, on a national holiday (including substitute holidays) or in the
//! government offices' year-end closure counts as received on the next business day.
//!
//! Holidays follow the Act on National Holidays (国民の祝日に関する法律) with its amendments: the Happy Monday
//! moves of 2000 and 2003, 山の日 from 2016, the Emperor's Birthday moves of 1989 and 2020, the one-off days of
//! 1989, 1990, 1993 and 2019, and the Olympic moves of 2020 and 2021. 振替休日 (from 1973-04-12; from 2007 the
//! next day that is not a holiday) and 国民の休日 (a day between two holidays, from 1986) are derived.
//!
//! The equinox days (春分の日, 秋分の日) are fixed each February for the next year by the Cabinet's official gazette
//! from the National Astronomical Observatory's computation. Here they come from the standard approximation
//! formulas, which agree with every published day from 1980 on; dates after the last published year (2027 at the
//! time of writing) are provisional until published. Outside 1900–2150 no equinox day is known and none is given.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Weekday};

use crate::jst;

/// The hour (JST) from which an arrival counts on the next business day.
pub const CLOSING_TIME: NaiveTime = match NaiveTime::from_hms_opt(17, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// Returns the name of the national holiday on a date, including 振替休日 and 国民の休日.
pub fn holiday_name(date: NaiveDate) -> Option<&'static str> {
    if let Some(name) = proper_holiday(date) {
        return Some(name);
    }
    if is_substitute_holiday(date) {
        return Some("振替休日");
    }
    if is_citizens_holiday(date) {
        return Some("国民の休日");
    }
    None
}

/// Returns whether committees work on a date: not a Saturday or Sunday, not a national holiday, and not in the
/// year-end closure of government offices (December 29 to January 3).
pub fn is_business_day(date: NaiveDate) -> bool {
    let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
    let year_end = matches!((date.month(), date.day()), (12, 29..=31) | (1, 1..=3));
    !weekend && !year_end && holiday_name(date).is_none()
}

/// Returns the first business day strictly after a date.
pub fn next_business_day(date: NaiveDate) -> NaiveDate {
    let mut d = date;
    loop {
        d = d.succ_opt().unwrap_or(NaiveDate::MAX);
        if d == NaiveDate::MAX || is_business_day(d) {
            return d;
        }
    }
}

/// Returns the date on which an application that arrived at an instant counts as received (R-REG-10): its JST
/// date if that is a business day and the JST time is before 17:00:00, otherwise the next business day.
pub fn receipt_date(received_at: chrono::DateTime<chrono::Utc>) -> NaiveDate {
    let local = jst::to_jst(received_at);
    let date = local.date_naive();
    if is_business_day(date) && local.time() < CLOSING_TIME { date } else { next_business_day(date) }
}

/// The holidays named by the Act itself (国民の祝日), without the derived 振替休日 and 国民の休日.
fn proper_holiday(date: NaiveDate) -> Option<&'static str> {
    let y = date.year();
    let (m, d) = (date.month(), date.day());
    if y < 1949 {
        return None;
    }
    let nth_monday = |n: u8| date.weekday() == Weekday::Mon && (u32::from(n) - 1) * 7 < d && d <= u32::from(n) * 7;
    let name = match (m, d) {
        (1, 1) => "元日",
        (1, 15) if y < 2000 => "成人の日",
        (1, _) if y >= 2000 && nth_monday(2) => "成人の日",
        (2, 11) if y >= 1967 => "建国記念の日",
        (2, 23) if y >= 2020 => "天皇誕生日",
        (2, 24) if y == 1989 => "昭和天皇の大喪の礼",
        (3, _) if Some(d) == equinox_day(y, Equinox::Spring) => "春分の日",
        (4, 29) if y <= 1988 => "天皇誕生日",
        (4, 29) if y <= 2006 => "みどりの日",
        (4, 29) => "昭和の日",
        (5, 1) if y == 2019 => "天皇の即位の日",
        (5, 3) => "憲法記念日",
        (5, 4) if y >= 2007 => "みどりの日",
        (5, 5) => "こどもの日",
        (6, 9) if y == 1993 => "皇太子徳仁親王の結婚の儀",
        (7, 20) if (1996..=2002).contains(&y) => "海の日",
        (7, 23) if y == 2020 => "海の日",
        (7, 22) if y == 2021 => "海の日",
        (7, _) if y >= 2003 && y != 2020 && y != 2021 && nth_monday(3) => "海の日",
        (7, 24) if y == 2020 => "スポーツの日",
        (7, 23) if y == 2021 => "スポーツの日",
        (8, 10) if y == 2020 => "山の日",
        (8, 8) if y == 2021 => "山の日",
        (8, 11) if y >= 2016 && y != 2020 && y != 2021 => "山の日",
        (9, 15) if (1966..=2002).contains(&y) => "敬老の日",
        (9, _) if y >= 2003 && nth_monday(3) => "敬老の日",
        (9, _) if Some(d) == equinox_day(y, Equinox::Autumn) => "秋分の日",
        (10, 10) if (1966..=1999).contains(&y) => "体育の日",
        (10, _) if (2000..=2019).contains(&y) && nth_monday(2) => "体育の日",
        (10, _) if y >= 2022 && nth_monday(2) => "スポーツの日",
        (10, 22) if y == 2019 => "即位礼正殿の儀が行われる日",
        (11, 3) => "文化の日",
        (11, 12) if y == 1990 => "即位礼正殿の儀",
        (11, 23) => "勤労感謝の日",
        (12, 23) if (1989..=2018).contains(&y) => "天皇誕生日",
        _ => return None,
    };
    Some(name)
}

/// 振替休日: from 1973-04-12 a holiday on a Sunday gives the next day off; from 2007 the next day that is not
/// itself a holiday.
fn is_substitute_holiday(date: NaiveDate) -> bool {
    let Some(prev) = date.pred_opt() else { return false };
    let law = NaiveDate::from_ymd_opt(1973, 4, 12);
    if date.year() < 2007 {
        return prev.weekday() == Weekday::Sun && Some(prev) >= law && proper_holiday(prev).is_some();
    }
    let mut d = prev;
    while proper_holiday(d).is_some() {
        if d.weekday() == Weekday::Sun {
            return true;
        }
        match d.pred_opt() {
            Some(p) => d = p,
            None => return false,
        }
    }
    false
}

/// 国民の休日: from 1986 a day that is not a holiday, between two holidays. Before 2007 a Sunday or a 振替休日
/// did not become one (a 振替休日 is found first by [`holiday_name`]).
fn is_citizens_holiday(date: NaiveDate) -> bool {
    if date.year() < 1986 || (date.year() < 2007 && date.weekday() == Weekday::Sun) {
        return false;
    }
    let around = |d: Option<NaiveDate>| d.and_then(proper_holiday).is_some();
    around(date.pred_opt()) && around(date.succ_opt())
}

#[derive(Clone, Copy)]
enum Equinox {
    Spring,
    Autumn,
}

/// The day of the month of the vernal (March) or autumnal (September) equinox in JST, from the standard
/// approximation, computed in exact integer arithmetic (millionths of a day).
fn equinox_day(year: i32, which: Equinox) -> Option<u32> {
    let base: i64 = match (year, which) {
        (1900..=1979, Equinox::Spring) => 20_835_700,
        (1900..=1979, Equinox::Autumn) => 23_258_800,
        (1980..=2099, Equinox::Spring) => 20_843_100,
        (1980..=2099, Equinox::Autumn) => 23_248_800,
        (2100..=2150, Equinox::Spring) => 21_851_000,
        (2100..=2150, Equinox::Autumn) => 24_248_800,
        _ => return None,
    };
    let n = i64::from(year - 1980);
    let micro = base + 242_194 * n - 1_000_000 * n.div_euclid(4);
    u32::try_from(micro.div_euclid(1_000_000)).ok()
}

/// Returns every national holiday of a year with its name, in date order.
pub fn holidays_of_year(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let Some(first) = NaiveDate::from_ymd_opt(year, 1, 1) else { return Vec::new() };
    first.iter_days().take_while(|d| d.year() == year).filter_map(|d| holiday_name(d).map(|n| (d, n))).collect()
}

/// Adds whole days to a date, saturating at the ends of the calendar.
pub fn add_days(date: NaiveDate, days: i64) -> NaiveDate {
    date.checked_add_signed(Duration::days(days)).unwrap_or(if days < 0 { NaiveDate::MIN } else { NaiveDate::MAX })
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use chrono::{DateTime, Utc};

    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// The second source: every holiday 1980–2050 from the PyPI package `holidays`, committed as data.
    const SECOND_SOURCE: &str = include_str!("../tests/data/jp_holidays_1980_2050.csv");

    /// Names that the second source shortens; the official names are kept here.
    fn second_source_name(official: &str) -> &str {
        match official {
            "昭和天皇の大喪の礼" => "大喪の礼",
            "皇太子徳仁親王の結婚の儀" => "結婚の儀",
            other => other,
        }
    }

    #[test]
    fn every_day_1980_to_2050_agrees_with_the_second_source() {
        let mut expected = std::collections::BTreeMap::new();
        for line in SECOND_SOURCE.lines().filter(|l| !l.starts_with('#')) {
            let (d, name) = line.split_once(',').unwrap();
            expected.insert(date(d), name);
        }
        let mut seen = 0;
        for year in 1980..=2050 {
            for (d, name) in holidays_of_year(year) {
                assert_eq!(expected.get(&d).copied(), Some(second_source_name(name)), "{d}: we say {name}");
                seen += 1;
            }
        }
        assert_eq!(seen, expected.len(), "the second source has holidays we do not");
    }

    #[test]
    fn substitute_holidays() {
        // 2026-05-03 (Sunday) moves to 05-06, past the holidays of 05-04 and 05-05 (rule from 2007).
        assert_eq!(holiday_name(date("2026-05-06")), Some("振替休日"));
        // 2019-08-11 山の日 on a Sunday.
        assert_eq!(holiday_name(date("2019-08-12")), Some("振替休日"));
        // 2021-08-08 山の日 (moved for the Olympics) on a Sunday.
        assert_eq!(holiday_name(date("2021-08-09")), Some("振替休日"));
        // Before 1973-04-12 there was no substitute holiday: 1973-02-11 was a Sunday.
        assert_eq!(holiday_name(date("1973-02-12")), None);
        assert_eq!(holiday_name(date("1973-04-30")), Some("振替休日"));
    }

    #[test]
    fn citizens_holidays() {
        assert_eq!(holiday_name(date("2026-09-22")), Some("国民の休日"));
        assert_eq!(holiday_name(date("2019-04-30")), Some("国民の休日"));
        assert_eq!(holiday_name(date("2019-05-02")), Some("国民の休日"));
        assert_eq!(holiday_name(date("2032-09-21")), Some("国民の休日"));
        // Before 2007, 05-04 between two holidays, except on a Sunday.
        assert_eq!(holiday_name(date("1988-05-04")), Some("国民の休日"));
        assert_eq!(holiday_name(date("1986-05-04")), None);
    }

    #[test]
    fn equinoxes_match_published_days() {
        let published = [
            (2024, 3, 20),
            (2024, 9, 22),
            (2025, 3, 20),
            (2025, 9, 23),
            (2026, 3, 20),
            (2026, 9, 23),
            (2027, 3, 21),
            (2027, 9, 23),
        ];
        for (y, m, d) in published {
            let name = if m == 3 { "春分の日" } else { "秋分の日" };
            assert_eq!(holiday_name(NaiveDate::from_ymd_opt(y, m, d).unwrap()), Some(name), "{y}-{m}-{d}");
        }
        assert_eq!(equinox_day(1899, Equinox::Spring), None);
        assert_eq!(equinox_day(2099, Equinox::Autumn), Some(23));
    }

    #[test]
    fn business_days() {
        assert!(is_business_day(date("2026-11-24"))); // Tuesday
        assert!(!is_business_day(date("2026-11-23"))); // 勤労感謝の日, Monday
        assert!(!is_business_day(date("2026-11-28"))); // Saturday
        assert!(!is_business_day(date("2026-11-29"))); // Sunday
        for d in ["2026-12-29", "2026-12-30", "2026-12-31", "2027-01-01", "2027-01-02", "2027-01-03"] {
            assert!(!is_business_day(date(d)), "{d} is in the year-end closure");
        }
        assert!(is_business_day(date("2026-12-28")));
        assert!(is_business_day(date("2027-01-04")));
        assert_eq!(next_business_day(date("2026-12-28")), date("2027-01-04"));
        // Golden Week 2026: 04-29 Wed holiday, 05-03..05-06 holidays.
        assert_eq!(next_business_day(date("2026-05-01")), date("2026-05-07"));
    }

    #[test]
    fn receipt_dates() {
        // Friday 2026-11-27: 16:59:59 JST counts that day, 17:00:00 JST counts on Monday 11-30.
        assert_eq!(receipt_date(utc("2026-11-27T07:59:59Z")), date("2026-11-27"));
        assert_eq!(receipt_date(utc("2026-11-27T08:00:00Z")), date("2026-11-30"));
        // Early morning on a business day counts that day (07:00 JST, before the office opens).
        assert_eq!(receipt_date(utc("2026-11-24T22:00:00Z")), date("2026-11-25"));
        // A Saturday arrival counts on Monday; a Sunday before a Monday holiday on Tuesday.
        assert_eq!(receipt_date(utc("2026-11-28T03:00:00Z")), date("2026-11-30"));
        assert_eq!(receipt_date(utc("2026-11-22T03:00:00Z")), date("2026-11-24"));
        // New Year: an arrival on 12-31 counts on 01-04.
        assert_eq!(receipt_date(utc("2026-12-31T01:00:00Z")), date("2027-01-04"));
        // UTC is still 12-28 but JST is already 12-29 (closure).
        assert_eq!(receipt_date(utc("2026-12-28T16:00:00Z")), date("2027-01-04"));
        // The 国民の休日 2026-09-22 between 敬老の日 and 秋分の日.
        assert_eq!(receipt_date(utc("2026-09-18T09:00:00Z")), date("2026-09-24"));
    }
}
