//! The whole-election rehearsal (R-SYS-6) as a test: see `e2e::rehearsal`. The totals counted in the HSM equal
//! what the browsers voted, every tracker is in the published ballot box, every layout was voted in, a second
//! attempt was refused, and a session ended on screen.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_election_from_key_ceremony_to_count() {
    let outcome = e2e::rehearsal::run(4, &mut |step| eprintln!("rehearsal: {step}")).await.unwrap();
    eprintln!("{}", outcome.table());
    assert!(outcome.passed(), "{}", outcome.table());
    let mut layouts = outcome.layouts.clone();
    layouts.sort();
    layouts.dedup();
    assert_eq!(layouts.len(), 12, "every selection × display layout got a vote: {layouts:?}");
    assert_eq!(outcome.second_attempt, "ALREADY_VOTED");
    assert!(outcome.session_end.contains("もう一度ログイン"));
    let hor = &outcome.elections[0];
    assert_eq!(hor.notices, 4, "one acceptance notice per applicant arrived by SMTP");
    assert!(hor.voted.keys().any(|(c, l)| c == "review" && l.starts_with("judge:")), "a 国民審査 was counted");
    let hoc = &outcome.elections[1];
    assert!(hoc.voted.contains_key(&("national-pr".to_string(), "candidate:202".to_string())), "an HoC PR candidate");
    for e in &outcome.elections {
        assert!(e.voted.keys().any(|(_, l)| l == "blank"), "{}: a 白票", e.election_id);
        assert!(e.record.values().all(|n| *n == 4), "{}: the record counts every voter: {:?}", e.election_id, e.record);
    }
}
