use super::*;

const KEY: [u8; 32] = [7; 32];

fn card(c: char) -> CardId {
    CardId::from_fingerprint(&c.to_string().repeat(64)).unwrap()
}

/// Two front-ends loading the same key and sharing one spent store.
fn front_ends() -> (Sessions, Sessions) {
    let spent: Arc<dyn Spent> = Arc::new(MemorySpent::default());
    (Sessions::shared(KEY, Arc::clone(&spent)), Sessions::shared(KEY, spent))
}

fn applicant() -> ApplicantCard {
    ApplicantCard { serial: "1".into(), certificate: vec![1, 2, 3] }
}

#[test]
fn challenges_are_single_use_expire_and_are_made_here() {
    let s = Sessions::default();
    let now = Utc::now();
    let n = s.challenge(now);
    assert!(s.check_challenge(&n, now).is_ok(), "checking does not use it");
    assert_eq!(s.consume_challenge(&n, now), Ok(()));
    assert_eq!(s.consume_challenge(&n, now), Err(ChallengeError::Unknown), "single use");
    assert_eq!(s.check_challenge(&n, now), Err(ChallengeError::Unknown));
    let n = s.challenge(now);
    let late = now + Duration::seconds(CHALLENGE_SECONDS);
    assert_eq!(s.consume_challenge(&n, late), Err(ChallengeError::Unknown), "expired");
    assert_eq!(s.check_challenge(&n, now - Duration::seconds(60)), Err(ChallengeError::Unknown), "future");
    assert_eq!(s.check_challenge(&[0u8; 31], now), Err(ChallengeError::Unknown));
    let mut forged = s.challenge(now);
    forged[8] ^= 1;
    assert_eq!(s.check_challenge(&forged, now), Err(ChallengeError::Unknown), "the MAC covers the random part");
    let other = Sessions::default().challenge(now);
    assert_eq!(s.check_challenge(&other, now), Err(ChallengeError::Unknown), "another process's nonce");
}

#[test]
fn a_flood_of_challenges_stores_nothing_and_crowds_out_no_login() {
    let s = Sessions::default();
    let now = Utc::now();
    for _ in 0..200_000 {
        s.challenge(now);
    }
    assert_eq!(s.sizes(), (0, 0));
    let n = s.challenge(now);
    assert_eq!(s.consume_challenge(&n, now), Ok(()));
    assert_eq!(s.sizes(), (1, 0));
    s.prune(now + Duration::seconds(CHALLENGE_SECONDS + SPENT_GRACE_SECONDS));
    assert_eq!(s.sizes(), (0, 0), "used nonces are forgotten when their time is over");
}

#[test]
fn sessions_end_absolutely() {
    let s = Sessions::default();
    let now = Utc::now();
    let (token, session) = s.start(card('f'), None, now, Duration::minutes(20)).unwrap();
    assert_eq!(session.clock.expires_at, now + Duration::minutes(20));
    assert_eq!(s.get(Some(&token), now + Duration::minutes(19)).unwrap().clock, session.clock);
    assert_eq!(s.get(Some(&token), now + Duration::minutes(20)).unwrap_err(), SessionError::Expired);
    assert_eq!(s.get(Some("nope"), now).unwrap_err(), SessionError::Missing);
    assert_eq!(s.sizes(), (0, 0), "a voting session takes no memory");
    s.end(&token, now).unwrap();
    assert_eq!(s.get(Some(&token), now).unwrap_err(), SessionError::Missing);
}

#[test]
fn extensions_restart_the_clock_for_the_same_card_up_to_the_limit() {
    let s = Sessions::default();
    let now = Utc::now();
    let life = Duration::minutes(20);
    let (token, _) = s.start(card('f'), None, now, life).unwrap();
    let t = Some(token.as_str());
    assert_eq!(s.extend(t, card('0'), now, life, 2).unwrap_err(), ExtendError::OtherCard);
    let later = now + Duration::minutes(19);
    let (t1, e) = s.extend(t, card('f'), later, life, 2).unwrap();
    assert_eq!((e.extensions, e.clock.expires_at), (1, later + life));
    assert!(s.get(Some(&t1), now + Duration::minutes(30)).is_ok(), "the new end counts");
    let (t2, _) = s.extend(Some(&t1), card('f'), later, life, 2).unwrap();
    assert_eq!(s.extend(Some(&t2), card('f'), later, life, 2).unwrap_err(), ExtendError::Limit);
    let end = later + life;
    let expired = ExtendError::Session(SessionError::Expired);
    assert_eq!(s.extend(Some(&t2), card('f'), end, life, 9).unwrap_err(), expired);
    assert_eq!(s.extend(None, card('f'), now, life, 9).unwrap_err(), ExtendError::Session(SessionError::Missing));
}

/// Issue 24: a voter goes on through the other front-end; a front-end under another key is not one of them.
#[test]
fn a_token_from_one_front_end_is_accepted_by_another_with_the_same_key_only() {
    let (a, b) = front_ends();
    let now = Utc::now();
    let (token, session) = a.start(card('f'), None, now, Duration::minutes(20)).unwrap();
    let at_b = b.get(Some(&token), now).expect("the other front-end accepts the token");
    assert_eq!((at_b.card, at_b.clock, at_b.kind), (card('f'), session.clock, SessionKind::Voter));
    let stranger = Sessions::shared([8; 32], Arc::new(MemorySpent::default()));
    assert_eq!(stranger.get(Some(&token), now).unwrap_err(), SessionError::Missing, "another key");
    // An applicant's card stays where it logged in: the other front-end sees the session but not the card.
    let (token, _) = a.start(card('a'), Some(applicant()), now, Duration::minutes(20)).unwrap();
    assert!(a.get(Some(&token), now).unwrap().applicant.is_some());
    let at_b = b.get(Some(&token), now).unwrap();
    assert_eq!((at_b.kind, at_b.applicant.is_none()), (SessionKind::Applicant, true));
}

