//! The operator commands on the verifier host, through the real binary, as the host tests (operator_cli.rs,
//! operator_audit.rs) run them: each database's named operators (issue 21), a command run as its first admin (a
//! critical one approved by another person), and the demo election created with given dates.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};

use shared::election::Election;
use verifier::operators::crew::Crew;

use super::ELECTION_PUB;

/// The named operators of each database (issue 21): two admins bootstrapped beside it, logged in.
pub fn crew(db: &Path) -> Arc<Crew> {
    static CREWS: OnceLock<Mutex<HashMap<PathBuf, Arc<Crew>>>> = OnceLock::new();
    let mut crews = CREWS.get_or_init(Mutex::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    crews
        .entry(db.to_path_buf())
        .or_insert_with(|| {
            let dir = db.with_extension("operators");
            let bin = Path::new(env!("CARGO_BIN_EXE_verifier"));
            Arc::new(Crew::bootstrap(bin, db, &dir.join("ca"), &dir).unwrap())
        })
        .clone()
}

/// Runs a host command as the database's first admin; a critical one is approved by another person, and the
/// approval's output is returned.
pub fn verifier(args: &[&str], db: &Path) -> Output {
    if ["export", "pause", "resume"].contains(&args[0]) || args[..2] == ["election", "create"] {
        return crew(db).requested_and_approved(args).unwrap();
    }
    if ["zero-check", "record"].contains(&args[0]) {
        let crew = crew(db);
        return crew.command(&crew.admins[0]).args(args).output().unwrap();
    }
    // What changes nothing needs nobody.
    Command::new(env!("CARGO_BIN_EXE_verifier")).args(args).arg("--db").arg(db).output().unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes the demo election with given dates and creates it in a new database.
pub fn create(dir: &Path, name: &str, notice: &str, day: &str) -> std::path::PathBuf {
    create_as(dir, name, notice, day, true)
}

/// As [`create`], as a practice election or as a real one.
pub fn create_as(dir: &Path, name: &str, notice: &str, day: &str, practice: bool) -> std::path::PathBuf {
    let mut e: Election = toml::from_str(verifier::demo::DEMO_TOML).unwrap();
    e.practice = practice;
    e.notice_date = notice.parse().unwrap();
    e.election_day = day.parse().unwrap();
    let toml_path = dir.join(format!("{name}.toml"));
    std::fs::write(&toml_path, toml::to_string(&e).unwrap()).unwrap();
    let key = dir.join("election.pub.pem");
    std::fs::write(&key, ELECTION_PUB).unwrap();
    let db = dir.join(format!("{name}.sqlite"));
    let out =
        verifier(&["election", "create", toml_path.to_str().unwrap(), "--public-key", key.to_str().unwrap()], &db);
    assert!(out.status.success(), "{}", stderr(&out));
    db
}
