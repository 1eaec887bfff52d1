//! A municipal committee's day over the real operator API (client certificates + TOTP, through the `operator`
//! binary): roll changes, an application's card arrival, a clerk refused the approver's act, acceptance with the
//! notice queued, the cross-channel check, another municipality's clerk refused, and every act audited by name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;
use verifier::db::Db;
use verifier::operator_api::{OperatorApiConfig, OperatorContext, OperatorServer};
use verifier::operator_auth::{self, OperatorCa, totp_code};
use verifier::operators::Role;

fn start(ca_dir: &Path, db: Arc<Db>, election: Arc<shared::election::Election>) -> String {
    let ca_dir = ca_dir.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let config = OperatorApiConfig::from_ca_dir("127.0.0.1:0".parse().unwrap(), &ca_dir).unwrap();
            let ctx = OperatorContext::new(db).unwrap();
            let routes = verifier::operator_routes::routes(&ctx, election);
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
    operator_auth::register(db, &issued, "operator:test-setup", Utc::now()).unwrap();
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

#[test]
fn committee_day_over_client_certificates_and_totp() {
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    let ca = OperatorCa::init(&ca_dir).unwrap();
    ca.write_server_cert(&["127.0.0.1".to_string()]).unwrap();
    let db = Arc::new(Db::open_in_memory().unwrap());
    let election = Arc::new(verifier::demo::demo_election(Utc::now()).unwrap());
    let key =
        shared::crypto::ElectionPublicKey::from_pem(include_str!("../../shared/tests/data/test-election-key.pub.pem"))
            .unwrap();
    db.create_election(&election, &key, "test", Utc::now()).unwrap();
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
    assert!(verifier::notify::pending(&db).unwrap().iter().any(|(_, to, _, _)| to == "shichiro@example.org"));

    let cc = ok(&clerk.run(&server, &["call", "GET", "persons/13101:E-7/cross-channel"]));
    assert_eq!((cc["internet_voter"].as_bool(), cc["voted_online"].as_array().map(Vec::len)), (Some(true), Some(0)));
    refused(&other.run(&server, &["call", "GET", "persons/13101:E-7/cross-channel"]), "OTHER_MUNICIPALITY");
    refused(&clerk.run(&server, &["call", "POST", "pause", "--json", "{\"reason\":\"x\"}"]), "FORBIDDEN_ROLE");

    // Every act is in the audit log under the person's name.
    let entries = db.with(|c| verifier::audit::entries(c)).unwrap();
    for (who, action) in
        [("Kei Clerk", "card_arrived"), ("Aya Approver", "application_accepted"), ("Kei Clerk", "roll_changes_applied")]
    {
        assert!(entries.iter().any(|e| e.actor.contains(who) && e.action == action), "{who} {action}");
    }
    assert_eq!(db.with(|c| verifier::audit::verify(c)).unwrap().first_broken, None);
}
