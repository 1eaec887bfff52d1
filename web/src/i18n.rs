//! Japanese first, English second: the language choice and date-time formatting for each.

use chrono::{DateTime, Datelike, FixedOffset, Timelike};

/// The display language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// 日本語 (the default).
    Ja,
    /// English.
    En,
}

impl Lang {
    /// Returns the BCP 47 code for `lang` attributes.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// Returns the other language.
    pub fn other(self) -> Lang {
        match self {
            Lang::Ja => Lang::En,
            Lang::En => Lang::Ja,
        }
    }

    /// Returns the label of the button that switches to this language, written in this language.
    pub fn switch_label(self) -> &'static str {
        match self {
            Lang::Ja => "日本語",
            Lang::En => "English",
        }
    }
}

/// Picks the text of the language (fixed text, or a name from the election in both languages).
pub fn t<'a>(lang: Lang, ja: &'a str, en: &'a str) -> &'a str {
    match lang {
        Lang::Ja => ja,
        Lang::En => en,
    }
}

const WEEKDAYS_JA: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];
const WEEKDAYS_EN: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS_EN: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Formats a date and time with seconds: `2026年11月24日(火) 12:04:39` or `Tue 24 Nov 2026 12:04:39`.
pub fn date_time(lang: Lang, at: DateTime<FixedOffset>) -> String {
    format!("{} {:02}:{:02}:{:02}", date(lang, at), at.hour(), at.minute(), at.second())
}

/// Formats a date and time to the minute: `2026年11月24日(火) 08:30`.
pub fn date_time_minutes(lang: Lang, at: DateTime<FixedOffset>) -> String {
    format!("{} {:02}:{:02}", date(lang, at), at.hour(), at.minute())
}

/// Formats a date: `2026年11月24日(火)` or `Tue 24 Nov 2026`.
pub fn date(lang: Lang, at: DateTime<FixedOffset>) -> String {
    let wd = at.weekday().num_days_from_monday() as usize;
    match lang {
        Lang::Ja => format!("{}年{}月{}日({})", at.year(), at.month(), at.day(), WEEKDAYS_JA[wd]),
        Lang::En => format!("{} {} {} {}", WEEKDAYS_EN[wd], at.day(), MONTHS_EN[at.month0() as usize], at.year()),
    }
}

/// Formats a UTC offset: `UTC+09:00`, `UTC−04:30`.
pub fn utc_offset(offset: FixedOffset) -> String {
    let secs = offset.local_minus_utc();
    let sign = if secs < 0 { '−' } else { '+' };
    let secs = secs.abs();
    format!("UTC{sign}{:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    #[wasm_bindgen_test]
    fn formats_in_both_languages() {
        let at = DateTime::parse_from_rfc3339("2026-11-24T08:30:05+09:00").unwrap_or_default();
        assert_eq!(date_time(Lang::Ja, at), "2026年11月24日(火) 08:30:05");
        assert_eq!(date_time_minutes(Lang::En, at), "Tue 24 Nov 2026 08:30");
        assert_eq!(utc_offset(*at.offset()), "UTC+09:00");
        assert_eq!(utc_offset(FixedOffset::west_opt(16_200).unwrap_or(*at.offset())), "UTC−04:30");
    }
}
