//! The registration subsystem within one election: an application signed through the card from an applicant
//! session, its receipt date, the card's arrival, acceptance with eligibility checks and the e-mail notice queued
//! with it, rejection with a reason, a renewed card of the same person (no second vote), roll changes, document
//! switches, the cross-channel check, the emergency paper vote, the cut-off, tenant isolation and roles.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::Utc;
use shared::api::{ApiError, ApplicationStatus};
use shared::crypto::application_digest;
use support::registration::*;
use support::*;
use verifier::operators::Role;
use verifier::registration::{self as reg};
use verifier::voting::filters::routes;
use warp::http::StatusCode;

#[tokio::test]
async fn apply_establish_accept_vote_and_a_renewed_card_gives_no_second_vote() {
    let f = fixture(0);
    let clerk = op(Role::Clerk, Some("13101"), "clerk A");
    let approver = op(Role::Approver, Some("13101"), "approver A");
    reg::apply_roll_changes(&f.state.db, &clerk, &[roll("E-1", 1, "registered")], Utc::now()).unwrap();

    // A card that is not registered may log in to apply, but not to vote.
    let v = test_voter(&f.ca, 1);
    let cookie = applicant_login(&f.state, &v).await;
    let (s, body) = apply(&f.state, &cookie, &v, &input(1, Some("E-1"), "apply")).await;
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&body));
    let status: ApplicationStatus = serde_json::from_slice(&body).unwrap();
    assert_eq!(status.status, "awaiting_card");
    assert_eq!(status.receipt_date, shared::calendar::receipt_date(Utc::now()));

    // Not established until the card arrives; then accepted, with the notice queued in the same transaction.
    let e = reg::accept(&f.state.db, &approver, &status.receipt_no, Utc::now()).unwrap_err();
    assert_eq!(e.code, "NOT_ESTABLISHED");
    reg::card_arrived(&f.state.db, &clerk, &status.receipt_no, Utc::now()).unwrap();
    let app = reg::accept(&f.state.db, &approver, &status.receipt_no, Utc::now()).unwrap();
    assert_eq!(app.status, "accepted");
    assert_eq!(app.person_id.as_deref(), Some("13101:E-1"));
    let pending = verifier::registration::notify::pending(&f.state.db).unwrap();
    assert!(pending.iter().any(|(_, to, _, _)| to == "voter1@example.org"));

    // Now the card logs in to vote and votes.
    let r = warp::test::request()
        .path("/api/v1/applications")
        .header("cookie", &cookie)
        .reply(&routes(f.state.clone(), None))
        .await;
    let own: Vec<ApplicationStatus> = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(own[0].status, "accepted");
    let events: Vec<&str> = own[0].history.iter().map(|(_, e)| e.as_str()).collect();
    assert_eq!(events, ["application_received", "card_arrived", "accepted"]);
    let voter = TestVoter { person_id: "13101:E-1".into(), ..v };
    let (s, _) = cast_as(&f.state, &voter, "tokyo").await;
    assert_eq!(s, 201);

    // A renewed card of the same person is accepted for the same roll entry: same person, no second vote.
    let renewed = TestVoter { person_id: "13101:E-1".into(), ..test_voter(&f.ca, 1) };
    let cookie = applicant_login(&f.state, &renewed).await;
    let (s, body) = apply(&f.state, &cookie, &renewed, &input(1, Some("E-1"), "apply")).await;
    assert_eq!(s, 201);
    let status: ApplicationStatus = serde_json::from_slice(&body).unwrap();
    reg::card_arrived(&f.state.db, &clerk, &status.receipt_no, Utc::now()).unwrap();
    reg::accept(&f.state.db, &approver, &status.receipt_no, Utc::now()).unwrap();
    let (s, body) = cast_as(&f.state, &renewed, "tokyo").await;
    assert_eq!(
        (s, serde_json::from_slice::<ApiError>(&body).unwrap().code.as_str()),
        (StatusCode::CONFLICT, "ALREADY_VOTED")
    );

    // The history follows the person across both applications.
    let h = reg::person_history(&f.state.db, &clerk, "13101:E-1").unwrap();
    let events: Vec<&str> = h.iter().map(|e| e.event.as_str()).collect();
    assert!(
        events.contains(&"application_received") && events.contains(&"card_arrived") && events.contains(&"accepted"),
        "{events:?}"
    );
}

