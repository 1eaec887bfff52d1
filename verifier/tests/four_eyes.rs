//! Issue 21 part 2, as an insider on the verifier host would try it: one person, alone, on the command line.
//! Every state-changing host command needs a named operator (certificate, key and a TOTP login), and the critical
//! ones (pause, resume, export, election create, operators issue/revoke) need a second person who approves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn verifier(args: &[&str], db: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verifier")).args(args).arg("--db").arg(db).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn nobody_unnamed_changes_anything_on_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.sqlite");
    let key = dir.path().join("election.pub.pem");
    std::fs::write(&key, include_str!("../../shared/tests/data/test-election-key.pub.pem")).unwrap();
    let toml = dir.path().join("e.toml");
    std::fs::write(&toml, verifier::demo::DEMO_TOML).unwrap();
    let out = verifier(&["election", "create", toml.to_str().unwrap(), "--public-key", key.to_str().unwrap()], &db);
    assert!(!out.status.success(), "an unnamed person created an election: {}", text(&out));
    assert!(text(&out).contains("OPERATOR_REQUIRED"), "{}", text(&out));
    let out = verifier(&["pause", "--reason", "x"], &db);
    assert!(!out.status.success(), "an unnamed person paused voting: {}", text(&out));
    assert!(text(&out).contains("OPERATOR_REQUIRED"), "{}", text(&out));
    let ca = dir.path().join("ca");
    let init = Command::new(env!("CARGO_BIN_EXE_verifier")).args(["operators", "init-ca", "--ca"]).arg(&ca).status();
    assert!(init.unwrap().success());
    let out = verifier(
        &["operators", "issue", "--ca", ca.to_str().unwrap(), "--name", "Mallory", "--role", "admin", "--out", "x"],
        &db,
    );
    assert!(!out.status.success(), "an unnamed person issued an admin: {}", text(&out));
    assert!(text(&out).contains("OPERATOR_REQUIRED"), "{}", text(&out));
}

fn fails_with(o: &Output, code: &str) {
    assert!(!o.status.success(), "expected {code}, but it passed: {}", text(o));
    assert!(text(o).contains(code), "expected {code}: {}", text(o));
}

