//! The verifier on the open internet (issue 19), attacked as one laptop would, through the voter API's routes:
//! a flood of challenges, a flood of junk logins, and a page of another site posting with a voter's cookie. Each
//! test was run against the verifier before issue 19 and failed there (see the note).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use shared::election::Choice;
use support::*;
use verifier::voting::filters::routes;

/// Every byte the verifier keeps on disk under a folder (its databases, their WAL and journal files).
fn bytes_on_disk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

#[tokio::test]
async fn a_flood_of_challenges_does_not_stop_a_real_login() {
    let f = fixture(1);
    let r = routes(f.state.clone(), None);
    // More than the old table's 100,000 outstanding challenges, from an attacker who never logs in.
    for _ in 0..110_000 {
        let resp = warp::test::request().method("POST").path("/api/v1/session/challenge").reply(&r).await;
        assert_eq!(resp.status(), 201);
    }
    // A real voter then logs in (support::login asserts 201).
    let cookie = login(&f.state, &f.voters[0]).await;
    assert!(cookie.starts_with("vsession="));
    assert_eq!(f.state.sessions.sizes(), (1, 0), "only the real login's nonce is remembered (sessions take no memory)");
}

#[tokio::test]
async fn junk_logins_write_nothing_per_request_and_are_audited_as_counts() {
    let f = fixture(1);
    let r = routes(f.state.clone(), None);
    let before = bytes_on_disk(f.dir.path());
    for i in 0..2_000u32 {
        let nonce = if i % 2 == 0 { nonce(&f.state).await } else { i.to_be_bytes().repeat(8) };
        let body = serde_json::json!({
            "nonce": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &nonce),
            "certificate": "AAAA",
            "signature": "AAAA",
        });
        let resp = warp::test::request().method("POST").path("/api/v1/session").json(&body).reply(&r).await;
        assert!(resp.status().is_client_error(), "{}", resp.status());
    }
    let grown = bytes_on_disk(f.dir.path()).saturating_sub(before);
    assert!(grown <= 64 * 1024, "2,000 junk logins grew the data directory by {grown} bytes");
    let audit = f.state.db.with(|c| verifier::store::audit::entries(c)).unwrap();
    assert!(!audit.iter().any(|e| e.action == "login_failed"), "no row per failed login");
    // Once a minute the counts become one row.
    verifier::voting::handlers::write_login_failures(&f.state.db, &f.state.sessions, chrono::Utc::now()).await;
    let rows: Vec<_> = f
        .state
        .db
        .with(|c| verifier::store::audit::entries(c))
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "login_failures")
        .collect();
    assert_eq!(rows.len(), 1);
    let detail: serde_json::Value = serde_json::from_str(&rows[0].detail).unwrap();
    assert_eq!(detail["total"], 2_000, "{detail}");
}

#[tokio::test]
async fn a_post_from_another_site_is_refused_even_with_the_voters_cookie() {
    let f = fixture(1);
    let v = &f.voters[0];
    let cookie = login(&f.state, v).await;
    let r = routes(f.state.clone(), None);
    let ct = encrypt(&f.state, "tokyo", Choice::Candidate(1));
    let body = cast_body(v, f.state.election.get().id.as_str(), "tokyo", &ct);
    let post = |header: (&'static str, &'static str)| {
        warp::test::request()
            .method("POST")
            .path("/api/v1/ballots")
            .header("cookie", &cookie)
            .header(header.0, header.1)
            .json(&body)
    };
    for header in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
        let resp = post(header).reply(&r).await;
        assert_eq!((resp.status().as_u16(), code(resp.body()).as_str()), (403, "ORIGIN_NOT_ALLOWED"), "{header:?}");
    }
    let logout = warp::test::request()
        .method("DELETE")
        .path("/api/v1/session")
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .reply(&r)
        .await;
    assert_eq!(logout.status(), 403, "another site cannot log the voter out");
    // From the voting site itself, the same ballot is accepted.
    let resp = post(("origin", ORIGIN)).reply(&r).await;
    assert_eq!(resp.status(), 201, "{}", String::from_utf8_lossy(resp.body()));
}

