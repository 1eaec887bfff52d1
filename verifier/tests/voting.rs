//! The voter API end to end through warp's test harness: login, ballot, cast, and every refusal code with its
//! status; the one-ballot-per-contest race; and the secrecy of the stored ballot box (R-VOTE-4..9).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::Utc;
use shared::api::{ApiError, CastReceipt};
use shared::election::Choice;
use support::*;
use verifier::AppState;
use verifier::voting::filters::routes;
use warp::http::StatusCode;

#[tokio::test]
async fn login_ballot_and_one_cast_per_contest() {
    let f = fixture(1);
    let v = &f.voters[0];
    let cookie = login(&f.state, v).await;
    let b = ballot(&f.state, &cookie).await;
    let ids: Vec<_> = b.contests.iter().map(|c| c.contest.id.to_string()).collect();
    assert_eq!(ids, ["tokyo", "national-pr"]);
    assert!(b.contests.iter().all(|c| !c.voted));
    assert_eq!(b.key_fingerprint, f.state.key.fingerprint());

    let ct = encrypt(&f.state, "tokyo", Choice::Candidate(3));
    let body = cast_body(v, f.state.election.get().id.as_str(), "tokyo", &ct);
    let (s, r, _) = post(&f.state, "/api/v1/ballots", Some(&cookie), &body).await;
    assert_eq!(s, 201);
    let receipt: CastReceipt = serde_json::from_slice(&r).unwrap();
    assert_eq!(receipt.tracker, shared::crypto::tracker(&ct));
    assert!(ballot(&f.state, &cookie).await.contests[0].voted);

    // No re-voting (R-VOTE-9): a second ballot, even a different choice, is refused.
    let (s, r) = cast(&f.state, &cookie, v, "tokyo", Choice::Blank).await;
    assert_eq!((s, code(&r).as_str()), (StatusCode::CONFLICT, "ALREADY_VOTED"));
    let (s, _) = cast(&f.state, &cookie, v, "national-pr", Choice::Candidate(101)).await;
    assert_eq!(s, 201);
    assert_eq!(
        f.state.db.ballot_counts(f.state.election.get().id.as_str()).unwrap().iter().map(|(_, n)| n).sum::<i64>(),
        2
    );
}

/// R-VOTE-3: a candidate's withdrawal made while voting is paused reaches the voter's next ballot view and the
/// definition the card helper reads; the ballot cast before stays in the box.
#[tokio::test]
async fn a_withdrawal_during_a_pause_reaches_the_next_ballot_view() {
    use shared::election::{Id, WithdrawalReason};
    let f = fixture(2);
    let cookie = login(&f.state, &f.voters[0]).await;
    let (s, _) = cast(&f.state, &cookie, &f.voters[0], "tokyo", Choice::Candidate(4)).await;
    assert_eq!(s, 201);
    let now = f.state.clock.now();
    let tokyo = Id::new("tokyo").unwrap();
    let withdraw = || {
        verifier::voting::withdrawals::withdraw(
            &f.state.db,
            &f.state.election,
            "admin:test",
            &tokyo,
            4,
            WithdrawalReason::Died,
            now,
        )
    };
    assert_eq!(withdraw().unwrap_err().code, "NOT_PAUSED");
    f.state.db.set_pause(Some("候補者の異動のため"), "admin:test", now).unwrap();
    let done = withdraw().unwrap();
    assert_eq!(done.name, "田中 ひろし");
    f.state.db.set_pause(None, "admin:test", now).unwrap();

    let other = login(&f.state, &f.voters[1]).await;
    let view = ballot(&f.state, &other).await;
    let offered = &view.contests[0].contest;
    assert_eq!(offered.withdrawal(4).map(|w| w.reason), Some(WithdrawalReason::Died));
    assert!(offered.check(&Choice::Candidate(4)).is_err(), "the app can no longer encode a vote for them");
    let r =
        warp::test::request().path("/api/v1/elections/current/definition").reply(&routes(f.state.clone(), None)).await;
    assert_eq!(r.status(), 200);
    let definition: shared::api::ElectionDefinition = serde_json::from_slice(r.body()).unwrap();
    assert!(definition.election.contest("tokyo").unwrap().withdrawal(4).is_some(), "the card helper reads it too");
    assert_eq!(f.state.db.ballot_counts(f.state.election.get().id.as_str()).unwrap(), vec![("tokyo".to_string(), 1)]);
}

