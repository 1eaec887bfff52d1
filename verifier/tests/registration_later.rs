//! The registration subsystem across the close and into the next election: the record after the close, receipt
//! dates, voters who stay registered, applications kept past the cut-off, an emergency declaration racing a cast,
//! a certificate of another voter, and pending registrations completed by the roll or ended by a switch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use chrono::Utc;
use shared::api::{ApiError, ApplicationStatus};
use shared::election::Choice;
use support::committee::Committee;
use support::registration::*;
use support::*;
use verifier::AppState;
use verifier::operators::Role;
use verifier::registration::{self as reg};
use verifier::voting::filters::routes;
use warp::http::StatusCode;

#[test]
fn record_after_the_close_per_municipality() {
    let mut past = verifier::demo::demo_election(Utc::now()).unwrap();
    past.notice_date = "2025-07-02".parse().unwrap();
    past.election_day = "2025-07-19".parse().unwrap();
    let f = fixture_with(0, past.clone(), chrono::Duration::minutes(20));
    let clerk = op(Role::Clerk, Some("13101"), "clerk A");
    // A clerk's roll CSV can hold anything: a person id that is a script must reach the auditor's page as text.
    let planted = "13101:<script>alert(1)</script>";
    for (i, p) in ["13101:E-1", "13101:E-2", "27100:E-1", planted].iter().enumerate() {
        let v = test_voter(&f.ca, 10 + i);
        let municipality = p.split(':').next().unwrap();
        let voter = verifier::store::Voter {
            person_id: p.to_string(),
            municipality: municipality.into(),
            districts: vec!["tokyo".into()],
        };
        f.state
            .db
            .add_voter(
                &voter,
                &[(fingerprint(&v.card.auth_cert_der), verifier::certs::CertKind::Auth, v.card.auth_serial.clone())],
                "test",
                Utc::now(),
            )
            .unwrap();
        f.state.db.cast(p, past.id.as_str(), "tokyo", &[i as u8; 384]).unwrap();
    }
    // E-1 voted and then left the roll (a written switch back to paper): the record still counts and lists them.
    reg::document_switch(&f.state.db, &clerk, "13101:E-1", "在外 一郎", Utc::now()).unwrap();
    let record = reg::record(&f.state.db, &clerk, &past, "13101", Utc::now()).unwrap();
    assert_eq!(record.voters_per_contest[0], ("tokyo".to_string(), 3), "{record:?}");
    assert_eq!(record.voters.len(), 3, "only this municipality's voters");
    assert!(record.voters.iter().any(|(p, _)| p == "13101:E-1"), "a voter removed after voting stays listed");
    // Over every municipality, the records count what the ballot box holds.
    let other =
        reg::record(&f.state.db, &op(Role::Clerk, Some("27100"), "clerk B"), &past, "27100", Utc::now()).unwrap();
    // (Every cast here is in contest tokyo; the box holds each as a ballot or in its pool.)
    let in_box: i64 =
        rusqlite::Connection::open(verifier::store::ballot_box_path(&f.dir.path().join("verifier.sqlite")))
            .unwrap()
            .query_row("SELECT (SELECT count(*) FROM ballots) + (SELECT count(*) FROM pool)", [], |r| r.get(0))
            .unwrap();
    assert_eq!(record.voters_per_contest[0].1 + other.voters_per_contest[0].1, in_box);
    // The file for the committee is signed with the export key, and an edited copy does not open.
    let key_dir = tempfile::tempdir().unwrap();
    let key = verifier::ops::ExportKey::generate(&key_dir.path().join("export.key")).unwrap();
    let signed = reg::SignedRecord::sign(&record, &key).unwrap();
    assert_eq!(signed.open(&key.public_hex()), Some(record.clone()));
    let edited = reg::SignedRecord { record: signed.record.replace("13101:E-1", "13101:E-9"), ..signed.clone() };
    assert_eq!(edited.open(&key.public_hex()), None);
    let html = reg::record_html(&record);
    assert!(html.contains("13101:E-2") && !html.contains("27100"));
    assert!(!html.contains("<script"), "the planted person id is markup in the record:\n{html}");
    assert!(html.contains("13101:&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_eq!(reg::record(&f.state.db, &clerk, &past, "27100", Utc::now()).unwrap_err().code, "OTHER_MUNICIPALITY");
    let open = verifier::demo::demo_election(Utc::now()).unwrap();
    assert_eq!(reg::record(&f.state.db, &clerk, &open, "13101", Utc::now()).unwrap_err().code, "VOTING_NOT_CLOSED");
}

#[test]
fn receipt_dates_follow_committee_hours_weekends_and_holidays() {
    let f = fixture(0);
    let signer = jpki::Person {
        name: person(1).name,
        address: "x".into(),
        birth_date: person(1).birth_date,
        sex: jpki::Sex::Male,
    };
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let cases = [
        ("2026-11-27T16:59:59+09:00", "2026-11-27"), // Friday before 17:00 JST
        ("2026-11-27T17:00:00+09:00", "2026-11-30"), // Friday 17:00 JST: Monday
        ("2026-11-28T10:00:00+09:00", "2026-11-30"), // Saturday
        ("2026-11-22T10:00:00+09:00", "2026-11-24"), // Sunday before 勤労感謝の日 (Monday)
        ("2026-12-30T10:00:00+09:00", "2027-01-04"), // year-end closure
    ];
    for (i, (when, expected)) in cases.iter().enumerate() {
        let certs = reg::ApplicantCerts {
            auth: (format!("{i:064}"), "1".into()),
            auth_der: vec![9],
            sign: ("s".repeat(64), "2".into()),
            sign_der: vec![1],
        };
        let (_, date, _) =
            reg::submit(&f.state.db, &input(1, None, "apply"), "{}", &[0], &certs, &signer, at(when)).unwrap();
        assert_eq!(date.to_string(), *expected, "{when}");
    }
}

#[tokio::test]
async fn internet_voters_stay_registered_for_the_next_election_in_the_same_database() {
    // R-REG-5: an accepted voter stays an internet voter for every later election until a switch.
    let now = Utc::now();
    let mut first = verifier::demo::demo_election(now).unwrap();
    first.notice_date = "2025-07-02".parse().unwrap();
    first.election_day = "2025-07-19".parse().unwrap();
    let f = fixture_with(1, first.clone(), chrono::Duration::minutes(20));
    let v = &f.voters[0];
    // The voter voted in the first election's Tokyo contest (recorded while it was open).
    f.state.db.cast(&v.person_id, first.id.as_str(), "tokyo", &[7u8; 384]).unwrap();

    // A second election with the same contest ids, created in the same database once the first has closed.
    let mut second = verifier::demo::demo_election(now).unwrap();
    second.id = shared::election::Id::new("demo-hoc-2").unwrap();
    let key = shared::crypto::ElectionPublicKey::from_pem(ELECTION_PUB).unwrap();
    f.state.db.create_election(&second, &key, "test", now).unwrap();
    let (current, _) = f.state.db.election().unwrap().unwrap();
    assert_eq!(current.id, second.id);
    // A third one is refused while the second is open.
    let mut third = second.clone();
    third.id = shared::election::Id::new("demo-hoc-3").unwrap();
    let e = f.state.db.create_election(&third, &key, "test", now).unwrap_err().to_string();
    assert!(e.contains("has not closed yet"), "{e}");

    let state = AppState { election: verifier::CurrentElection::new(second.clone()), ..f.state.clone() };
    let (s, body) = cast_as(&state, v, "tokyo").await;
    assert_eq!(s, 201, "the registered voter votes again in the new election: {}", String::from_utf8_lossy(&body));
    let (s, _) = cast_as(&state, v, "tokyo").await;
    assert_eq!(s, StatusCode::CONFLICT, "and still only once in it");
    assert_eq!(f.state.db.ballot_counts(first.id.as_str()).unwrap(), vec![("tokyo".to_string(), 1)]);
    assert_eq!(f.state.db.ballot_counts(second.id.as_str()).unwrap(), vec![("tokyo".to_string(), 1)]);
}

/// R-VOTE-10/11: an embassy's emergency paper vote and the same person's online cast, sent at the same moment 100
/// times (100 people): exactly one of the two is accepted each time, and the stores agree with the answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emergency_declaration_racing_a_cast_lets_exactly_one_win() {
    const RACES: usize = 100;
    let f = fixture(0);
    let clerk = op(Role::Clerk, Some("13101"), "clerk R");
    let eid = f.state.election.get().id.to_string();
    let keys = test_voter(&f.ca, 0);
    let people: Vec<_> = (1..=RACES).map(person).collect();
    let cards = f.ca.issue_many_sharing_keys(&people, 365, std::slice::from_ref(&keys.card), 2).unwrap();
    let mut voters = Vec::new();
    for (i, card) in cards.into_iter().enumerate() {
        let v = TestVoter {
            person_id: format!("13101:R-{i}"),
            auth_key: keys.auth_key.clone(),
            sign_key: keys.sign_key.clone(),
            card,
        };
        register(&f.state.db, &v, &["tokyo"]);
        voters.push(v);
    }
    let (mut online, mut paper) = (0, 0);
    for v in &voters {
        let cookie = voting_login(&f.state, v).await;
        let ct = encrypt(&f.state, "tokyo", Choice::Blank);
        let body = cast_body(v, &eid, "tokyo", &ct);
        let both = Arc::new(std::sync::Barrier::new(2));
        let declare = {
            let (db, clerk, person, eid, both) =
                (f.state.db.clone(), clerk.clone(), v.person_id.clone(), eid.clone(), both.clone());
            tokio::task::spawn_blocking(move || {
                both.wait();
                reg::declare_emergency(&db, &clerk, &person, &eid, "race", Utc::now()).map_err(|e| e.code)
            })
        };
        let cast = {
            let (r, handle) = (routes(f.state.clone(), None), tokio::runtime::Handle::current());
            let request =
                warp::test::request().method("POST").path("/api/v1/ballots").header("cookie", cookie).json(&body);
            tokio::task::spawn_blocking(move || {
                both.wait();
                let resp = handle.block_on(request.reply(&r));
                (resp.status(), serde_json::from_slice::<ApiError>(resp.body()).map(|e| e.code).unwrap_or_default())
            })
        };
        let (declared, (status, code)) = (declare.await.unwrap(), cast.await.unwrap());
        match (&declared, status) {
            (Ok(()), StatusCode::FORBIDDEN) if code == "EMERGENCY_PAPER_VOTE" => paper += 1,
            (Err(c), StatusCode::CREATED) if *c == "ALREADY_VOTED_ONLINE" => online += 1,
            _ => panic!("{}: the declaration answered {declared:?} and the cast {status} {code}", v.person_id),
        }
        let cc = reg::cross_channel(&f.state.db, &clerk, &v.person_id, &eid, Utc::now()).unwrap();
        assert_ne!(cc.emergency_declared, !cc.voted_online.is_empty(), "{}: {cc:?}", v.person_id);
    }
    println!("{RACES} races: the paper vote won {paper}, the online cast {online}");
    assert_eq!(paper + online, RACES);
}

/// R-REG-2, one card, one person: an application that carries an authentication certificate already registered to
/// another voter (here: logged in with voter 1's card, signed with voter 2's) is refused at acceptance with a code,
/// the refusal is kept in the history and the audit log, and voter 1's registration is untouched.
#[tokio::test]
async fn a_certificate_of_another_voter_is_never_moved_to_this_one() {
    let f = fixture(0);
    let committee = Committee::start(&f.state.db, &f.state.election).await;
    for i in [1, 2] {
        let p = person(i);
        committee.roll_change(&format!("E-{i}"), &p.name, &p.birth_date.to_string(), "registered").await;
    }
    let (v1, v2) = (test_voter(&f.ca, 1), test_voter(&f.ca, 2));
    let cookie = applicant_login(&f.state, &v1).await;
    let (_, body) = apply(&f.state, &cookie, &v1, &input(1, Some("E-1"), "apply")).await;
    let first = serde_json::from_slice::<ApplicationStatus>(&body).unwrap().receipt_no;
    committee.arrive_and_accept(&first).await;

    // Voter 2's application signed with voter 2's card in a session of voter 1's card, as the card helper signs
    // (bound to the card it signs with): refused at once.
    let (s, body) = apply(&f.state, &cookie, &v2, &input(2, Some("E-2"), "apply")).await;
    assert_eq!(
        (s, serde_json::from_slice::<ApiError>(&body).unwrap().code.as_str()),
        (StatusCode::BAD_REQUEST, "BAD_SIGNATURE")
    );
    // A crafted request whose signature binds voter 1's certificate (voter 2 colluding) is stored, and refused at
    // acceptance: the certificate is registered to voter 1.
    let (s, body) = apply_bound(&f.state, &cookie, &v2, &v1.card.auth_cert_der, &input(2, Some("E-2"), "apply")).await;
    assert_eq!(s, 201, "{}", String::from_utf8_lossy(&body));
    let second = serde_json::from_slice::<ApplicationStatus>(&body).unwrap().receipt_no;
    committee.ok(&committee.clerk, "POST", &format!("applications/{second}/card-arrived"), None).await;
    let (status, e) = committee.call(&committee.approver, "POST", &format!("applications/{second}/accept"), None).await;
    assert_eq!((status, e["code"].as_str()), (409, Some("CERT_OF_ANOTHER_PERSON")), "{e}");

    let holder =
        f.state.db.voter_by_cert(&fingerprint(&v1.card.auth_cert_der), verifier::certs::CertKind::Auth).unwrap();
    assert_eq!(holder.map(|v| v.person_id).as_deref(), Some("13101:E-1"), "voter 1's card still logs in as voter 1");
    let refused: i64 = f
        .state
        .db
        .with(|c| {
            c.query_row(
                "SELECT count(*) FROM history WHERE subject = ?1 AND event = 'acceptance_refused'",
                [&second],
                |r| r.get(0),
            )
        })
        .unwrap();
    assert_eq!(refused, 1, "the refusal is in the application's history");
    let audit = f.state.db.with(|c| verifier::store::audit::entries(c)).unwrap();
    assert!(audit.iter().any(|e| e.action == "application_acceptance_refused"));
}

/// R-REG-11: an application kept past the cut-off records its card while it waits, and goes on when the next
/// election is created: established at once, then accepted, and the voter votes in the new election.
#[tokio::test]
async fn an_application_kept_for_the_next_election_goes_on_when_that_election_is_created() {
    let mut past = verifier::demo::demo_election(Utc::now()).unwrap();
    past.notice_date = "2025-07-02".parse().unwrap();
    past.election_day = "2025-07-19".parse().unwrap();
    let f = fixture_with(0, past.clone(), chrono::Duration::minutes(20));
    let committee = Committee::start(&f.state.db, &f.state.election).await;
    let cutoff = (Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    committee.ok(&committee.admin, "POST", "cutoff", Some(serde_json::json!({ "at": cutoff }))).await;
    let p = person(5);
    committee.roll_change("E-5", &p.name, &p.birth_date.to_string(), "registered").await;
    let v = test_voter(&f.ca, 5);
    let cookie = applicant_login(&f.state, &v).await;
    let (_, body) = apply(&f.state, &cookie, &v, &input(5, Some("E-5"), "apply")).await;
    let held = serde_json::from_slice::<ApplicationStatus>(&body).unwrap();
    assert_eq!(held.status, "kept_for_next_election");
    // The card arrives while the application waits: recorded, still kept, not yet to be accepted.
    let receipt = &held.receipt_no;
    let app = committee.ok(&committee.clerk, "POST", &format!("applications/{receipt}/card-arrived"), None).await;
    assert!(app["card_arrived"] == true && app["status"] == "kept_for_next_election", "{app}");
    let (status, refused) =
        committee.call(&committee.approver, "POST", &format!("applications/{receipt}/accept"), None).await;
    assert_eq!((status, refused["code"].as_str()), (409, Some("NOT_ESTABLISHED")));

    // The next election: the application is established at once and accepted; the voter votes in it.
    let mut next = verifier::demo::demo_election(Utc::now()).unwrap();
    next.id = shared::election::Id::new("next-hoc").unwrap();
    f.state.db.create_election(&next, &f.state.key, "test", Utc::now()).unwrap();
    let app = committee.ok(&committee.approver, "POST", &format!("applications/{receipt}/accept"), None).await;
    assert_eq!(app["status"], "accepted");
    let history = committee.ok(&committee.clerk, "GET", "persons/13101:E-5/history", None).await;
    assert!(history.as_array().unwrap().iter().any(|e| e["event"] == "became_internet_voter"), "{history}");
    let state = AppState { election: verifier::CurrentElection::new(next), ..f.state.clone() };
    let voter = TestVoter { person_id: "13101:E-5".into(), ..v };
    assert_eq!(cast_as(&state, &voter, "tokyo").await.0, 201);
}

/// R-REG-4 and R-REG-9 for a voter whose roll registration was pending: accepted, unable to vote until the roll
/// entry arrives; the roll change gives them its districts and they vote; a later online switch request removes
/// them (the acceptance names the right person).
#[tokio::test]
async fn a_pending_registration_is_completed_by_the_roll_change_and_a_switch_removes_that_voter() {
    let f = fixture(0);
    let committee = Committee::start(&f.state.db, &f.state.election).await;
    let v = test_voter(&f.ca, 6);
    let app = apply_and_accept(&f, &committee, &v, &input(6, None, "apply")).await;
    let pending_id = app["person_id"].as_str().unwrap().to_string();
    assert!(pending_id.starts_with("13101:pending:"), "{pending_id}");
    assert_ne!(cast_as_status(&f.state, &v).await, 201, "no districts yet");

    // The roll entry arrives: the same person (name and birth date of the application) gets its districts.
    let p = person(6);
    committee.roll_change("E-6", &p.name, &p.birth_date.to_string(), "registered").await;
    let holder =
        f.state.db.voter_by_cert(&fingerprint(&v.card.auth_cert_der), verifier::certs::CertKind::Auth).unwrap();
    assert_eq!(holder.map(|h| h.person_id).as_deref(), Some("13101:E-6"));
    let voter = TestVoter { person_id: "13101:E-6".into(), ..v };
    assert_eq!(cast_as(&f.state, &voter, "tokyo").await.0, 201, "the completed registration votes");
    let history = committee.ok(&committee.clerk, "GET", "persons/13101:E-6/history", None).await;
    assert!(history.as_array().unwrap().iter().any(|e| e["event"] == "registration_completed"), "{history}");

    // A switch request online from the same card: accepted, and the voter is removed.
    let mut switch = input(6, None, "switch");
    switch.registration_pending = true;
    let app = apply_and_accept(&f, &committee, &voter, &switch).await;
    assert_eq!(app["person_id"], "13101:E-6", "the switch names the voter whose card signed it");
    let holder =
        f.state.db.voter_by_cert(&fingerprint(&voter.card.auth_cert_der), verifier::certs::CertKind::Auth).unwrap();
    assert!(holder.is_none(), "the switched voter is no longer an internet voter: {holder:?}");
    let cc = committee.ok(&committee.clerk, "GET", "persons/13101:E-6/cross-channel", None).await;
    assert_eq!(cc["internet_voter"], false, "{cc}");
}

/// R-REG-9 for a voter still pending on the roll: the online switch request removes that voter.
#[tokio::test]
async fn a_switch_request_of_a_pending_voter_removes_that_voter() {
    let f = fixture(0);
    let committee = Committee::start(&f.state.db, &f.state.election).await;
    let v = test_voter(&f.ca, 8);
    let app = apply_and_accept(&f, &committee, &v, &input(8, None, "apply")).await;
    assert!(app["person_id"].as_str().is_some_and(|p| p.starts_with("13101:pending:")), "{app}");
    let switch = apply_and_accept(&f, &committee, &v, &input(8, None, "switch")).await;
    assert_eq!(switch["person_id"], app["person_id"], "the switch names the pending voter whose card signed it");
    let holder =
        f.state.db.voter_by_cert(&fingerprint(&v.card.auth_cert_der), verifier::certs::CertKind::Auth).unwrap();
    assert!(holder.is_none(), "the switched voter is no longer an internet voter: {holder:?}");
}
