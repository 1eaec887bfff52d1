//! The security table (issue: benchmarks, load, faults): every attack on the voter API in one table, each refused
//! with its status and stable code, against one live fixture. Rows: forged, replayed, cross-contest,
//! cross-election, expired, revoked and wrong-CA signatures; another person's certificate; oversized and malformed
//! bodies; a PIN smuggled into a body; another voter's ciphertext re-signed; and the session cookie's attributes, which keep it from being sent
//! cross-site. Two rows live with their components: the card helper called from a foreign origin
//! (helper/tests/api_flow.rs, ORIGIN_NOT_ALLOWED) and a clerk reaching another municipality
//! (verifier/tests/operator_tls.rs and operator/tests/committee_flow.rs, OTHER_MUNICIPALITY).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::Utc;
use shared::election::Choice;
use support::*;
use verifier::AppState;
use warp::http::StatusCode;

struct Row {
    attack: &'static str,
    path: &'static str,
    session: bool,
    body: serde_json::Value,
    status: StatusCode,
    code: &'static str,
}

#[tokio::test]
async fn every_attack_in_the_table_is_refused_with_its_code() {
    let f = fixture(3);
    let (a, b) = (&f.voters[0], &f.voters[1]);
    let eid = f.state.election.get().id.to_string();
    let ct = encrypt(&f.state, "tokyo", Choice::Candidate(1));

    // Cards that must not work: another authority's, an expired one, a revoked one.
    let other_dir = tempfile::tempdir().unwrap();
    let other_ca = test_pki::TestAuthority::init(other_dir.path()).unwrap();
    let stranger = test_voter(&other_ca, 0);
    let now = Utc::now();
    let expired_card =
        f.ca.issue_with_validity(&person(50), now - chrono::Duration::days(400), now - chrono::Duration::days(1))
            .unwrap();
    let revoked = &f.voters[2];
    f.ca.revoke(&revoked.card.sign_serial).unwrap();
    let state = AppState {
        trust: Some(std::sync::Arc::new(verifier::certs::TrustStore::from_dir(&f.dir.path().join("ca")).unwrap())),
        ..f.state.clone()
    };

    // A first ballot is accepted, so that it can be replayed.
    let cookie = login(&state, a).await;
    let accepted = cast_body(a, &eid, "tokyo", &ct);
    assert_eq!(post(&state, "/api/v1/ballots", Some(&cookie), &accepted).await.0, StatusCode::CREATED);
    let cookie_c = login(&state, revoked).await;

    let ct2 = encrypt(&state, "national-pr", Choice::Party(1));
    let mut forged = cast_body(a, &eid, "national-pr", &ct2);
    let mut sig = B64.decode(forged["signature"].as_str().unwrap()).unwrap();
    sig[10] ^= 0x55;
    forged["signature"] = B64.encode(sig).into();
    let mut cross_contest = cast_body(a, &eid, "tokyo", &ct2);
    cross_contest["contest"] = "national-pr".into();
    let cross_election = cast_body(a, "hoc-2031", "national-pr", &ct2);
    let mut expired = cast_body(a, &eid, "national-pr", &ct2);
    expired["certificate"] = B64.encode(&expired_card.sign_cert_der).into();
    let mut wrong_ca = cast_body(a, &eid, "national-pr", &ct2);
    wrong_ca["certificate"] = B64.encode(&stranger.card.sign_cert_der).into();
    let mut oversized = cast_body(a, &eid, "national-pr", &ct2);
    oversized["ciphertext"] = "A".repeat(20_000).into();
    let mut with_pin = cast_body(a, &eid, "national-pr", &ct2);
    with_pin["pin"] = "1234".into();
    let n = nonce(&state).await;
    let login_once = login_body(b, &n, ORIGIN);
    assert_eq!(post(&state, "/api/v1/session", None, &login_once).await.0, StatusCode::CREATED);
    let n = nonce(&state).await;
    let stranger_login = login_body(&stranger, &n, ORIGIN);
    let n = nonce(&state).await;
    let relayed_login = login_body(b, &n, "https://evil.example");

    let rows = [
        Row {
            attack: "forged signature",
            path: "/api/v1/ballots",
            session: true,
            body: forged,
            status: StatusCode::BAD_REQUEST,
            code: "BAD_SIGNATURE",
        },
        Row {
            attack: "replayed accepted ballot",
            path: "/api/v1/ballots",
            session: true,
            body: accepted,
            status: StatusCode::CONFLICT,
            code: "ALREADY_VOTED",
        },
        Row {
            attack: "cross-contest signature",
            path: "/api/v1/ballots",
            session: true,
            body: cross_contest,
            status: StatusCode::BAD_REQUEST,
            code: "BAD_SIGNATURE",
        },
        Row {
            attack: "cross-election signature",
            path: "/api/v1/ballots",
            session: true,
            body: cross_election,
            status: StatusCode::BAD_REQUEST,
            code: "BAD_SIGNATURE",
        },
        Row {
            attack: "expired certificate",
            path: "/api/v1/ballots",
            session: true,
            body: expired,
            status: StatusCode::FORBIDDEN,
            code: "CERT_EXPIRED",
        },
        Row {
            attack: "wrong-CA certificate",
            path: "/api/v1/ballots",
            session: true,
            body: wrong_ca,
            status: StatusCode::FORBIDDEN,
            code: "UNKNOWN_CA",
        },
        Row {
            attack: "another person's certificate",
            path: "/api/v1/ballots",
            session: true,
            body: cast_body(b, &eid, "national-pr", &ct2),
            status: StatusCode::FORBIDDEN,
            code: "CERT_MISMATCH",
        },
        Row {
            attack: "oversized body",
            path: "/api/v1/ballots",
            session: true,
            body: oversized,
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "TOO_LARGE",
        },
        Row {
            attack: "malformed body",
            path: "/api/v1/ballots",
            session: true,
            body: serde_json::json!({"contest": 7}),
            status: StatusCode::BAD_REQUEST,
            code: "MALFORMED",
        },
        Row {
            attack: "a PIN smuggled into a body",
            path: "/api/v1/ballots",
            session: true,
            body: with_pin,
            status: StatusCode::BAD_REQUEST,
            code: "MALFORMED",
        },
        Row {
            attack: "no session cookie",
            path: "/api/v1/ballots",
            session: false,
            body: cast_body(a, &eid, "national-pr", &ct2),
            status: StatusCode::UNAUTHORIZED,
            code: "NO_SESSION",
        },
        Row {
            attack: "replayed login challenge",
            path: "/api/v1/session",
            session: false,
            body: login_once,
            status: StatusCode::UNAUTHORIZED,
            code: "CHALLENGE_UNKNOWN",
        },
        Row {
            attack: "login relayed by a phishing origin",
            path: "/api/v1/session",
            session: false,
            body: relayed_login,
            status: StatusCode::UNAUTHORIZED,
            code: "BAD_SIGNATURE",
        },
        Row {
            attack: "login with a wrong-CA card",
            path: "/api/v1/session",
            session: false,
            body: stranger_login,
            status: StatusCode::FORBIDDEN,
            code: "UNKNOWN_CA",
        },
    ];
    let mut failures = Vec::new();
    for row in rows {
        let (status, body, _) = post(&state, row.path, row.session.then_some(cookie.as_str()), &row.body).await;
        let got = serde_json::from_slice::<shared::api::ApiError>(&body).map(|e| e.code).unwrap_or_default();
        if (status, got.as_str()) != (row.status, row.code) {
            failures.push(format!("{}: expected {} {}, got {status} {got}", row.attack, row.status, row.code));
        }
    }
    // The revoked card's holder, logged in before the revocation, cannot cast.
    let (status, body) = cast(&state, &cookie_c, revoked, "tokyo", Choice::Blank).await;
    if (status, code(&body).as_str()) != (StatusCode::FORBIDDEN, "CERT_REVOKED") {
        failures.push(format!("revoked certificate: got {status} {}", code(&body)));
    }
    // Another voter re-signs the accepted ciphertext with their own card (copying a vote): refused, no mark.
    let cookie_b = login(&state, b).await;
    let (status, body, _) = post(&state, "/api/v1/ballots", Some(&cookie_b), &cast_body(b, &eid, "tokyo", &ct)).await;
    if (status, code(&body).as_str()) != (StatusCode::CONFLICT, "DUPLICATE_BALLOT") {
        failures.push(format!("another voter's ciphertext re-signed: got {status} {}", code(&body)));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Nothing but the one accepted ballot was stored.
    let voted: i64 = state.db.with(|c| c.query_row("SELECT COUNT(*) FROM voted", [], |r| r.get(0))).unwrap();
    let ballots: i64 = state.db.ballot_counts(&eid).unwrap().iter().map(|(_, n)| n).sum();
    assert_eq!((voted, ballots), (1, 1));
}

/// The session cookie is never sent by another site's page (SameSite=Strict), never readable by scripts
/// (HttpOnly), scoped to the API, and Secure behind TLS.
#[tokio::test]
async fn the_session_cookie_is_not_sent_cross_site() {
    let f = fixture(1);
    let n = nonce(&f.state).await;
    let (_, _, set) = post(&f.state, "/api/v1/session", None, &login_body(&f.voters[0], &n, ORIGIN)).await;
    let set = set.unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/api/v1"] {
        assert!(set.split("; ").any(|a| a == attr), "{attr} in {set}");
    }
    let secure = AppState {
        config: std::sync::Arc::new(verifier::Config { secure_cookies: true, ..(*f.state.config).clone() }),
        ..f.state.clone()
    };
    let n = nonce(&secure).await;
    let (_, _, set) = post(&secure, "/api/v1/session", None, &login_body(&f.voters[0], &n, ORIGIN)).await;
    assert!(set.unwrap().split("; ").any(|a| a == "Secure"));
}