#[tokio::test]
async fn a_card_revoked_while_serving_is_refused_within_the_poll_without_a_restart() {
    let f = fixture(1);
    let v = &f.voters[0];
    let cookie = login(&f.state, v).await;
    // The watch `verifier serve` runs, here looking at the files every 200 ms.
    let trust = f.state.trust.clone().unwrap();
    let poll = std::time::Duration::from_millis(200);
    verifier::certs::watch::spawn(trust, f.dir.path().join("ca"), f.state.db.clone(), f.state.clock, poll);
    tokio::time::sleep(poll).await;
    f.ca.revoke(&v.card.auth_serial).unwrap();
    f.ca.revoke(&v.card.sign_serial).unwrap();
    let revoked_at = std::time::Instant::now();
    let refused = loop {
        let n = nonce(&f.state).await;
        let (status, body, _) = post(&f.state, "/api/v1/session", None, &login_body(v, &n, ORIGIN)).await;
        if status != 201 {
            break (status.as_u16(), code(&body));
        }
        assert!(revoked_at.elapsed() < std::time::Duration::from_secs(10), "the revoked card still logs in");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!((refused.0, refused.1.as_str()), (403, "CERT_REVOKED"));
    // Within the poll (plus the time to re-read), not at the next minute.
    assert!(revoked_at.elapsed() < std::time::Duration::from_secs(5), "refused after {:?}", revoked_at.elapsed());
    // The session that was open stays open (sessions survive the refresh); its next cast is refused by the CRL.
    assert!(!ballot(&f.state, &cookie).await.contests.is_empty());
    let (status, body) = cast(&f.state, &cookie, v, "tokyo", Choice::Candidate(1)).await;
    assert_eq!((status.as_u16(), code(&body).as_str()), (403, "CERT_REVOKED"));
    let audit = f.state.db.with(|c| verifier::store::audit::entries(c)).unwrap();
    assert!(audit.iter().any(|e| e.action == "crl_refreshed"), "the refresh is in the audit log");
}

#[tokio::test]
async fn a_crl_that_does_not_verify_raises_the_alarm_and_the_list_in_force_stays() {
    let f = fixture(1);
    let v = &f.voters[0];
    let trust = f.state.trust.clone().unwrap();
    let poll = std::time::Duration::from_millis(200);
    verifier::certs::watch::spawn(trust, f.dir.path().join("ca"), f.state.db.clone(), f.state.clock, poll);
    std::fs::write(f.dir.path().join("ca/auth.crl.pem"), "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
        .unwrap();
    let mut alarmed = false;
    for _ in 0..100 {
        let audit = f.state.db.with(|c| verifier::store::audit::entries(c)).unwrap();
        if audit.iter().any(|e| e.action == "crl_refresh_failed") {
            alarmed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(alarmed, "no crl_refresh_failed row within 5 s");
    // The list in force stays: the voter still logs in.
    login(&f.state, v).await;
}

#[tokio::test]
async fn a_network_over_its_rate_is_told_to_wait_and_a_voter_elsewhere_is_not() {
    let f = fixture(1);
    let r = routes(f.state.clone(), None);
    // One address is limited at its own share (a quarter of its network's rate) ...
    let attacker = verifier::voting::listener::Peer("203.0.113.9:40000".parse().unwrap());
    let mut one_address = 0;
    while warp::test::request()
        .method("POST")
        .path("/api/v1/session/challenge")
        .extension(attacker)
        .reply(&r)
        .await
        .status()
        == 201
    {
        one_address += 1;
        assert!(one_address < 1_000, "one address was never limited");
    }
    assert!(one_address <= 15, "one address's burst is a quarter of its network's: limited after {one_address}");
    // ... and a subnet of a botnet, each host below its own share, at its network's rate.
    let mut limited = None;
    for i in 0..1_000u32 {
        let attacker = verifier::voting::listener::Peer(format!("203.0.113.{}:40000", 10 + i % 200).parse().unwrap());
        let resp =
            warp::test::request().method("POST").path("/api/v1/session/challenge").extension(attacker).reply(&r).await;
        if resp.status() == 429 {
            limited = Some((i, resp));
            break;
        }
    }
    let (after, resp) = limited.expect("the flood was never limited");
    assert!(after + one_address <= 60, "the network's burst is a tenth of 600 a minute: limited after {after}");
    assert_eq!(code(resp.body()), "RATE_LIMITED");
    let wait: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    // The same flood from the attacker's neighbour in its /24 is limited too; a voter on another network is not.
    let neighbour = verifier::voting::listener::Peer("203.0.113.200:40000".parse().unwrap());
    let resp =
        warp::test::request().method("POST").path("/api/v1/session/challenge").extension(neighbour).reply(&r).await;
    assert_eq!(resp.status(), 429);
    let voter = verifier::voting::listener::Peer("198.51.100.20:50000".parse().unwrap());
    let resp = warp::test::request().method("POST").path("/api/v1/session/challenge").extension(voter).reply(&r).await;
    assert_eq!(resp.status(), 201);
}
