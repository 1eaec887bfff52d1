//! The fuzz targets' fixtures and seed corpora: `committed_seeds_are_real` checks that the committed valid seeds
//! still pass the project's checks (so the fuzzers start from inputs that reach deep), and the ignored
//! `write_fixtures_and_seeds` makes them anew (`cargo test --manifest-path fuzz/Cargo.toml -- --ignored`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use jp_ivote_fuzz::{ORIGIN, demo_election, election_key, fuzz_dir, now, trust_store};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::{Pkcs1v15Sign, PrivateKey};
use sha2::Sha256;
use shared::api::CastRequest;
use shared::ballot;
use shared::crypto::{CardPublicKey, application_digest, auth_digest, encrypt_ballot, envelope_digest};
use shared::election::Choice;
use test_pki::{IssuedCard, Person, Sex, TestAuthority};
use verifier::certs::CertKind;

fn person() -> Person {
    Person {
        name: "在外 花子".into(),
        address: "東京都千代田区霞が関2-1-2".into(),
        birth_date: "1985-04-01".parse().unwrap(),
        sex: Sex::Female,
    }
}

fn sign(pkcs8: &[u8], digest: &[u8; 32]) -> Vec<u8> {
    PrivateKey::from_pkcs8_der(pkcs8).unwrap().sign(Pkcs1v15Sign::new::<Sha256>(), digest).unwrap()
}

fn write(target: &str, name: &str, bytes: impl AsRef<[u8]>) {
    let dir = fuzz_dir().join("corpus").join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), bytes).unwrap();
}

fn copy(from: &Path, to: &Path) {
    fs::copy(from, to).unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
}

/// Every allowed kind of choice for each contest of the demo election, encoded (the first of each kind).
fn ballots() -> Vec<(String, [u8; ballot::BALLOT_LEN])> {
    let election = demo_election();
    let mut out = Vec::new();
    for contest in &election.contests {
        let mut choices = vec![("blank".to_string(), Choice::Blank)];
        if let Some(c) = contest.selectable_candidates().first() {
            choices.push((format!("candidate-{}", c.number), Choice::Candidate(c.number)));
        }
        if let Some(p) = contest.parties().first() {
            choices.push((format!("party-{}", p.number), Choice::Party(p.number)));
        }
        if !contest.judges().is_empty() {
            let all = (1u32 << contest.judges().len()) - 1;
            choices.push(("review-none".into(), Choice::Review(0)));
            choices.push(("review-all".into(), Choice::Review(all)));
        }
        for (name, choice) in choices {
            if let Ok(bytes) = ballot::encode(election, contest, &choice) {
                out.push((format!("valid-{}-{name}", contest.id), bytes));
            }
        }
    }
    out
}

fn cast_request(card: &IssuedCard, contest: &str, bytes: &[u8; ballot::BALLOT_LEN]) -> CastRequest {
    let election = demo_election();
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let ciphertext = encrypt_ballot(&mut rng, election_key(), election.id.as_str(), contest, bytes).unwrap();
    let signature = sign(&card.sign_key_pkcs8_der, &envelope_digest(election.id.as_str(), contest, &ciphertext));
    CastRequest {
        contest: shared::election::Id::new(contest).unwrap(),
        ciphertext: ciphertext.into(),
        signature: signature.into(),
        certificate: card.sign_cert_der.clone().into(),
    }
}

#[test]
#[ignore = "writes fixtures/ and corpus/ anew: run by hand, then commit the files"]
fn write_fixtures_and_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = TestAuthority::init(&tmp.path().join("ca")).unwrap();
    let card = ca.issue(&person(), 3650).unwrap();
    let revoked = ca.issue(&person(), 3650).unwrap();
    ca.revoke(&revoked.sign_serial).unwrap();
    ca.revoke(&revoked.auth_serial).unwrap();
    let stranger = TestAuthority::init(&tmp.path().join("other-ca")).unwrap().issue(&person(), 3650).unwrap();

    write_trust_store(&ca);
    let ballots = ballots();
    write_ballot_decode(&ballots);
    let cast = write_signed_envelope(&card, &stranger, &ballots);
    write_certificate(&ca, &card, &revoked, &stranger);
    write_json_bodies(&card, &cast);
}

