//! Shared test fixtures: a JPKI-like test authority, registered voters with their keys, and a verifier state
//! with the demo election (re-dated to be open) under the committed test election key.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::Utc;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, PrivateKey};
use sha2::{Digest, Sha256};
use shared::api::{ApiError, BallotView, Challenge};
use shared::ballot;
use shared::crypto::{ElectionPublicKey, auth_digest, encrypt_ballot, envelope_digest};
use shared::election::{Choice, Election};
use test_pki::{IssuedCard, Person, Sex, TestAuthority};
use verifier::certs::TrustStore;
use verifier::store::{Db, Voter};
use verifier::voting::filters::routes;
use verifier::{AppState, Config, clock::Clock};
use warp::http::StatusCode;

pub mod casting;
pub mod committee;
pub mod host;
pub mod operator_client;
pub mod registration;
pub mod serving;

pub const ORIGIN: &str = "http://127.0.0.1:8080";
pub const ELECTION_PUB: &str = include_str!("../../../shared/tests/data/test-election-key.pub.pem");
/// The private half of the committed test election key: tests open unopened batches with it, as the counting
/// tool does in the HSM.
pub const INSECURE_ELECTION_PRIVATE: &str = include_str!("../../../shared/tests/data/INSECURE-test-election-key.pem");

/// Every ciphertext the ballot box holds for a contest: in the box, and in unopened batches, whose keys are
/// unwrapped with the test election key (as the counting tool does in the HSM).
pub fn every_ballot(db: &Db, election: &str, contest: &str) -> Vec<Vec<u8>> {
    let cts = db.ballot_box().ciphertexts(election, contest).unwrap();
    opened(election, contest, cts, db.ballot_box().unopened_batches(election, contest).unwrap())
}

/// Every ballot of a contest that the count gets from a reading of a box: its ciphertexts, and its unopened batches
/// opened with the committed INSECURE test election key, as the HSM would.
pub fn opened(
    election: &str,
    contest: &str,
    mut cts: Vec<Vec<u8>>,
    unopened: Vec<ballot_box::UnopenedBatch>,
) -> Vec<Vec<u8>> {
    let sk = PrivateKey::from_pkcs8_pem(INSECURE_ELECTION_PRIVATE).unwrap();
    for batch in unopened {
        let label = shared::crypto::batch_key_label(election, contest, &batch.id);
        let raw = sk.decrypt(rsa::Oaep::<Sha256>::new_with_label(label), &batch.wrapped_key).unwrap();
        let key = ballot_box::sealing::key_from_bytes(&raw).unwrap();
        cts.extend(batch.open(&key, election, contest).into_iter().map(Option::unwrap));
    }
    cts
}

pub struct TestVoter {
    pub person_id: String,
    pub card: IssuedCard,
    pub auth_key: PrivateKey,
    pub sign_key: PrivateKey,
}

impl TestVoter {
    pub fn sign_auth(&self, digest: &[u8; 32]) -> Vec<u8> {
        self.auth_key.sign(Pkcs1v15Sign::new::<Sha256>(), digest).unwrap()
    }
    pub fn sign_ballot(&self, digest: &[u8; 32]) -> Vec<u8> {
        self.sign_key.sign(Pkcs1v15Sign::new::<Sha256>(), digest).unwrap()
    }
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub ca: TestAuthority,
    pub state: AppState,
    pub voters: Vec<TestVoter>,
}

pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

pub fn person(i: usize) -> Person {
    Person {
        name: format!("在外 太郎{i}"),
        address: "東京都千代田区".into(),
        birth_date: "1980-01-01".parse().unwrap(),
        sex: Sex::Male,
    }
}

pub fn test_voter(ca: &TestAuthority, i: usize) -> TestVoter {
    let card = ca.issue(&person(i), 365).unwrap();
    TestVoter {
        person_id: format!("person-{i}"),
        auth_key: PrivateKey::from_pkcs8_der(&card.auth_key_pkcs8_der).unwrap(),
        sign_key: PrivateKey::from_pkcs8_der(&card.sign_key_pkcs8_der).unwrap(),
        card,
    }
}

/// Registers a voter directly (tests may register certificates the import would refuse, e.g. expired ones).
pub fn register(db: &Db, v: &TestVoter, districts: &[&str]) {
    let voter = Voter {
        person_id: v.person_id.clone(),
        municipality: "13101".into(),
        districts: districts.iter().map(|d| d.to_string()).collect(),
    };
    let certs = vec![
        (fingerprint(&v.card.auth_cert_der), verifier::certs::CertKind::Auth, v.card.auth_serial.clone()),
        (fingerprint(&v.card.sign_cert_der), verifier::certs::CertKind::Sign, v.card.sign_serial.clone()),
    ];
    db.add_voter(&voter, &certs, "test", Utc::now()).unwrap();
}