#[tokio::test]
async fn login_refusals() {
    let f = fixture(1);
    let v = &f.voters[0];
    // A nonce is single-use.
    let n = nonce(&f.state).await;
    assert_eq!(post(&f.state, "/api/v1/session", None, &login_body(v, &n, ORIGIN)).await.0, 201);
    let (s, b, _) = post(&f.state, "/api/v1/session", None, &login_body(v, &n, ORIGIN)).await;
    assert_eq!((s, code(&b).as_str()), (StatusCode::UNAUTHORIZED, "CHALLENGE_UNKNOWN"));
    // A signature made for another origin (a phishing site relaying the challenge) does not verify.
    let n = nonce(&f.state).await;
    let (s, b, _) = post(&f.state, "/api/v1/session", None, &login_body(v, &n, "https://evil.example")).await;
    assert_eq!((s, code(&b).as_str()), (StatusCode::UNAUTHORIZED, "BAD_SIGNATURE"));
    // A valid card of someone who is not registered.
    let stranger = test_voter(&f.ca, 99);
    let n = nonce(&f.state).await;
    let (s, b, _) = post(&f.state, "/api/v1/session", None, &login_body(&stranger, &n, ORIGIN)).await;
    assert_eq!((s, code(&b).as_str()), (StatusCode::FORBIDDEN, "NOT_REGISTERED"));
    // A card from another authority.
    let other_dir = tempfile::tempdir().unwrap();
    let other = test_pki::TestAuthority::init(other_dir.path()).unwrap();
    let forged = test_voter(&other, 0);
    let n = nonce(&f.state).await;
    let (s, b, _) = post(&f.state, "/api/v1/session", None, &login_body(&forged, &n, ORIGIN)).await;
    assert_eq!((s, code(&b).as_str()), (StatusCode::FORBIDDEN, "UNKNOWN_CA"));
    // The signing certificate is not a login certificate.
    let n = nonce(&f.state).await;
    let mut body = login_body(v, &n, ORIGIN);
    body["certificate"] = B64.encode(&v.card.sign_cert_der).into();
    let (s, _, _) = post(&f.state, "/api/v1/session", None, &body).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Unknown fields (a PIN, say) are refused, never stored.
    let n = nonce(&f.state).await;
    let mut body = login_body(v, &n, ORIGIN);
    body["pin"] = "1234".into();
    let (s, b, _) = post(&f.state, "/api/v1/session", None, &body).await;
    assert_eq!((s, code(&b).as_str()), (StatusCode::BAD_REQUEST, "MALFORMED"));
    // Every failed attempt is counted (none writes a row of its own, issue 19), and the counts reach the audit log
    // as one row, which stays intact.
    verifier::voting::handlers::write_login_failures(&f.state.db, &f.state.sessions, Utc::now()).await;
    let entries = f.state.db.with(|c| verifier::store::audit::entries(c)).unwrap();
    assert!(!entries.iter().any(|e| e.action == "login_failed"));
    let counts = entries.iter().find(|e| e.action == "login_failures").expect("the counts are audited");
    let counts: serde_json::Value = serde_json::from_str(&counts.detail).unwrap();
    assert!(counts["total"].as_u64().unwrap() >= 4, "{counts}");
    assert!(counts["counts"]["UNKNOWN_CA"].as_u64() == Some(1), "{counts}");
    assert_eq!(f.state.db.with(|c| verifier::store::audit::verify(c)).unwrap().first_broken, None);
}