#[tokio::test]
async fn refusals_rejection_roles_and_tenant_isolation() {
    let f = fixture(0);
    let clerk = op(Role::Clerk, Some("13101"), "clerk A");
    let approver = op(Role::Approver, Some("13101"), "approver A");
    let other_clerk = op(Role::Clerk, Some("27100"), "clerk B");
    let other_approver = op(Role::Approver, Some("27100"), "approver B");
    reg::apply_roll_changes(&f.state.db, &clerk, &[roll("E-2", 2, "registered")], Utc::now()).unwrap();
    let v = test_voter(&f.ca, 2);
    let cookie = applicant_login(&f.state, &v).await;

    // A voting session keeps no authentication certificate, so it cannot file an application (R-REG-2 binds
    // the application to the certificate of an applicant login).
    let voter = test_voter(&f.ca, 7);
    register(&f.state.db, &voter, &["tokyo"]);
    let voting = voting_login(&f.state, &voter).await;
    let (s, body) = apply(&f.state, &voting, &voter, &input(7, Some("E-7"), "apply")).await;
    assert_eq!(s, 401, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("NO_SESSION"));

    // Someone else's name in the application: refused.
    let mut wrong = input(2, Some("E-2"), "apply");
    wrong.name = "別人 花子".into();
    let (s, body) = apply(&f.state, &cookie, &v, &wrong).await;
    assert_eq!(
        (s, serde_json::from_slice::<ApiError>(&body).unwrap().code.as_str()),
        (StatusCode::FORBIDDEN, "APPLICANT_MISMATCH")
    );
    // A signature over other bytes: refused.
    let json = serde_json::to_string(&input(2, Some("E-2"), "apply")).unwrap();
    let body = serde_json::json!({
        "application": json,
        "signature": B64.encode(v.sign_ballot(&application_digest(b"something else", &v.card.auth_cert_der))),
        "certificate": B64.encode(&v.card.sign_cert_der),
    });
    let r = warp::test::request()
        .method("POST")
        .path("/api/v1/applications")
        .header("cookie", &cookie)
        .json(&body)
        .reply(&routes(f.state.clone(), None))
        .await;
    assert_eq!(r.status(), 400);

    let (s, body) = apply(&f.state, &cookie, &v, &input(2, Some("E-2"), "apply")).await;
    assert_eq!(s, 201);
    let receipt = serde_json::from_slice::<ApplicationStatus>(&body).unwrap().receipt_no;

    // Another municipality's clerk sees nothing and can do nothing; a clerk cannot accept.
    assert_eq!(reg::list(&f.state.db, &other_clerk, "13101", None).unwrap_err().code, "OTHER_MUNICIPALITY");
    assert!(reg::list(&f.state.db, &other_clerk, "27100", None).unwrap().is_empty());
    assert_eq!(
        reg::card_arrived(&f.state.db, &other_clerk, &receipt, Utc::now()).unwrap_err().code,
        "OTHER_MUNICIPALITY"
    );
    reg::card_arrived(&f.state.db, &clerk, &receipt, Utc::now()).unwrap();
    assert_eq!(reg::accept(&f.state.db, &clerk, &receipt, Utc::now()).unwrap_err().code, "FORBIDDEN_ROLE");
    assert_eq!(reg::accept(&f.state.db, &other_approver, &receipt, Utc::now()).unwrap_err().code, "OTHER_MUNICIPALITY");
    assert_eq!(reg::list(&f.state.db, &clerk, "13101", Some("established")).unwrap().len(), 1);

    // Rejection needs a reason, which goes into the notice.
    assert_eq!(reg::reject(&f.state.db, &approver, &receipt, " ", Utc::now()).unwrap_err().code, "REASON_REQUIRED");
    let app =
        reg::reject(&f.state.db, &approver, &receipt, "在外選挙人名簿に登録がありません / not on the roll", Utc::now())
            .unwrap();
    assert_eq!(app.status, "rejected");
    assert!(
        verifier::registration::notify::pending(&f.state.db)
            .unwrap()
            .iter()
            .any(|(_, to, _, _)| to == "voter2@example.org")
    );
    assert_eq!(reg::accept(&f.state.db, &approver, &receipt, Utc::now()).unwrap_err().code, "NOT_ESTABLISHED");
}