/// The crew's operators against each other: nobody approves their own request, not under a second certificate
/// in their name; roles hold; a session belongs to one certificate and key; a revoked operator stops at once.
#[test]
fn one_person_alone_cannot_take_a_critical_action() {
    let dir = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_verifier"));
    let db = dir.path().join("v.sqlite");
    let crew = verifier::operators::crew::Crew::bootstrap(bin, &db, &dir.path().join("ca"), dir.path()).unwrap();
    let [ren, mei] = &crew.admins;
    let key = dir.path().join("election.pub.pem");
    std::fs::write(&key, include_str!("../../shared/tests/data/test-election-key.pub.pem")).unwrap();
    let toml = dir.path().join("e.toml");
    std::fs::write(&toml, verifier::demo::DEMO_TOML).unwrap();
    let k = key.to_str().unwrap();
    crew.four_eyes(&["election", "create", toml.to_str().unwrap(), "--public-key", k, "--redate-for-demo"]).unwrap();
    let store = || verifier::store::Db::open(&db).unwrap();
    assert!(store().election().unwrap().is_some());

    // A second bootstrap (an insider minting admins) is refused once operators exist.
    let o = Command::new(bin)
        .args(["operators", "bootstrap", "--admin", "M1", "--admin", "M2", "--ca"])
        .arg(dir.path().join("ca"))
        .arg("--db")
        .arg(&db)
        .args(["--out", dir.path().join("m").to_str().unwrap()])
        .output()
        .unwrap();
    fails_with(&o, "ALREADY_BOOTSTRAPPED");

    // One admin's pause is only a request; the same person cannot approve it.
    let asked = crew.run(&["pause", "--reason", "一人で / alone"]).unwrap();
    let id = verifier::operators::crew::request_id(&asked).unwrap();
    assert_eq!(store().pause_state().unwrap(), None, "one admin paused voting alone");
    fails_with(&crew.command(ren).args(["approve", &id]).output().unwrap(), "SAME_PERSON");
    // Nor under a second certificate issued in their own name (with an accomplice's approval).
    let twin = crew.issue("Ren Admin", "admin", None).unwrap();
    crew.login(&twin).unwrap();
    fails_with(&crew.command(&twin).args(["approve", &id]).output().unwrap(), "SAME_PERSON");
    // A counting officer may not approve a pause.
    let counter = crew.counting_officer().unwrap();
    fails_with(&crew.command(&counter).args(["approve", &id]).output().unwrap(), "FORBIDDEN_ROLE");
    assert_eq!(store().pause_state().unwrap(), None);
    // The other admin approves it: voting pauses, under both names; a second approval is refused.
    let o = crew.command(mei).args(["approve", &id]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(store().pause_state().unwrap().is_some());
    fails_with(&crew.command(mei).args(["approve", &id]).output().unwrap(), "REQUEST_CLOSED");
    let entries = store().with(|c| verifier::store::audit::entries(c)).unwrap();
    let paused = entries.iter().find(|e| e.action == "voting_paused").unwrap();
    assert!(paused.actor.contains("Ren Admin") && paused.actor.contains("Mei Admin"), "{}", paused.actor);
    assert!(entries.iter().all(|e| !e.actor.contains("operator:cli")));

    // An export is requested by an admin and approved by a counting officer, not by another admin.
    let export_key = dir.path().join("export.key");
    assert!(Command::new(bin).args(["export-key", "generate", "--out"]).arg(&export_key).status().unwrap().success());
    let out = dir.path().join("tokyo.json");
    let asked = crew
        .run(&[
            "export",
            "--district",
            "tokyo",
            "--export-key",
            export_key.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .unwrap();
    let id = verifier::operators::crew::request_id(&asked).unwrap();
    fails_with(&crew.command(mei).args(["approve", &id]).output().unwrap(), "FORBIDDEN_ROLE");
    assert!(!out.exists());
    // (Voting is still open: the counting officer's approval is carried out and refused by the export itself.)
    let o = crew.command(&counter).args(["approve", &id]).output().unwrap();
    assert!(!o.status.success() && text(&o).contains("export only after the close"), "{}", text(&o));
    assert!(!out.exists());

    // A key that is not the certificate's, and a session token copied beside another key, are refused.
    let mut wrong = crew.command(ren);
    wrong.env("VERIFIER_OPERATOR_KEY", &mei.key).args(["resume"]);
    fails_with(&wrong.output().unwrap(), "OPERATOR_KEY_MISMATCH");
    std::fs::copy(
        verifier::operators::host::Credentials::session_file(&ren.key),
        verifier::operators::host::Credentials::session_file(&twin.key),
    )
    .unwrap();
    fails_with(&crew.command(&twin).args(["resume"]).output().unwrap(), "TOTP_REQUIRED");
    // A wrong code is refused, and five lock the certificate.
    for _ in 0..5 {
        fails_with(&crew.command(&twin).args(["login", "--totp", "000000"]).output().unwrap(), "TOTP");
    }
    let code = twin.totp_now().unwrap();
    fails_with(&crew.command(&twin).args(["login", "--totp", &code]).output().unwrap(), "TOTP_LOCKED");

    // The twin is revoked under four eyes; their live session stops at once.
    let list = crew.run(&["operators", "list"]).unwrap();
    let twin_line = list.lines().filter(|l| l.contains("Ren Admin")).nth(1).unwrap();
    let serial = twin_line.split("serial ").nth(1).unwrap().split(' ').next().unwrap();
    crew.four_eyes(&["operators", "revoke", serial]).unwrap();
    fails_with(&crew.command(&twin).args(["requests"]).output().unwrap(), "OPERATOR_REVOKED");
}