pub fn state_with(election: Election, db: Db, trust: TrustStore, lifetime: chrono::Duration) -> AppState {
    let key = ElectionPublicKey::from_pem(ELECTION_PUB).unwrap();
    db.create_election(&election, &key, "test", Utc::now()).unwrap();
    AppState {
        election: verifier::CurrentElection::new(election),
        key: Arc::new(key),
        db: Arc::new(db),
        trust: Some(Arc::new(trust)),
        sessions: Arc::default(),
        limits: Arc::default(),
        clock: Clock::SYSTEM,
        config: Arc::new(Config {
            public_origin: ORIGIN.into(),
            session_lifetime: lifetime,
            session_extensions: 2,
            secure_cookies: false,
            card_helper_origin: "http://127.0.0.1:24190".into(),
            research: None,
            study: None,
        }),
    }
}

/// A fixture with `n` voters registered for every district of the demo election.
pub fn fixture(n: usize) -> Fixture {
    fixture_with(n, verifier::demo::demo_election(Utc::now()).unwrap(), chrono::Duration::minutes(20))
}

pub fn fixture_with(n: usize, election: Election, lifetime: chrono::Duration) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestAuthority::init(&dir.path().join("ca")).unwrap();
    let voters: Vec<TestVoter> = (0..n).map(|i| test_voter(&ca, i)).collect();
    let db = Db::open(&dir.path().join("verifier.sqlite")).unwrap();
    for v in &voters {
        register(&db, v, &["tokyo", "national"]);
    }
    let trust = TrustStore::from_dir(&dir.path().join("ca")).unwrap();
    let state = state_with(election, db, trust, lifetime);
    Fixture { dir, ca, state, voters }
}

/// Encrypts a choice for a contest exactly as the browser does.
pub fn encrypt(state: &AppState, contest: &str, choice: Choice) -> Vec<u8> {
    let e = &state.election.get();
    let c = e.contest(contest).unwrap();
    let plain = ballot::encode(e, c, &choice).unwrap();
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    encrypt_ballot(&mut rng, &state.key, e.id.as_str(), contest, &plain).unwrap()
}

/// A login body for a voter signing the nonce for an origin.
pub fn login_body(v: &TestVoter, nonce: &[u8], origin: &str) -> serde_json::Value {
    serde_json::json!({
        "nonce": B64.encode(nonce),
        "certificate": B64.encode(&v.card.auth_cert_der),
        "signature": B64.encode(v.sign_auth(&auth_digest(origin, nonce))),
    })
}

/// A cast body: the ciphertext signed by the voter's signing key for (election, contest).
pub fn cast_body(v: &TestVoter, election_id: &str, contest: &str, ct: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "contest": contest,
        "ciphertext": B64.encode(ct),
        "signature": B64.encode(v.sign_ballot(&envelope_digest(election_id, contest, ct))),
        "certificate": B64.encode(&v.card.sign_cert_der),
    })
}

// ---- Requests through the voter API's warp filters ----

pub async fn nonce(state: &AppState) -> Vec<u8> {
    let r = warp::test::request()
        .method("POST")
        .path("/api/v1/session/challenge")
        .reply(&routes(state.clone(), None))
        .await;
    assert_eq!(r.status(), 201);
    let c: Challenge = serde_json::from_slice(r.body()).unwrap();
    c.nonce.0
}

pub async fn post(
    state: &AppState,
    path: &str,
    cookie: Option<&str>,
    body: &serde_json::Value,
) -> (StatusCode, Vec<u8>, Option<String>) {
    let mut req = warp::test::request().method("POST").path(path).json(body);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.reply(&routes(state.clone(), None)).await;
    let set_cookie = r.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_string());
    (r.status(), r.body().to_vec(), set_cookie)
}

pub fn code(body: &[u8]) -> String {
    serde_json::from_slice::<ApiError>(body).unwrap().code
}

/// Logs a voter in and returns the cookie header value.
pub async fn login(state: &AppState, v: &TestVoter) -> String {
    let n = nonce(state).await;
    let (status, body, cookie) = post(state, "/api/v1/session", None, &login_body(v, &n, ORIGIN)).await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let cookie = cookie.unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    cookie.split(';').next().unwrap().to_string()
}

pub async fn cast(
    state: &AppState,
    cookie: &str,
    v: &TestVoter,
    contest: &str,
    choice: Choice,
) -> (StatusCode, Vec<u8>) {
    let ct = encrypt(state, contest, choice);
    let (s, b, _) =
        post(state, "/api/v1/ballots", Some(cookie), &cast_body(v, state.election.get().id.as_str(), contest, &ct))
            .await;
    (s, b)
}

pub async fn ballot(state: &AppState, cookie: &str) -> BallotView {
    let r =
        warp::test::request().path("/api/v1/ballot").header("cookie", cookie).reply(&routes(state.clone(), None)).await;
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));
    serde_json::from_slice(r.body()).unwrap()
}
