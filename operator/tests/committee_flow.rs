//! A municipal committee's day over the real operator API (client certificates + TOTP, through the `operator`
//! binary): roll changes, an application's card arrival, a clerk refused the approver's act, acceptance with the
//! notice queued, the cross-channel check, another municipality's clerk refused, and every act audited by name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;
use verifier::operators::Role;
use verifier::operators::api::{OperatorApiConfig, OperatorContext, OperatorServer};
use verifier::operators::auth::{self, OperatorCa, totp_code};
use verifier::store::Db;

fn start(ca_dir: &Path, db: Arc<Db>, election: verifier::CurrentElection) -> String {
    let ca_dir = ca_dir.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let config = OperatorApiConfig::from_ca_dir("127.0.0.1:0".parse().unwrap(), &ca_dir).unwrap();
            let key = Arc::new(verifier::store::checkpoints::AuditKey::ephemeral().unwrap());
            let ctx = OperatorContext::new(db).unwrap().with_audit_key(key);
            let routes = verifier::registration::routes::routes(&ctx, election);
            let server = OperatorServer::bind(config, &ctx, routes).await.unwrap();
            tx.send(format!("https://127.0.0.1:{}", server.local_addr().port())).unwrap();
            server.run(std::future::pending()).await;
        });
    });
    rx.recv().unwrap()
}

struct Person {
    dir: PathBuf,
    secret: String,
}

