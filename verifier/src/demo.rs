//! The embedded demo election (`verifier serve --demo`): a practice election, re-dated so voting is open now.

use chrono::{DateTime, Utc};
use shared::calendar::add_days;
use shared::election::Election;
use shared::jst::jst_date;

/// The demo election's definition as shipped (dates are replaced at start).
pub const DEMO_TOML: &str = include_str!("../elections/demo.toml");

/// Returns the demo election with its notice two days before today (JST) and election day twelve days after, so
/// that its voting window is open at `now` (it opened at 08:30 JST yesterday).
pub fn demo_election(now: DateTime<Utc>) -> anyhow::Result<Election> {
    let mut election: Election = toml::from_str(DEMO_TOML)?;
    let today = jst_date(now);
    election.notice_date = add_days(today, -2);
    election.election_day = add_days(today, 12);
    election.validate()?;
    Ok(election)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_election_is_open_now_and_practice() {
        let now = Utc::now();
        let e = demo_election(now).unwrap();
        assert!(e.window().is_open(now));
        assert!(e.practice, "the demo must never pass for a real election");
        assert_eq!(e.contests.len(), 3);
    }

    #[test]
    fn demo_is_open_just_after_jst_midnight_too() {
        // 00:00:30 JST: the window opened at 08:30 JST the day before.
        let now = DateTime::parse_from_rfc3339("2026-11-25T00:00:30+09:00").unwrap().with_timezone(&Utc);
        assert!(demo_election(now).unwrap().window().is_open(now));
    }
}