#[tokio::test]
async fn cast_refusals_each_with_its_code() {
    let f = fixture(2);
    let (a, b) = (&f.voters[0], &f.voters[1]);
    let eid = f.state.election.get().id.to_string();
    let ct = encrypt(&f.state, "tokyo", Choice::Candidate(1));

    let (s, r, _) = post(&f.state, "/api/v1/ballots", None, &cast_body(a, &eid, "tokyo", &ct)).await;
    assert_eq!((s, code(&r).as_str()), (StatusCode::UNAUTHORIZED, "NO_SESSION"));
    let cookie = login(&f.state, a).await;

    // Cross-contest and cross-election signatures: signed for something else.
    let mut body = cast_body(a, &eid, "national-pr", &ct);
    body["contest"] = "tokyo".into();
    let (s, r, _) = post(&f.state, "/api/v1/ballots", Some(&cookie), &body).await;
    assert_eq!((s, code(&r).as_str()), (StatusCode::BAD_REQUEST, "BAD_SIGNATURE"));
    let (s, r, _) = post(&f.state, "/api/v1/ballots", Some(&cookie), &cast_body(a, "hoc-2031", "tokyo", &ct)).await;
    assert_eq!((s, code(&r).as_str()), (StatusCode::BAD_REQUEST, "BAD_SIGNATURE"));
    // Another person's signing certificate.
    let (s, r, _) = post(&f.state, "/api/v1/ballots", Some(&cookie), &cast_body(b, &eid, "tokyo", &ct)).await;
    assert_eq!((s, code(&r).as_str()), (StatusCode::FORBIDDEN, "CERT_MISMATCH"));
    // A contest not on this ballot.
    let (s, r, _) = post(&f.state, "/api/v1/ballots", Some(&cookie), &cast_body(a, &eid, "osaka", &ct)).await;
    assert_eq!((s, code(&r).as_str()), (StatusCode::FORBIDDEN, "WRONG_CONTEST"));
    // A ciphertext of the wrong length, bad base64, an oversized body.
    let (s, r, _) = post(&f.state, "/api/v1/ballots", Some(&cookie), &cast_body(a, &eid, "tokyo", &ct[1..])).await;
    assert_eq!((s, code(&r).as_str()), (StatusCode::BAD_REQUEST, "MALFORMED"));
    let mut body = cast_body(a, &eid, "tokyo", &ct);
    body["ciphertext"] = "***".into();
    assert_eq!(code(&post(&f.state, "/api/v1/ballots", Some(&cookie), &body).await.1), "MALFORMED");
    body["ciphertext"] = "A".repeat(20_000).into();
    let (s, r, _) = post(&f.state, "/api/v1/ballots", Some(&cookie), &body).await;
    assert_eq!((s, code(&r).as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "TOO_LARGE"));

    // Paused: refused with the reason; resumed: accepted.
    f.state.db.set_pause(Some("候補者の異動のため / candidate change"), "test", Utc::now()).unwrap();
    let (s, r) = cast(&f.state, &cookie, a, "tokyo", Choice::Candidate(1)).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let e: ApiError = serde_json::from_slice(&r).unwrap();
    assert_eq!(e.code, "VOTING_PAUSED");
    assert!(e.message.contains("candidate change"));
    assert_eq!(ballot(&f.state, &cookie).await.paused.as_deref(), Some("候補者の異動のため / candidate change"));
    f.state.db.set_pause(None, "test", Utc::now()).unwrap();
    assert_eq!(cast(&f.state, &cookie, a, "tokyo", Choice::Candidate(1)).await.0, 201);

    // Revoked signing certificate: the CRL is rewritten and the store reloaded.
    let cookie_b = login(&f.state, b).await;
    f.ca.revoke(&b.card.sign_serial).unwrap();
    let state = AppState {
        trust: Some(std::sync::Arc::new(verifier::certs::TrustStore::from_dir(&f.dir.path().join("ca")).unwrap())),
        ..f.state.clone()
    };
    let (s, r) = cast(&state, &cookie_b, b, "tokyo", Choice::Candidate(2)).await;
    assert_eq!((s, code(&r).as_str()), (StatusCode::FORBIDDEN, "CERT_REVOKED"));
}

