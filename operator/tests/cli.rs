//! The `operator` binary against the verifier's operator listener, started in-process over real TLS: login with
//! a TOTP code (token file mode 0600), whoami, audit-verify, a generic call, refusals, logout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;
use verifier::operators::Role;
use verifier::operators::api::{OperatorApiConfig, OperatorContext, OperatorServer, no_routes};
use verifier::operators::auth::{self, OperatorCa, totp_code};
use verifier::store::Db;

/// Starts the operator listener on its own thread and runtime; returns its https address.
fn start_listener(ca_dir: &Path, db: Arc<Db>) -> String {
    let ca_dir = ca_dir.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let config = OperatorApiConfig::from_ca_dir("127.0.0.1:0".parse().unwrap(), &ca_dir).unwrap();
            let ctx = OperatorContext::new(db).unwrap();
            let server = OperatorServer::bind(config, &ctx, no_routes()).await.unwrap();
            tx.send(format!("https://127.0.0.1:{}", server.local_addr().port())).unwrap();
            server.run(std::future::pending()).await;
        });
    });
    rx.recv().unwrap()
}

struct Me<'a> {
    server: &'a str,
    dir: &'a Path,
}

impl Me<'_> {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_operator"))
            .arg("--server")
            .arg(self.server)
            .arg("--ca")
            .arg(self.dir.join("operator-ca.pem"))
            .arg("--cert")
            .arg(self.dir.join("me.pem"))
            .arg("--key")
            .arg(self.dir.join("me.key"))
            .args(args)
            .output()
            .unwrap()
    }
}

fn ok_json(o: &Output) -> Value {
    assert!(o.status.success(), "stdout: {}\nstderr: {}", String::from_utf8_lossy(&o.stdout), stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn login_with_totp_then_whoami_audit_verify_call_and_logout() {
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    let ca = OperatorCa::init(&ca_dir).unwrap();
    ca.write_server_cert(&["127.0.0.1".to_string()]).unwrap();
    let db = Arc::new(Db::open_in_memory().unwrap());
    let issued = ca.issue("Aiko Auditor", Role::Auditor, None).unwrap();
    auth::register(&db, &issued, "operator:test-setup", Utc::now()).unwrap();
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("operator-ca.pem"), ca.cert_pem()).unwrap();
    std::fs::write(mine.join("me.pem"), &issued.cert_pem).unwrap();
    std::fs::write(mine.join("me.key"), &issued.key_pem).unwrap();

    let server = start_listener(&ca_dir, db.clone());
    let me = Me { server: &server, dir: &mine };

    // Before login: the server asks for the code.
    let out = me.run(&["whoami"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("TOTP_REQUIRED"), "{}", stderr(&out));

    // A wrong code is refused.
    let now_code = totp_code(&issued.totp_secret_base32, Utc::now()).unwrap();
    let wrong = if now_code == "000000" { "111111" } else { "000000" };
    let out = me.run(&["login", "--totp", wrong]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("TOTP_INVALID"), "{}", stderr(&out));

    // Login keeps the token in a file only the owner can read, and never prints it.
    let out = me.run(&["login", "--totp", &totp_code(&issued.totp_secret_base32, Utc::now()).unwrap()]);
    let answer = ok_json(&out);
    assert_eq!(answer["operator"]["name"], "Aiko Auditor");
    assert!(answer.get("token").is_none());
    let session_file = mine.join("me.key.session");
    assert_eq!(answer["session_file"], session_file.display().to_string());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&session_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let me_json = ok_json(&me.run(&["whoami"]));
    assert_eq!((me_json["name"].as_str(), me_json["role"].as_str()), (Some("Aiko Auditor"), Some("auditor")));
    assert_eq!(me_json["fingerprint"], issued.fingerprint.as_str());

    let v = ok_json(&me.run(&["audit-verify"]));
    assert!(v["first_broken"].is_null() && v["entries"].as_i64().unwrap() >= 4, "{v}");

    let same = ok_json(&me.run(&["call", "GET", "whoami"]));
    assert_eq!(same, me_json);
    let same = ok_json(&me.run(&["call", "get", "/op/v1/whoami"]));
    assert_eq!(same, me_json);
    let out = me.run(&["call", "GET", "no/such/thing"]);
    assert!(stderr(&out).contains("NOT_FOUND"), "{}", stderr(&out));
    let out = me.run(&["call", "POST", "session", "--json", r#"{"totp": "1", "extra": true}"#]);
    assert!(stderr(&out).contains("MALFORMED"), "{}", stderr(&out));

    ok_json(&me.run(&["logout"]));
    assert!(!session_file.exists());
    let out = me.run(&["whoami"]);
    assert!(stderr(&out).contains("TOTP_REQUIRED"), "{}", stderr(&out));

    // A wrong CA file: the server is not trusted.
    std::fs::write(mine.join("operator-ca.pem"), OperatorCa::init(&dir.path().join("other")).unwrap().cert_pem())
        .unwrap();
    let out = me.run(&["whoami"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cannot reach"), "{}", stderr(&out));

    // The whole exchange is in the audit log under the person's name.
    let audit = db.with(|c| verifier::store::audit::entries(c)).unwrap();
    let actions: Vec<&str> =
        audit.iter().filter(|e| e.actor.contains("Aiko Auditor")).map(|e| e.action.as_str()).collect();
    for action in ["operator_refused", "operator_totp_failed", "operator_session_started", "operator_request"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert!(actions.contains(&"operator_session_ended"), "{actions:?}");
}