/// The trust store: the CA certificates and CRLs only, never the authority's keys or state; and the time the
/// targets check at, an hour from now.
fn write_trust_store(ca: &TestAuthority) {
    let fixtures = fuzz_dir().join("fixtures");
    fs::create_dir_all(fixtures.join("ca")).unwrap();
    for name in ["auth-ca.pem", "sign-ca.pem", "auth.crl.pem", "sign.crl.pem"] {
        copy(&ca.dir().join(name), &fixtures.join("ca").join(name));
    }
    let at = chrono::Utc::now() + chrono::Duration::hours(1);
    fs::write(fixtures.join("now.txt"), format!("{}\n", at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        .unwrap();
}

/// ballot_decode: one real ballot per contest and kind of choice, and a few broken ones.
fn write_ballot_decode(ballots: &[(String, [u8; ballot::BALLOT_LEN])]) {
    for (name, bytes) in ballots {
        write("ballot_decode", name, bytes);
    }
    let good = ballots[0].1;
    write("ballot_decode", "bad-short", &good[..63]);
    write("ballot_decode", "bad-empty", b"");
    let mut b = good;
    b[4] = 2;
    write("ballot_decode", "bad-version", b);
    let mut b = good;
    b[63] = 1;
    write("ballot_decode", "bad-padding", b);
    let mut b = good;
    b[6] = 3;
    b[26] = 40;
    write("ballot_decode", "bad-review-judges", b);
}

/// signed_envelope: a real cast of every contest, the card's and the election's keys, and broken casts. Returns
/// the first contest's cast, which json_bodies sends too.
fn write_signed_envelope(
    card: &IssuedCard,
    stranger: &IssuedCard,
    ballots: &[(String, [u8; ballot::BALLOT_LEN])],
) -> CastRequest {
    let election = demo_election();
    for (name, bytes) in ballots.iter().filter(|(n, _)| n.ends_with("-blank")) {
        let contest = name.trim_start_matches("valid-").trim_end_matches("-blank");
        let json = serde_json::to_vec(&cast_request(card, contest, bytes)).unwrap();
        write("signed_envelope", &format!("valid-cast-{contest}"), json);
    }
    let cast = cast_request(card, election.contests[0].id.as_str(), &ballots[0].1);
    write("signed_envelope", "valid-spki-card-sign", jpki::spki_der(&card.sign_cert_der).unwrap());
    write("signed_envelope", "valid-spki-election", election_key().spki_der());
    let small = PrivateKey::from_pkcs8_der(&card.auth_key_pkcs8_der).unwrap().to_public_key();
    write("signed_envelope", "valid-spki-card-auth", small.to_public_key_der().unwrap().as_bytes());
    let mut bad = serde_json::to_value(&cast).unwrap();
    bad["ciphertext"] = "not base64!".into();
    write("signed_envelope", "bad-base64", serde_json::to_vec(&bad).unwrap());
    bad["extra"] = 1.into();
    write("signed_envelope", "bad-unknown-field", serde_json::to_vec(&bad).unwrap());
    let mut bad = serde_json::to_value(&cast).unwrap();
    bad["certificate"] = B64.encode(&stranger.sign_cert_der).into();
    write("signed_envelope", "bad-unknown-ca", serde_json::to_vec(&bad).unwrap());
    cast
}

/// certificate: both certificates of a card, a revoked card, another authority's card, the CRLs, broken DER.
fn write_certificate(ca: &TestAuthority, card: &IssuedCard, revoked: &IssuedCard, stranger: &IssuedCard) {
    write("certificate", "valid-auth", &card.auth_cert_der);
    write("certificate", "valid-sign", &card.sign_cert_der);
    write("certificate", "revoked-auth", &revoked.auth_cert_der);
    write("certificate", "revoked-sign", &revoked.sign_cert_der);
    write("certificate", "unknown-ca-sign", &stranger.sign_cert_der);
    write("certificate", "crl-auth", ca.auth_crl_der().unwrap());
    write("certificate", "crl-sign", ca.sign_crl_der().unwrap());
    write("certificate", "bad-truncated", &card.sign_cert_der[..card.sign_cert_der.len() / 2]);
    let mut trailing = card.sign_cert_der.clone();
    trailing.push(0);
    write("certificate", "bad-trailing-byte", trailing);
}

/// json_bodies: every request body of the voter API and the operator API, valid, and a few broken ones.
fn write_json_bodies(card: &IssuedCard, cast: &CastRequest) {
    let nonce = [7u8; 32];
    let login = serde_json::json!({
        "purpose": "vote",
        "nonce": B64.encode(nonce),
        "certificate": B64.encode(&card.auth_cert_der),
        "signature": B64.encode(sign(&card.auth_key_pkcs8_der, &auth_digest(ORIGIN, &nonce))),
    });
    write("json_bodies", "valid-login", serde_json::to_vec(&login).unwrap());
    write("json_bodies", "valid-cast", serde_json::to_vec(cast).unwrap());
    write_application(card);
    let metrics = research_metrics();
    write("json_bodies", "valid-metrics", metrics.to_string());
    write("json_bodies", "valid-op-session", r#"{"totp":"123456"}"#);
    write("json_bodies", "valid-op-reason", r#"{"reason":"記載事項の不備"}"#);
    write("json_bodies", "valid-op-document-switch", r#"{"person_id":"person-1","name":"在外 花子"}"#);
    write("json_bodies", "valid-op-postal-papers", r#"{"person_id":"person-1","issued":true,"returned":false}"#);
    write("json_bodies", "valid-op-cutoff", r#"{"at":"2026-07-01T15:00:00Z"}"#);
    let csv = "municipality,roll_entry,name,birth_date,districts,change\n13101,1-23,在外 花子,1985-04-01,tokyo|national,registered\n";
    write("json_bodies", "valid-op-roll-csv", csv);
    write("json_bodies", "valid-op-roll-json", serde_json::to_vec(csv).unwrap());
    let mut bad = metrics.clone();
    bad["participant"] = "NOT-HEX".into();
    write("json_bodies", "bad-metrics-participant", bad.to_string());
    write("json_bodies", "bad-login-unknown-field", r#"{"nonce":"","certificate":"","signature":"","x":1}"#);
    write("json_bodies", "bad-truncated", &serde_json::to_vec(&login).unwrap()[..40]);
}

/// An application for the internet voters' list: the form's text as typed, and the request with the card's
/// signature over it.
fn write_application(card: &IssuedCard) {
    let application = serde_json::json!({
        "kind": "apply",
        "municipality": "13101",
        "roll_entry": "1-23",
        "registration_pending": false,
        "name": "在外 花子",
        "birth_date": "1985-04-01",
        "address_abroad": "1 Rue de Rivoli, Paris",
        "email": "hanako@example.org",
    });
    let application_text = application.to_string();
    write("json_bodies", "valid-application-input", &application_text);
    let request = serde_json::json!({
        "application": application_text,
        "signature": B64.encode(sign(&card.sign_key_pkcs8_der, &application_digest(application_text.as_bytes(), &card.auth_cert_der))),
        "certificate": B64.encode(&card.sign_cert_der),
    });
    write("json_bodies", "valid-application", serde_json::to_vec(&request).unwrap());
}

/// A usability study's metrics for one task, as the voter app sends them.
fn research_metrics() -> serde_json::Value {
    serde_json::json!({
        "participant": "0123456789abcdef0123456789abcdef",
        "contest_kind": "hoc_district",
        "assigned": true,
        "selection": "free_word_search",
        "display": "drum_roll",
        "drum_start": "rotated",
        "candidates": 120,
        "time_to_first_selection_ms": 4000,
        "time_to_confirm_ms": 9000,
        "changes_of_mind": 1,
        "steps": 3,
        "search_keystrokes": 5,
        "errors": 0,
        "chosen_position": 77,
        "off_first_screen": true,
    })
}

#[test]
fn committed_seeds_are_real() {
    let election = demo_election();
    let corpus = fuzz_dir().join("corpus");
    let valid = |target: &str| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(corpus.join(target))
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), fs::read(e.path()).unwrap()))
            .filter(|(name, _)| name.starts_with("valid-"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no valid seeds for {target}");
        files
    };
    for (name, bytes) in valid("ballot_decode") {
        let plain = ballot::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(election.contests.iter().filter(|c| plain.check_for(election, c).is_ok()).count(), 1, "{name}");
    }
    let store = trust_store();
    for (name, bytes) in valid("signed_envelope").into_iter().filter(|(n, _)| n.starts_with("valid-cast-")) {
        let cast: CastRequest = serde_json::from_slice(&bytes).unwrap();
        let ciphertext = cast.ciphertext.0.clone();
        assert_eq!(ciphertext.len(), election_key().ciphertext_len(), "{name}");
        let cert = cast.certificate.0.clone();
        store.check(CertKind::Sign, &cert, now()).unwrap();
        let digest = envelope_digest(election.id.as_str(), cast.contest.as_str(), &ciphertext);
        let key = CardPublicKey::from_spki_der(&jpki::spki_der(&cert).unwrap()).unwrap();
        key.verify_digest(&digest, &cast.signature.0).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for (name, bytes) in valid("certificate") {
        let kind = if name.ends_with("-auth") { CertKind::Auth } else { CertKind::Sign };
        store.check(kind, &bytes, now()).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for name in ["revoked-auth", "revoked-sign", "unknown-ca-sign"] {
        let bytes = fs::read(corpus.join("certificate").join(name)).unwrap();
        let kind = if name.ends_with("-auth") { CertKind::Auth } else { CertKind::Sign };
        assert!(store.check(kind, &bytes, now()).is_err(), "{name} must be refused");
    }
    assert!(valid("json_bodies").len() >= 10);
}