#[test]
fn a_nonce_from_one_front_end_logs_in_once_at_either() {
    let (a, b) = front_ends();
    let now = Utc::now();
    let n = a.challenge(now);
    assert_eq!(b.consume_challenge(&n, now), Ok(()), "issued at a, used at b");
    assert_eq!(b.consume_challenge(&n, now), Err(ChallengeError::Unknown), "not again at b");
    assert_eq!(a.consume_challenge(&n, now), Err(ChallengeError::Unknown), "nor at a");
    assert_eq!(a.check_challenge(&n, now), Err(ChallengeError::Unknown));
}

#[test]
fn a_logout_at_one_front_end_ends_the_session_at_the_other() {
    let (a, b) = front_ends();
    let now = Utc::now();
    let (token, _) = a.start(card('f'), None, now, Duration::minutes(20)).unwrap();
    assert!(b.get(Some(&token), now).is_ok());
    a.end(&token, now).unwrap();
    assert_eq!(b.get(Some(&token), now).unwrap_err(), SessionError::Missing, "logged out at a");
    assert_eq!(a.get(Some(&token), now).unwrap_err(), SessionError::Missing);
}

/// The old cookie, kept and replayed after an extension, neither works nor extends: the limit holds across tokens.
#[test]
fn a_replayed_pre_extension_token_extends_nothing() {
    let (a, b) = front_ends();
    let now = Utc::now();
    let life = Duration::minutes(20);
    let (t0, _) = a.start(card('f'), None, now, life).unwrap();
    let (t1, _) = a.extend(Some(&t0), card('f'), now, life, 2).unwrap();
    let missing = ExtendError::Session(SessionError::Missing);
    assert_eq!(b.extend(Some(&t0), card('f'), now, life, 2).unwrap_err(), missing, "the old token again");
    assert_eq!(b.get(Some(&t0), now).unwrap_err(), SessionError::Missing);
    let (t2, e) = b.extend(Some(&t1), card('f'), now, life, 2).unwrap();
    assert_eq!(e.extensions, 2);
    for old in [&t0, &t1] {
        assert_eq!(a.extend(Some(old), card('f'), now, life, 2).unwrap_err(), missing);
    }
    assert_eq!(a.extend(Some(&t2), card('f'), now, life, 2).unwrap_err(), ExtendError::Limit);
}

/// A token's fields are under the MAC: fewer extensions, a later end, another card or kind, all refused.
#[test]
fn an_edited_token_is_refused() {
    let (a, _) = front_ends();
    let now = Utc::now();
    let life = Duration::minutes(20);
    let (t0, _) = a.start(card('f'), None, now, life).unwrap();
    let (t1, _) = a.extend(Some(&t0), card('f'), now, life, 9).unwrap();
    let bytes = URL_SAFE_NO_PAD.decode(&t1).unwrap();
    let edits: [(usize, u8); 4] = [(53, 0), (42, 0x7f), (2, 0), (1, 1)];
    for (at, value) in edits {
        let mut edited = bytes.clone();
        assert_ne!(edited[at], value);
        edited[at] = value;
        let text = URL_SAFE_NO_PAD.encode(&edited);
        assert_eq!(a.get(Some(&text), now).unwrap_err(), SessionError::Missing, "byte {at} edited");
        let refused = a.extend(Some(&text), card('f'), now, life, 9).unwrap_err();
        assert_eq!(refused, ExtendError::Session(SessionError::Missing), "byte {at} edited");
    }
    assert!(a.get(Some(&t1), now).is_ok(), "the token itself is fine");
    assert_eq!(a.get(Some(&format!("{t1}A")), now).unwrap_err(), SessionError::Missing);
    assert_eq!(a.get(Some(&hex::encode([0u8; 32])), now).unwrap_err(), SessionError::Missing, "the old form");
}

/// A spent store that cannot be reached refuses the request as unavailable: never a logout, never accepted.
#[test]
fn an_unreachable_spent_store_is_not_a_logout() {
    struct Down;
    impl Spent for Down {
        fn spend(&self, _: [u8; 32], _: DateTime<Utc>, _: DateTime<Utc>) -> Result<bool, SpentError> {
            Err(SpentError::Unavailable("down".into()))
        }
        fn is_spent(&self, _: &[u8; 32]) -> Result<bool, SpentError> {
            Err(SpentError::Unavailable("down".into()))
        }
        fn prune(&self, _: DateTime<Utc>) {}
        fn held(&self) -> Result<usize, SpentError> {
            Err(SpentError::Unavailable("down".into()))
        }
    }
    let (a, _) = front_ends();
    let down = Sessions::shared(KEY, Arc::new(Down));
    let now = Utc::now();
    let (token, _) = a.start(card('f'), None, now, Duration::minutes(20)).unwrap();
    assert_eq!(down.get(Some(&token), now).unwrap_err(), SessionError::Unavailable);
    let refused = down.extend(Some(&token), card('f'), now, Duration::minutes(20), 2).unwrap_err();
    assert_eq!(refused, ExtendError::Session(SessionError::Unavailable));
    assert!(down.end(&token, now).is_err());
    let n = down.challenge(now);
    assert_eq!(down.check_challenge(&n, now), Err(ChallengeError::Unavailable));
    assert_eq!(down.consume_challenge(&n, now), Err(ChallengeError::Unavailable));
    assert!(a.get(Some(&token), now).is_ok(), "nothing was ended");
}
