//! What the registration tests share: operators, an applicant's login and application through the card, roll
//! changes, and a voter's login and cast.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use super::committee::Committee;
use super::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use shared::api::{ApplicationInput, ApplicationStatus, Challenge};
use shared::crypto::application_digest;
use shared::election::Choice;
use verifier::AppState;
use verifier::operators::{Operator, Role};
use verifier::registration::RollChange;
use verifier::voting::filters::routes;
use warp::http::StatusCode;

pub fn op(role: Role, municipality: Option<&str>, name: &str) -> Operator {
    Operator {
        fingerprint: format!("{name:0>64}"),
        name: name.into(),
        role,
        municipality: municipality.map(String::from),
    }
}

/// Logs an applicant in with their card (`purpose: apply`), returning the session cookie.
pub async fn applicant_login(state: &AppState, v: &TestVoter) -> String {
    login(state, v, Some("apply")).await
}

/// Logs in with the card for `purpose` (none: to vote), returning the session cookie.
async fn login(state: &AppState, v: &TestVoter, purpose: Option<&str>) -> String {
    let r = warp::test::request()
        .method("POST")
        .path("/api/v1/session/challenge")
        .reply(&routes(state.clone(), None))
        .await;
    let c: Challenge = serde_json::from_slice(r.body()).unwrap();
    let mut body = login_body(v, &c.nonce.0, ORIGIN);
    if let Some(purpose) = purpose {
        body["purpose"] = purpose.into();
    }
    let r = warp::test::request()
        .method("POST")
        .path("/api/v1/session")
        .json(&body)
        .reply(&routes(state.clone(), None))
        .await;
    assert_eq!(r.status(), 201, "{}", String::from_utf8_lossy(r.body()));
    r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string()
}

pub fn input(i: usize, roll_entry: Option<&str>, kind: &str) -> ApplicationInput {
    let p = person(i);
    ApplicationInput {
        kind: kind.into(),
        municipality: "13101".into(),
        roll_entry: roll_entry.map(String::from),
        registration_pending: roll_entry.is_none(),
        name: p.name,
        birth_date: p.birth_date,
        address_abroad: "10 Downing Street, London".into(),
        email: format!("voter{i}@example.org"),
    }
}

pub async fn apply(state: &AppState, cookie: &str, v: &TestVoter, input: &ApplicationInput) -> (StatusCode, Vec<u8>) {
    apply_bound(state, cookie, v, &v.card.auth_cert_der, input).await
}

/// An application signed by `v`'s card over a digest bound to `auth_certificate` (the card helper binds its own
/// card's; a crafted request may bind any).
pub async fn apply_bound(
    state: &AppState,
    cookie: &str,
    v: &TestVoter,
    auth_certificate: &[u8],
    input: &ApplicationInput,
) -> (StatusCode, Vec<u8>) {
    let json = serde_json::to_string(input).unwrap();
    let body = serde_json::json!({
        "application": json,
        "signature": B64.encode(v.sign_ballot(&application_digest(json.as_bytes(), auth_certificate))),
        "certificate": B64.encode(&v.card.sign_cert_der),
    });
    let r = warp::test::request()
        .method("POST")
        .path("/api/v1/applications")
        .header("cookie", cookie)
        .json(&body)
        .reply(&routes(state.clone(), None))
        .await;
    (r.status(), r.body().to_vec())
}

pub fn roll(entry: &str, i: usize, change: &str) -> RollChange {
    let p = person(i);
    RollChange {
        municipality: "13101".into(),
        roll_entry: entry.into(),
        name: p.name,
        birth_date: p.birth_date,
        districts: vec!["tokyo".into(), "national".into()],
        change: change.into(),
    }
}

pub async fn cast_as(state: &AppState, v: &TestVoter, contest: &str) -> (StatusCode, Vec<u8>) {
    let cookie = voting_login(state, v).await;
    let ct = encrypt(state, contest, Choice::Blank);
    let r = warp::test::request()
        .method("POST")
        .path("/api/v1/ballots")
        .header("cookie", cookie)
        .json(&cast_body(v, state.election.get().id.as_str(), contest, &ct))
        .reply(&routes(state.clone(), None))
        .await;
    (r.status(), r.body().to_vec())
}

/// Logs a registered voter in to vote (no `purpose`), returning the session cookie.
pub async fn voting_login(state: &AppState, v: &TestVoter) -> String {
    login(state, v, None).await
}

/// Applies through the voter API; the committee has the card arrive and accepts through the operator API; returns
/// the accepted application.
pub async fn apply_and_accept(f: &Fixture, committee: &Committee, v: &TestVoter, input: &ApplicationInput) -> Value {
    let cookie = applicant_login(&f.state, v).await;
    let (s, body) = apply(&f.state, &cookie, v, input).await;
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&body));
    let receipt = serde_json::from_slice::<ApplicationStatus>(&body).unwrap().receipt_no;
    committee.arrive_and_accept(&receipt).await
}

/// The status of a voting login and a cast in tokyo, whichever refuses first.
pub async fn cast_as_status(state: &AppState, v: &TestVoter) -> u16 {
    let n = nonce(state).await;
    let (status, _, cookie) = post(state, "/api/v1/session", None, &login_body(v, &n, ORIGIN)).await;
    let Some(cookie) = cookie.filter(|_| status == StatusCode::CREATED) else { return status.as_u16() };
    let cookie = cookie.split(';').next().unwrap().to_string();
    cast(state, &cookie, v, "tokyo", Choice::Blank).await.0.as_u16()
}