#[tokio::test]
async fn postal_papers_roll_changes_switches_emergency_and_cross_channel() {
    let f = fixture(0);
    let clerk = op(Role::Clerk, Some("13101"), "clerk A");
    let approver = op(Role::Approver, Some("13101"), "approver A");
    reg::apply_roll_changes(
        &f.state.db,
        &clerk,
        &[roll("E-3", 3, "registered"), roll("E-4", 4, "registered")],
        Utc::now(),
    )
    .unwrap();
    let mut accepted = Vec::new();
    for (i, entry) in [(3, "E-3"), (4, "E-4")] {
        let v = test_voter(&f.ca, i);
        let cookie = applicant_login(&f.state, &v).await;
        let (_, body) = apply(&f.state, &cookie, &v, &input(i, Some(entry), "apply")).await;
        let receipt = serde_json::from_slice::<ApplicationStatus>(&body).unwrap().receipt_no;
        reg::card_arrived(&f.state.db, &clerk, &receipt, Utc::now()).unwrap();
        if i == 3 {
            // Postal papers issued and not returned: acceptance waits (R-REG-8).
            reg::postal_papers(&f.state.db, &clerk, "13101:E-3", true, false, Utc::now()).unwrap();
            assert_eq!(
                reg::accept(&f.state.db, &approver, &receipt, Utc::now()).unwrap_err().code,
                "POSTAL_PAPERS_OUTSTANDING"
            );
            reg::postal_papers(&f.state.db, &clerk, "13101:E-3", true, true, Utc::now()).unwrap();
        }
        reg::accept(&f.state.db, &approver, &receipt, Utc::now()).unwrap();
        accepted.push(TestVoter { person_id: format!("13101:{entry}"), ..v });
    }
    let eid = f.state.election.get().id.to_string();

    // Cross-channel: E-3 votes online; the committee sees it.
    assert_eq!(cast_as(&f.state, &accepted[0], "tokyo").await.0, 201);
    let cc = reg::cross_channel(&f.state.db, &clerk, "13101:E-3", &eid, Utc::now()).unwrap();
    assert!(cc.internet_voter && cc.voted_online == ["tokyo"] && !cc.emergency_declared);
    assert_eq!(
        reg::declare_emergency(&f.state.db, &clerk, "13101:E-3", &eid, "reader broken", Utc::now()).unwrap_err().code,
        "ALREADY_VOTED_ONLINE"
    );

    // Emergency paper vote for E-4: its online ballot is then refused with a clear code.
    reg::declare_emergency(&f.state.db, &clerk, "13101:E-4", &eid, "カードリーダーの故障 / reader broken", Utc::now())
        .unwrap();
    let (s, body) = cast_as(&f.state, &accepted[1], "tokyo").await;
    assert_eq!(
        (s, serde_json::from_slice::<ApiError>(&body).unwrap().code.as_str()),
        (StatusCode::FORBIDDEN, "EMERGENCY_PAPER_VOTE")
    );

    // A roll change (death) removes E-4 from the internet voters; a document switch removes E-3.
    reg::apply_roll_changes(
        &f.state.db,
        &clerk,
        &reg::parse_roll_csv(
            "municipality,roll_entry,name,birth_date,districts,change\n13101,E-4,x,1980-01-01,tokyo,deceased\n",
        )
        .unwrap(),
        Utc::now(),
    )
    .unwrap();
    assert!(!reg::cross_channel(&f.state.db, &clerk, "13101:E-4", &eid, Utc::now()).unwrap().internet_voter);
    // A roll change that keeps E-3 registered (a new district) is part of E-3's history too.
    let mut moved = roll("E-3", 3, "registered");
    moved.districts = vec!["tokyo".into(), "national".into(), "extra".into()];
    reg::apply_roll_changes(&f.state.db, &clerk, &[moved], Utc::now()).unwrap();
    let letter = reg::document_switch(&f.state.db, &clerk, "13101:E-3", "在外 太郎3", Utc::now()).unwrap();
    assert!(letter.contains("在外 太郎3 様") && letter.contains("裏書きは消除"));
    assert!(!reg::cross_channel(&f.state.db, &clerk, "13101:E-3", &eid, Utc::now()).unwrap().internet_voter);
    let events: Vec<String> =
        reg::person_history(&f.state.db, &clerk, "13101:E-3").unwrap().into_iter().map(|e| e.event).collect();
    for e in ["application_received", "accepted", "became_internet_voter", "roll_change", "became_paper_voter"] {
        assert!(events.contains(&e.to_string()), "{e} missing from {events:?}");
    }
    assert!(reg::parse_roll_csv("13101,E-9,x,1980-13-01,tokyo,registered").is_err());
}

#[tokio::test]
async fn cut_off_keeps_late_applications_for_the_next_election() {
    let f = fixture(0);
    let admin = op(Role::Admin, None, "admin");
    let eid = f.state.election.get().id.to_string();
    let clerk = op(Role::Clerk, Some("13101"), "c");
    assert_eq!(reg::set_cutoff(&f.state.db, &clerk, &eid, Utc::now(), Utc::now()).unwrap_err().code, "FORBIDDEN_ROLE");
    reg::set_cutoff(&f.state.db, &admin, &eid, Utc::now() - chrono::Duration::hours(1), Utc::now()).unwrap();
    let v = test_voter(&f.ca, 5);
    let cookie = applicant_login(&f.state, &v).await;
    let (s, body) = apply(&f.state, &cookie, &v, &input(5, None, "apply")).await;
    assert_eq!(s, 201);
    assert_eq!(serde_json::from_slice::<ApplicationStatus>(&body).unwrap().status, "kept_for_next_election");
    assert!(
        verifier::registration::notify::pending(&f.state.db)
            .unwrap()
            .iter()
            .any(|(_, to, _, _)| to == "voter5@example.org")
    );
}
