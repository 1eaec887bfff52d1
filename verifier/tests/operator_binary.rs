//! The `verifier` binary end to end for its operators (R-SEC-4): `operators init-ca | server-cert | issue | list |
//! revoke` and `serve --operator-listen --operator-ca` beside the voter API, reached over real TLS with a client
//! certificate and a TOTP session. (The listener's handshake, sessions, roles and audit: operator_tls.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::operator_client::{assert_refused, client, code};
use verifier::operators::auth::{self, IssuedOperator};
use verifier::operators::{Operator, Role};

/// The `verifier` binary end to end: `operators init-ca | server-cert | issue | list | revoke` and
/// `serve --operator-listen --operator-ca` beside the voter API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verifier_binary_runs_the_operator_ca_and_listener() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let (ca_dir, out_dir, db) = (dir.path().join("ca"), dir.path().join("issued"), dir.path().join("v.sqlite"));
    let verifier = || Command::new(env!("CARGO_BIN_EXE_verifier"));
    let run = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{stdout}\n{stderr}");
        stdout.into_owned()
    };
    run(verifier().args(["operators", "init-ca", "--ca"]).arg(&ca_dir));
    run(verifier().args(["operators", "server-cert", "--host", "127.0.0.1", "--ca"]).arg(&ca_dir));
    std::fs::write(dir.path().join("demo.toml"), verifier::demo::DEMO_TOML).unwrap();
    std::fs::write(
        dir.path().join("election.pub.pem"),
        include_str!("../../shared/tests/data/test-election-key.pub.pem"),
    )
    .unwrap();
    let crew = verifier::operators::crew::Crew::bootstrap(
        std::path::Path::new(env!("CARGO_BIN_EXE_verifier")),
        &db,
        &ca_dir,
        dir.path(),
    )
    .unwrap();
    let (toml, key) = (dir.path().join("demo.toml"), dir.path().join("election.pub.pem"));
    let (toml, key) = (toml.to_str().unwrap(), key.to_str().unwrap());
    crew.four_eyes(&["election", "create", toml, "--public-key", key, "--redate-for-demo"]).unwrap();
    let out = out_dir.to_str().unwrap();
    let printed = crew
        .four_eyes(&[
            "operators",
            "issue",
            "--name",
            "Sora Clerk",
            "--role",
            "clerk",
            "--municipality",
            "13101",
            "--out",
            out,
        ])
        .unwrap();
    let field = |label: &str| {
        let line = printed.lines().find(|l| l.starts_with(label)).unwrap();
        line[label.len()..].split_whitespace().next().unwrap().to_string()
    };
    let (serial, secret) = (field("serial:"), field("TOTP secret:"));
    let refused = crew.run(&["operators", "issue", "--name", "No Town", "--role", "clerk", "--out", out]);
    assert!(refused.is_err(), "a clerk needs a municipality");
    let op = IssuedOperator {
        cert_pem: std::fs::read_to_string(out_dir.join(format!("operator-{serial}.pem"))).unwrap(),
        key_pem: std::fs::read_to_string(out_dir.join(format!("operator-{serial}.key"))).unwrap(),
        totp_secret_base32: secret,
        otpauth_uri: String::new(),
        fingerprint: field("fingerprint:"),
        serial: serial.clone(),
        operator: Operator { fingerprint: String::new(), name: String::new(), role: Role::Clerk, municipality: None },
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out_dir.join(format!("operator-{serial}.key"))).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let mut child = verifier()
        .args(["serve", "--listen", "127.0.0.1:0", "--operator-listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .arg("--operator-ca")
        .arg(&ca_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let _child = Kill(child);
    // The voter port is bound and said first, so a harness reading the first line can connect at once (a rehearsal
    // once pointed Chromium at a voter port still being set up, because the operator API had spoken first).
    let first = lines.next().expect("the verifier printed its voter address").unwrap();
    let voters = first.strip_prefix("verifier: listening on http://").expect(&first).trim_end_matches('/');
    std::net::TcpStream::connect(voters).expect("the voter port takes connections once said");
    let base = loop {
        let line = lines.next().expect("the verifier printed its operator address").unwrap();
        if let Some(rest) = line.strip_prefix("verifier: operator API listening on ") {
            break rest.trim_end_matches('/').to_string();
        }
    };
    let ca_pem = std::fs::read_to_string(ca_dir.join(auth::CA_CERT_FILE)).unwrap();
    let c = client(&ca_pem, Some(&op));
    let r = c.post(format!("{base}/op/v1/session")).json(&json!({ "totp": code(&op, 0) })).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let me: Operator =
        c.get(format!("{base}/op/v1/whoami")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!((me.name.as_str(), me.municipality.as_deref()), ("Sora Clerk", Some("13101")));

    let listed = run(verifier().args(["operators", "list", "--db"]).arg(&db));
    assert!(listed.contains("active") && listed.contains("Sora Clerk"), "{listed}");
    crew.four_eyes(&["operators", "revoke", &serial]).unwrap();
    let listed = run(verifier().args(["operators", "list", "--db"]).arg(&db));
    assert!(listed.contains("REVOKED"), "{listed}");
    let e = client(&ca_pem, Some(&op)).get(format!("{base}/op/v1/whoami")).send().await.unwrap_err();
    assert_refused(&e, "CertificateRevoked");
}