#[tokio::test]
async fn expired_certificate_closed_window_and_expired_session() {
    // An expired signing certificate, registered before it expired.
    let f = fixture(0);
    let now = Utc::now();
    let card =
        f.ca.issue_with_validity(&person(7), now - chrono::Duration::days(400), now - chrono::Duration::days(1))
            .unwrap();
    let fresh = test_voter(&f.ca, 8);
    let v = TestVoter {
        person_id: "person-7".into(),
        auth_key: fresh.auth_key,
        sign_key: rsa::pkcs8::DecodePrivateKey::from_pkcs8_der(&card.sign_key_pkcs8_der).unwrap(),
        card: test_pki::IssuedCard {
            auth_key_pkcs8_der: fresh.card.auth_key_pkcs8_der,
            auth_cert_der: fresh.card.auth_cert_der,
            auth_serial: fresh.card.auth_serial,
            ..card
        },
    };
    register(&f.state.db, &v, &["tokyo"]);
    let cookie = login(&f.state, &v).await;
    let (s, r) = cast(&f.state, &cookie, &v, "tokyo", Choice::Blank).await;
    assert_eq!((s, code(&r).as_str()), (StatusCode::FORBIDDEN, "CERT_EXPIRED"));

    // Voting closed: an election whose window is over.
    let mut past = verifier::demo::demo_election(now).unwrap();
    past.notice_date = "2025-07-02".parse().unwrap();
    past.election_day = "2025-07-19".parse().unwrap();
    let f = fixture_with(1, past, chrono::Duration::minutes(20));
    let cookie = login(&f.state, &f.voters[0]).await;
    let (s, r) = cast(&f.state, &cookie, &f.voters[0], "tokyo", Choice::Blank).await;
    assert_eq!((s, code(&r).as_str()), (StatusCode::FORBIDDEN, "VOTING_CLOSED"));

    // Voting not open yet: an election next year.
    let mut future = verifier::demo::demo_election(now).unwrap();
    let next_year = (now + chrono::Duration::days(365)).date_naive();
    future.notice_date = next_year;
    future.election_day = next_year + chrono::Duration::days(17);
    let f = fixture_with(1, future, chrono::Duration::minutes(20));
    let cookie = login(&f.state, &f.voters[0]).await;
    let (s, r) = cast(&f.state, &cookie, &f.voters[0], "tokyo", Choice::Blank).await;
    assert_eq!((s, code(&r).as_str()), (StatusCode::FORBIDDEN, "VOTING_NOT_OPEN"));

    // A session whose time is up (lifetime zero).
    let f = fixture_with(1, verifier::demo::demo_election(now).unwrap(), chrono::Duration::zero());
    let cookie = login(&f.state, &f.voters[0]).await;
    let r = warp::test::request()
        .path("/api/v1/ballot")
        .header("cookie", &cookie)
        .reply(&routes(f.state.clone(), None))
        .await;
    assert_eq!((r.status(), code(r.body()).as_str()), (StatusCode::UNAUTHORIZED, "SESSION_EXPIRED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_simultaneous_casts_for_one_contest_accept_exactly_one() {
    let f = fixture(1);
    let v = &f.voters[0];
    let cookie = login(&f.state, v).await;
    let eid = f.state.election.get().id.to_string();
    let mut tasks = Vec::new();
    for i in 0..100u16 {
        let ct = encrypt(&f.state, "tokyo", Choice::Candidate(1 + i % 9));
        let body = cast_body(v, &eid, "tokyo", &ct);
        let (state, cookie) = (f.state.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let r = warp::test::request().method("POST").path("/api/v1/ballots").header("cookie", cookie).json(&body);
            r.reply(&routes(state, None)).await.status()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1);
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 99);
    assert_eq!(f.state.db.ballot_counts(f.state.election.get().id.as_str()).unwrap(), vec![("tokyo".to_string(), 1)]);
}

/// The two stores, read as raw files (main files and write-ahead logs): the ballot box's files hold no byte of a
/// person, a certificate or a session; the voter store's files hold no ciphertext and no tracker. Their schemas
/// say the same. (What the order of writes could link is the disk reader's test: secrecy_forensics.rs.)
#[tokio::test]
async fn the_two_stores_hold_nothing_of_each_other() {
    let f = fixture(24);
    let eid = f.state.election.get().id.to_string();
    let mut cts = Vec::new();
    let mut tokens = Vec::new();
    for v in &f.voters {
        let cookie = login(&f.state, v).await;
        for contest in ["tokyo", "national-pr"] {
            let ct = encrypt(&f.state, contest, Choice::Blank);
            let (s, _, _) = post(&f.state, "/api/v1/ballots", Some(&cookie), &cast_body(v, &eid, contest, &ct)).await;
            assert_eq!(s, 201);
            cts.push(ct);
        }
        tokens.push(cookie.split_once('=').unwrap().1.to_string());
    }
    let files = |box_files: bool| -> Vec<(String, Vec<u8>)> {
        std::fs::read_dir(f.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".sqlite") && n.contains("ballot-box") == box_files)
            .map(|n| (n.clone(), std::fs::read(f.dir.path().join(&n)).unwrap()))
            .collect()
    };
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let (box_files, voter_files) = (files(true), files(false));
    assert!(box_files.iter().any(|(n, _)| n.ends_with("ballot-box.sqlite")), "{box_files:?}");
    assert!(voter_files.iter().any(|(n, _)| n.ends_with("verifier.sqlite")));
    for (name, bytes) in &box_files {
        for v in &f.voters {
            let fingerprint = fingerprint(&v.card.auth_cert_der);
            for secret in [&v.person_id, &fingerprint, &v.card.sign_serial, &v.card.auth_serial] {
                assert!(!contains(bytes, secret.as_bytes()), "{name} holds {secret}");
            }
            assert!(!contains(bytes, &v.card.sign_cert_der[..64]), "{name} holds a certificate");
        }
        for t in &tokens {
            assert!(!contains(bytes, t.as_bytes()), "{name} holds a session token");
        }
    }
    for (name, bytes) in &voter_files {
        for ct in &cts {
            let tracker = shared::crypto::tracker(ct);
            assert!(!contains(bytes, &ct[..32]), "{name} holds a ciphertext");
            assert!(!contains(bytes, tracker.as_bytes()), "{name} holds a tracker");
            assert!(!contains(bytes, &hex::decode(&tracker).unwrap()), "{name} holds a tracker");
        }
    }
    // The schemas: no table of the voter store has a ballot; the marks name no ballot and no time.
    let columns = |table: &str| -> Vec<String> {
        f.state
            .db
            .with(|c| {
                let mut st = c.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
                let rows = st.query_map([], |r| r.get(0))?;
                rows.collect()
            })
            .unwrap()
    };
    assert!(columns("ballots").is_empty(), "the voter store has no ballots table");
    // (The municipality a mark was cast under is the roll's, for the record (調書): nothing of the ballot.)
    assert_eq!(columns("voted"), ["person_id", "election_id", "contest_id", "pending_group", "municipality"]);
    let boxed = rusqlite::Connection::open(f.dir.path().join("verifier.ballot-box.sqlite")).unwrap();
    let mut st = boxed.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").unwrap();
    let tables: Vec<String> = st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(tables, ["ballots", "batches", "groups", "pool", "seals"]);
    for t in &tables {
        let mut st = boxed.prepare(&format!("SELECT name FROM pragma_table_info('{t}')")).unwrap();
        for c in st.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap) {
            assert!(
                ["tracker", "election_id", "contest_id", "ciphertext", "id", "wrapped_key", "batch", "sealed"]
                    .contains(&c.as_str()),
                "the ballot box's {t}.{c} is not one of its known columns"
            );
        }
    }
    // The audit log names no ballot, and no longer marks each vote with a voter and a time.
    for e in f.state.db.with(|c| verifier::store::audit::entries(c)).unwrap() {
        assert!(
            !cts.iter().any(|ct| e.detail.contains(&shared::crypto::tracker(ct))),
            "entry {} names a tracker",
            e.seq
        );
        assert_ne!(e.action, "vote_marked");
    }
}

