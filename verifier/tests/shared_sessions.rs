//! Voter sessions shared by two front-ends through PostgreSQL (issue 24): the spent tags of used login nonces and
//! ended or extended session tokens live in `roll.spent`, so that what one front-end spent the other refuses, and a
//! race between front-ends spends a tag once. The table holds tags and times only. And since a session names its
//! card rather than its voter, a voter removed from the roll mid-session is refused at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Barrier};

use chrono::{Duration, Utc};
use verifier::store::pg::PgStore;
use verifier::store::pg::spent::PgSpent;
use verifier::voting::sessions::{CardId, ChallengeError, SessionError, Sessions, Spent};

const KEY: [u8; 32] = [24; 32];

fn spent(conninfo: &str) -> Arc<PgSpent> {
    let store = PgStore::connect(conninfo, 8).unwrap().giving_up_after(std::time::Duration::from_secs(3));
    Arc::new(PgSpent::new(Arc::new(store)).unwrap())
}

/// The attacker replays one nonce or token at both front-ends at once: 8 threads race each tag, 4 at each
/// front-end; exactly one spend wins, every time.
#[test]
fn one_spend_wins_when_eight_threads_race_one_tag_at_two_front_ends() {
    let lab = pg_lab::Lab::single().unwrap();
    let fronts = [spent(&lab.connection_string()), spent(&lab.connection_string())];
    let expires = Utc::now() + Duration::minutes(5);
    for round in 0..40u8 {
        let tag = [round; 32];
        let start = Arc::new(Barrier::new(8));
        let racers: Vec<_> = (0..8)
            .map(|t| {
                let (front, start) = (Arc::clone(&fronts[t % 2]), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    front.spend(tag, expires, Utc::now()).unwrap()
                })
            })
            .collect();
        let won = racers.into_iter().map(|r| r.join().unwrap()).filter(|w| *w).count();
        assert_eq!(won, 1, "round {round}: {won} spends of one tag won");
        assert!(fronts[0].is_spent(&tag).unwrap() && fronts[1].is_spent(&tag).unwrap());
    }
    assert!(!fronts[1].is_spent(&[255; 32]).unwrap());
    assert_eq!(fronts[0].held().unwrap(), 40);
}

/// Two front-ends with one key and the PostgreSQL spent store: a nonce logs in once at either, a logout at one is
/// refused at the other, and tags are forgotten once their time (and the grace) is over.
#[test]
fn sessions_through_postgres_are_shared_by_two_front_ends() {
    let lab = pg_lab::Lab::single().unwrap();
    let (sa, sb) = (spent(&lab.connection_string()), spent(&lab.connection_string()));
    let (a, b) = (Sessions::shared(KEY, sa.clone()), Sessions::shared(KEY, sb));
    let now = Utc::now();
    let n = a.challenge(now);
    assert_eq!(b.consume_challenge(&n, now), Ok(()));
    assert_eq!(a.consume_challenge(&n, now), Err(ChallengeError::Unknown), "used at b");
    let card = CardId::from_fingerprint(&"f".repeat(64)).unwrap();
    let (token, _) = a.start(card, None, now, Duration::minutes(20)).unwrap();
    assert_eq!(b.get(Some(&token), now).unwrap().card, card);
    b.end(&token, now).unwrap();
    assert_eq!(a.get(Some(&token), now).unwrap_err(), SessionError::Missing, "logged out at b");
    assert_eq!(a.sizes().0, 2, "the nonce and the token");
    a.prune(now + Duration::minutes(6));
    assert_eq!(sa.held().unwrap(), 1, "the nonce's time is over, the token's is not");
    a.prune(now + Duration::minutes(22));
    assert_eq!(sa.held().unwrap(), 0);
}

/// The failover attacker (issue 24): the primary is lost with SIGKILL. Meanwhile a session is neither accepted nor
/// taken for logged out (`Unavailable`: the voter is told to try again); once the standby is promoted the session
/// goes on, and a logout made before the failover still holds (the synchronous standby had its tag).
#[test]
fn a_failover_is_not_a_logout_and_loses_none() {
    let mut lab = pg_lab::Lab::pair().unwrap();
    let (a, b) = (
        Sessions::shared(KEY, spent(&lab.connection_string())),
        Sessions::shared(KEY, spent(&lab.connection_string())),
    );
    let now = Utc::now();
    let card = CardId::from_fingerprint(&"f".repeat(64)).unwrap();
    let (ended, _) = a.start(card, None, now, Duration::minutes(20)).unwrap();
    let (live, _) = a.start(card, None, now, Duration::minutes(20)).unwrap();
    a.end(&ended, now).unwrap();
    assert!(b.get(Some(&live), now).is_ok());
    lab.kill_primary().unwrap();
    assert_eq!(b.get(Some(&live), now).unwrap_err(), SessionError::Unavailable, "not a logout");
    lab.promote_standby().unwrap();
    assert!(b.get(Some(&live), now).is_ok(), "the session goes on after the failover");
    assert_eq!(b.get(Some(&ended), now).unwrap_err(), SessionError::Missing, "the logout survived the failover");
}

/// `roll.spent` can hold nothing but a tag and a time: no column for a card, a person, a session or a ballot.
#[test]
fn the_spent_table_holds_tags_and_times_only() {
    let lab = pg_lab::Lab::single().unwrap();
    let _ = spent(&lab.connection_string());
    let columns = lab
        .psql(
            lab.primary(),
            "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) \
             FROM information_schema.columns WHERE table_schema = 'roll' AND table_name = 'spent'",
        )
        .unwrap();
    assert_eq!(columns.trim(), "tag bytea, expires bigint, spender bytea");
}

/// The old session kept the voter it logged in as; a voter removed from the roll (a switch back to paper) then
/// went on seeing the ballot and casting until the session ended. Now each request looks the card up.
#[tokio::test]
async fn a_voter_removed_from_the_roll_mid_session_is_refused() {
    let f = support::fixture(1);
    let v = &f.voters[0];
    let cookie = support::login(&f.state, v).await;
    support::ballot(&f.state, &cookie).await;
    f.state
        .db
        .with(|c| {
            c.execute("DELETE FROM voter_certs WHERE person_id = ?1", [&v.person_id])?;
            c.execute("DELETE FROM voters WHERE person_id = ?1", [&v.person_id])
        })
        .unwrap();
    let routes = verifier::voting::filters::routes(f.state.clone(), None);
    let r = warp::test::request().path("/api/v1/ballot").header("cookie", &cookie).reply(&routes).await;
    assert_eq!(r.status(), 403, "{}", String::from_utf8_lossy(r.body()));
    assert_eq!(support::code(r.body()), "NOT_REGISTERED");
}