fn person(root: &Path, ca: &OperatorCa, db: &Db, name: &str, role: Role, municipality: Option<&str>) -> Person {
    let issued = ca.issue(name, role, municipality).unwrap();
    auth::register(db, &issued, "operator:test-setup", Utc::now()).unwrap();
    let dir = root.join(name.replace(' ', "-"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.cert_pem()).unwrap();
    std::fs::write(dir.join("me.pem"), &issued.cert_pem).unwrap();
    std::fs::write(dir.join("me.key"), &issued.key_pem).unwrap();
    Person { dir, secret: issued.totp_secret_base32 }
}

impl Person {
    fn run(&self, server: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_operator"))
            .arg("--server")
            .arg(server)
            .arg("--ca")
            .arg(self.dir.join("ca.pem"))
            .arg("--cert")
            .arg(self.dir.join("me.pem"))
            .arg("--key")
            .arg(self.dir.join("me.key"))
            .args(args)
            .output()
            .unwrap()
    }

    fn login(&self, server: &str) {
        let code = totp_code(&self.secret, Utc::now()).unwrap();
        let o = self.run(server, &["login", "--totp", &code]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

fn ok(o: &Output) -> Value {
    assert!(o.status.success(), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or(Value::Null)
}

fn refused(o: &Output, code: &str) {
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains(code), "expected {code}: {e}");
}

/// Creates the demo election (open now) in the database; returns the handle the voter API would share.
fn demo_election(db: &Db) -> verifier::CurrentElection {
    let election = verifier::demo::demo_election(Utc::now()).unwrap();
    let key =
        shared::crypto::ElectionPublicKey::from_pem(include_str!("../../shared/tests/data/test-election-key.pub.pem"))
            .unwrap();
    db.create_election(&election, &key, "test", Utc::now()).unwrap();
    verifier::CurrentElection::new(election)
}

/// A fresh operator CA with the server's certificate, and a database holding the demo election.
fn lab() -> (tempfile::TempDir, PathBuf, OperatorCa, Arc<Db>, verifier::CurrentElection) {
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    let ca = OperatorCa::init(&ca_dir).unwrap();
    ca.write_server_cert(&["127.0.0.1".to_string()]).unwrap();
    let db = Arc::new(Db::open_in_memory().unwrap());
    let election = demo_election(&db);
    (dir, ca_dir, ca, db, election)
}

#[test]
fn committee_day_over_client_certificates_and_totp() {
    let (dir, ca_dir, ca, db, election) = lab();
    let clerk = person(dir.path(), &ca, &db, "Kei Clerk", Role::Clerk, Some("13101"));
    let approver = person(dir.path(), &ca, &db, "Aya Approver", Role::Approver, Some("13101"));
    let other = person(dir.path(), &ca, &db, "Oda Clerk", Role::Clerk, Some("27100"));
    let server = start(&ca_dir, db.clone(), election);
    for p in [&clerk, &approver, &other] {
        p.login(&server);
    }

    let csv = "13101,E-7,在外 七郎,1977-07-07,tokyo|national,registered\n";
    let applied =
        ok(&clerk.run(&server, &["call", "POST", "roll-changes", "--json", &serde_json::to_string(csv).unwrap()]));
    assert_eq!(applied["applied"], 1);
    refused(
        &other.run(&server, &["call", "POST", "roll-changes", "--json", &serde_json::to_string(csv).unwrap()]),
        "OTHER_MUNICIPALITY",
    );

    // An application as the voter side stores it (the voter API's signing checks are tested in verifier).
    let input = shared::api::ApplicationInput {
        kind: "apply".into(),
        municipality: "13101".into(),
        roll_entry: Some("E-7".into()),
        registration_pending: false,
        name: "在外 七郎".into(),
        birth_date: "1977-07-07".parse().unwrap(),
        address_abroad: "Paris".into(),
        email: "shichiro@example.org".into(),
    };
    let signer = jpki::Person {
        name: input.name.clone(),
        address: "x".into(),
        birth_date: input.birth_date,
        sex: jpki::Sex::Male,
    };
    let certs = verifier::registration::ApplicantCerts {
        auth: ("a".repeat(64), "01".into()),
        auth_der: vec![9],
        sign: ("b".repeat(64), "02".into()),
        sign_der: vec![1, 2, 3],
    };
    let (receipt, _, _) = verifier::registration::submit(&db, &input, "{}", &[0], &certs, &signer, Utc::now()).unwrap();

    let list = ok(&clerk.run(&server, &["call", "GET", "applications?status=awaiting_card"]));
    assert_eq!(list.as_array().unwrap().len(), 1);
    refused(&other.run(&server, &["call", "GET", "applications?municipality=13101"]), "OTHER_MUNICIPALITY");
    ok(&clerk.run(&server, &["call", "POST", &format!("applications/{receipt}/card-arrived")]));
    refused(&clerk.run(&server, &["call", "POST", &format!("applications/{receipt}/accept")]), "FORBIDDEN_ROLE");
    let accepted = ok(&approver.run(&server, &["call", "POST", &format!("applications/{receipt}/accept")]));
    assert_eq!(accepted["status"], "accepted");
    assert!(
        verifier::registration::notify::pending(&db).unwrap().iter().any(|(_, to, _, _)| to == "shichiro@example.org")
    );

    let cc = ok(&clerk.run(&server, &["call", "GET", "persons/13101:E-7/cross-channel"]));
    assert_eq!((cc["internet_voter"].as_bool(), cc["voted_online"].as_array().map(Vec::len)), (Some(true), Some(0)));
    refused(&other.run(&server, &["call", "GET", "persons/13101:E-7/cross-channel"]), "OTHER_MUNICIPALITY");
    refused(&clerk.run(&server, &["call", "POST", "pause", "--json", "{\"reason\":\"x\"}"]), "FORBIDDEN_ROLE");

    // Every act is in the audit log under the person's name.
    let entries = db.with(|c| verifier::store::audit::entries(c)).unwrap();
    for (who, action) in
        [("Kei Clerk", "card_arrived"), ("Aya Approver", "application_accepted"), ("Kei Clerk", "roll_changes_applied")]
    {
        assert!(entries.iter().any(|e| e.actor.contains(who) && e.action == action), "{who} {action}");
    }
    assert_eq!(db.with(|c| verifier::store::audit::verify(c)).unwrap().first_broken, None);
}

/// R-VOTE-3: a candidate dies during the voting window. The admin pauses voting, takes the candidate off the list,
/// and resumes; a ballot cast before stays in the box as cast; the export's signed manifest pins the changed
/// definition, whose count makes a vote for that candidate invalid (`tally` tests).
#[test]
fn a_candidate_who_died_leaves_the_list_during_a_pause() {
    let (dir, ca_dir, ca, db, election) = lab();
    let admin = person(dir.path(), &ca, &db, "Ren Admin", Role::Admin, None);
    let second = person(dir.path(), &ca, &db, "Mei Admin", Role::Admin, None);
    let clerk = person(dir.path(), &ca, &db, "Kei Clerk", Role::Clerk, Some("13101"));
    let counter = person(dir.path(), &ca, &db, "Kazu Counting", Role::CountingOfficer, None);
    let server = start(&ca_dir, db.clone(), election.clone());
    admin.login(&server);
    second.login(&server);
    clerk.login(&server);
    counter.login(&server);
    // A ballot cast before the change (its contents do not matter here: the box never reads them).
    db.cast("13101:E-1", "demo-hoc", "tokyo", &[7; 384]).unwrap();

    let change = r#"{"contest":"tokyo","candidate":4,"reason":"died"}"#;
    refused(&admin.run(&server, &["call", "POST", "withdrawals", "--json", change]), "NOT_PAUSED");
    refused(&clerk.run(&server, &["call", "POST", "withdrawals", "--json", change]), "FORBIDDEN_ROLE");
    let paused = r#"{"reason":"候補者の異動のため（東京都選挙区）/ A candidate change in the Tokyo district"}"#;
    // Four eyes (issue 21): one admin's pause is a request; voting runs on until another admin approves it.
    let asked = ok(&admin.run(&server, &["call", "POST", "pause", "--json", paused]));
    assert_eq!(db.pause_state().unwrap(), None, "one admin paused voting alone");
    let id = asked["request"]["id"].as_str().expect("a four-eyes request").to_string();
    let approve = format!("requests/{id}/approve");
    refused(&admin.run(&server, &["call", "POST", &approve]), "SAME_PERSON");
    refused(&clerk.run(&server, &["call", "POST", &approve]), "FORBIDDEN_ROLE");
    let pending = ok(&second.run(&server, &["call", "GET", "requests"]));
    assert_eq!(pending[0]["id"].as_str(), Some(id.as_str()), "{pending}");
    ok(&second.run(&server, &["call", "POST", &approve]));
    assert!(db.pause_state().unwrap().is_some());
    refused(&second.run(&server, &["call", "POST", &approve]), "REQUEST_CLOSED");
    let done = ok(&admin.run(&server, &["call", "POST", "withdrawals", "--json", change]));
    assert_eq!((done["name"].as_str(), done["withdrawal"]["reason"].as_str()), (Some("田中 ひろし"), Some("died")));
    refused(&admin.run(&server, &["call", "POST", "withdrawals", "--json", change]), "ALREADY_WITHDRAWN");
    let pr = r#"{"contest":"national-pr","candidate":101,"reason":"withdrew"}"#;
    refused(&admin.run(&server, &["call", "POST", "withdrawals", "--json", pr]), "INVALID_CHANGE");
    let nobody = r#"{"contest":"tokyo","candidate":99,"reason":"withdrew"}"#;
    refused(&admin.run(&server, &["call", "POST", "withdrawals", "--json", nobody]), "UNKNOWN_CANDIDATE");
    let asked = ok(&admin.run(&server, &["call", "POST", "resume"]));
    assert!(db.pause_state().unwrap().is_some(), "one admin resumed voting alone");
    ok(&second
        .run(&server, &["call", "POST", &format!("requests/{}/approve", asked["request"]["id"].as_str().unwrap())]));
    assert_eq!(db.pause_state().unwrap(), None);

    // The voter API's election (the same handle) no longer offers the candidate; the stored definition agrees.
    let now = election.get();
    let tokyo = now.contest("tokyo").unwrap();
    assert!(tokyo.withdrawal(4).is_some() && tokyo.check(&shared::election::Choice::Candidate(4)).is_err());
    let (stored, _) = db.election().unwrap().unwrap();
    assert_eq!(&stored, now.as_ref());
    let json = serde_json::to_vec(now.as_ref()).unwrap();
    assert_eq!(done["definition_digest"].as_str(), Some(shared::export::definition_digest(&json).as_str()));
    // The ballot cast before stays in the box as cast.
    assert_eq!(db.ballot_counts("demo-hoc").unwrap(), vec![("tokyo".to_string(), 1)]);
    // The counting officer's view: ballots per contest and the close, before approving an export on the host; a
    // clerk may not see it, nor approve anything.
    let counting = ok(&counter.run(&server, &["call", "GET", "counting"]));
    assert_eq!((counting["election"].as_str(), counting["closed"].as_bool()), (Some("demo-hoc"), Some(false)));
    let tokyo = counting["contests"].as_array().unwrap().iter().find(|c| c["contest"] == "tokyo").unwrap();
    assert_eq!((tokyo["district"].as_str(), tokyo["ballots"].as_i64()), (Some("tokyo"), Some(1)));
    refused(&clerk.run(&server, &["call", "GET", "counting"]), "FORBIDDEN_ROLE");
    refused(&counter.run(&server, &["call", "POST", "pause", "--json", r#"{"reason":"x"}"#]), "FORBIDDEN_ROLE");

    let entries = db.with(|c| verifier::store::audit::entries(c)).unwrap();
    let change = entries.iter().find(|e| e.action == "candidate_withdrawn").expect("the change is audited");
    assert!(change.actor.contains("Ren Admin"), "{}", change.actor);
    assert!(
        change.detail.contains("田中 ひろし") && change.detail.contains(done["definition_digest"].as_str().unwrap())
    );
    let order: Vec<&str> = entries
        .iter()
        .map(|e| e.action.as_str())
        .filter(|a| a.starts_with("voting_") || *a == "candidate_withdrawn")
        .collect();
    assert_eq!(order, ["voting_paused", "candidate_withdrawn", "voting_resumed"]);
    assert_eq!(db.with(|c| verifier::store::audit::verify(c)).unwrap().first_broken, None);
    // Each of the three critical actions signed a checkpoint (auditors read them on `GET /op/v1/audit`).
    let checkpoints = db.with(|c| verifier::store::audit::checkpoints(c)).unwrap();
    let reasons: Vec<&str> = checkpoints.iter().map(|c| c.reason.as_str()).collect();
    assert_eq!(reasons, ["pause", "withdrawal", "resume"]);
    let findings = db.with(|c| verifier::store::checkpoints::check(c, &[], None)).unwrap();
    assert_eq!((findings.problems.len(), findings.anchored_to), (0, checkpoints[2].seq));
}