/// WCAG 2.2.1 with R-VOTE-4: the same card logging in again restarts the session's fixed time, up to the limit
/// (2 in the fixture); another card, no session, or an ended session cannot extend.
#[tokio::test]
async fn a_session_is_extended_only_by_the_same_card_and_only_so_often() {
    let f = fixture(2);
    let (v, other) = (&f.voters[0], &f.voters[1]);
    let cookie = login(&f.state, v).await;
    let first = ballot(&f.state, &cookie).await;
    assert_eq!(first.session_extensions_left, 2);

    let n = nonce(&f.state).await;
    let (s, b, _) = post(&f.state, "/api/v1/session/extend", Some(&cookie), &login_body(other, &n, ORIGIN)).await;
    assert_eq!((s, code(&b).as_str()), (StatusCode::FORBIDDEN, "OTHER_CARD"));
    let n = nonce(&f.state).await;
    let (s, b, _) = post(&f.state, "/api/v1/session/extend", None, &login_body(v, &n, ORIGIN)).await;
    assert_eq!((s, code(&b).as_str()), (StatusCode::UNAUTHORIZED, "NO_SESSION"));
    // A relayed challenge signed for another origin does not extend either.
    let n = nonce(&f.state).await;
    let body = login_body(v, &n, "https://evil.example");
    let (s, b, _) = post(&f.state, "/api/v1/session/extend", Some(&cookie), &body).await;
    assert_eq!((s, code(&b).as_str()), (StatusCode::UNAUTHORIZED, "BAD_SIGNATURE"));

    let mut cookie = cookie;
    for left in [1, 0] {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let n = nonce(&f.state).await;
        let (s, b, set) = post(&f.state, "/api/v1/session/extend", Some(&cookie), &login_body(v, &n, ORIGIN)).await;
        assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
        let r: shared::api::LoginResponse = serde_json::from_slice(&b).unwrap();
        assert_eq!(r.extensions_left, left);
        assert!(r.expires_at > first.session_expires_at, "the fixed time restarts from the new login");
        // An extension issues a new token and spends the old one (issue 24): a replayed old cookie extends nothing.
        let renewed = set.unwrap().split(';').next().unwrap().to_string();
        assert_ne!(renewed, cookie);
        let n = nonce(&f.state).await;
        let (s, b, _) = post(&f.state, "/api/v1/session/extend", Some(&cookie), &login_body(v, &n, ORIGIN)).await;
        assert_eq!((s, code(&b).as_str()), (StatusCode::UNAUTHORIZED, "NO_SESSION"), "the old cookie is spent");
        cookie = renewed;
        assert_eq!(ballot(&f.state, &cookie).await.session_expires_at, r.expires_at);
    }
    let n = nonce(&f.state).await;
    let (s, b, _) = post(&f.state, "/api/v1/session/extend", Some(&cookie), &login_body(v, &n, ORIGIN)).await;
    assert_eq!((s, code(&b).as_str()), (StatusCode::FORBIDDEN, "EXTENSION_LIMIT"));
}

