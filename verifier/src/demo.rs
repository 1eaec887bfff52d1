//! The embedded demo election (`verifier serve --demo`): a practice election, re-dated so voting is open now.

use chrono::{DateTime, Utc};
use shared::calendar::add_days;
use shared::crypto::ElectionPublicKey;
use shared::election::Election;
use shared::jst::jst_date;

/// The demo election's definition as shipped (dates are replaced at start).
pub const DEMO_TOML: &str = include_str!("../elections/demo.toml");

/// Returns the demo election, re-dated so that its voting window is open at `now`.
pub fn demo_election(now: DateTime<Utc>) -> anyhow::Result<Election> {
    redated(toml::from_str(DEMO_TOML)?, now)
}

/// Moves an election's notice two days before today (JST) and election day twelve days after, so that its window
/// is open at `now` (it opened at 08:30 JST yesterday). For demos and practice only.
pub fn redated(mut election: Election, now: DateTime<Utc>) -> anyhow::Result<Election> {
    let today = jst_date(now);
    election.notice_date = add_days(today, -2);
    election.election_day = add_days(today, 12);
    election.validate()?;
    Ok(election)
}

/// Makes a fresh RSA-3072 election key and throws the private half away: INSECURE by name because it is not
/// from a key ceremony; ballots under it can never be counted. For `serve --demo` only.
pub fn insecure_demo_key() -> anyhow::Result<ElectionPublicKey> {
    use rsa::pkcs8::EncodePublicKey;
    let sk = rsa::PrivateKey::new(&mut getrandom::SysRng, 3072).map_err(|e| anyhow::anyhow!("key generation: {e}"))?;
    let der = sk.to_public_key().to_public_key_der().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(ElectionPublicKey::from_spki_der(der.as_bytes())?)
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
        assert_eq!(e.contests.len(), 2, "a House of Councillors election: its district and the national PR");
    }

    #[test]
    fn demo_is_open_just_after_jst_midnight_too() {
        // 00:00:30 JST: the window opened at 08:30 JST the day before.
        let now = DateTime::parse_from_rfc3339("2026-11-25T00:00:30+09:00").unwrap().with_timezone(&Utc);
        assert!(demo_election(now).unwrap().window().is_open(now));
    }
}