#[tokio::test]
async fn an_ended_session_cannot_be_extended() {
    let now = Utc::now();
    let f = fixture_with(1, verifier::demo::demo_election(now).unwrap(), chrono::Duration::zero());
    let v = &f.voters[0];
    let n = nonce(&f.state).await;
    let (s, _, set) = post(&f.state, "/api/v1/session", None, &login_body(v, &n, ORIGIN)).await;
    assert_eq!(s, 201);
    let cookie = set.unwrap().split(';').next().unwrap().to_string();
    let n = nonce(&f.state).await;
    let (s, b, _) = post(&f.state, "/api/v1/session/extend", Some(&cookie), &login_body(v, &n, ORIGIN)).await;
    assert_eq!((s, code(&b).as_str()), (StatusCode::UNAUTHORIZED, "SESSION_EXPIRED"));
}

/// R-SEC-5: refused casts leave a trace as counts per refusal code and per hour, one audit row an hour, with no
/// person, certificate, session or ballot in it.
#[tokio::test]
async fn refused_casts_are_audited_as_hourly_counts_without_identity() {
    let f = fixture(1);
    let v = &f.voters[0];
    let cookie = login(&f.state, v).await;
    assert_eq!(cast(&f.state, &cookie, v, "tokyo", Choice::Candidate(1)).await.0, 201);
    for _ in 0..3 {
        let (s, body) = cast(&f.state, &cookie, v, "tokyo", Choice::Candidate(2)).await;
        assert_eq!((s, code(&body).as_str()), (StatusCode::CONFLICT, "ALREADY_VOTED"));
    }
    let (s, body, _) = post(&f.state, "/api/v1/ballots", Some(&cookie), &serde_json::json!({ "contest": 1 })).await;
    assert_eq!((s, code(&body).as_str()), (StatusCode::BAD_REQUEST, "MALFORMED"));

    // The hour in progress is not written yet; once it has ended, it is one row.
    verifier::voting::handlers::write_cast_refusals(&f.state.db, &f.state.sessions, Utc::now(), false).await;
    let rows = |action: &str| -> Vec<verifier::store::audit::Entry> {
        f.state
            .db
            .with(|c| verifier::store::audit::entries(c))
            .unwrap()
            .into_iter()
            .filter(|e| e.action == action)
            .collect()
    };
    assert!(rows("cast_refusals").is_empty());
    let later = Utc::now() + chrono::Duration::hours(1);
    verifier::voting::handlers::write_cast_refusals(&f.state.db, &f.state.sessions, later, false).await;
    let written = rows("cast_refusals");
    assert_eq!(written.len(), 1, "one row for the hour");
    let detail: serde_json::Value = serde_json::from_str(&written[0].detail).unwrap();
    assert_eq!(detail["counts"], serde_json::json!({ "ALREADY_VOTED": 3, "MALFORMED": 1 }), "{detail}");
    assert_eq!(detail["total"], 4);
    assert!(detail["hour"].as_str().unwrap().contains("JST"), "{detail}");
    for secret in [v.person_id.as_str(), &fingerprint(&v.card.sign_cert_der), &cookie[9..]] {
        assert!(!written[0].detail.contains(secret) && !written[0].actor.contains(secret), "{secret} in {detail}");
    }
}
