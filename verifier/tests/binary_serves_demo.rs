//! The real `verifier` binary on port 0 serves the demo election and stops on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_serves_time_and_election_on_a_free_port() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_verifier"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("verifier: listening on ").expect("the binary prints its address").to_string();

    let election: shared::api::ElectionSummary =
        reqwest::get(format!("{base}api/v1/elections/current")).await.unwrap().json().await.unwrap();
    assert_eq!(election.name.ja, "模擬選挙（練習用）参議院議員通常選挙");
    let time: shared::api::TimeResponse =
        reqwest::get(format!("{base}api/v1/time")).await.unwrap().json().await.unwrap();
    assert_eq!(time.jst.offset().local_minus_utc(), 9 * 3600);
    drop(running);
}

#[test]
fn election_check_reports_a_bad_definition_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, verifier::demo::DEMO_TOML.replace("id = \"tokyo\"", "id = \"Tokyo!\"")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_verifier")).args(["election", "check"]).arg(&path).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a valid election") && err.contains("Tokyo!"), "{err}");

    std::fs::write(&path, verifier::demo::DEMO_TOML).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_verifier")).args(["election", "check"]).arg(&path).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2026-07-03 08:30:00 JST") && text.contains("2026-07-18 20:00:00 JST"), "{text}");
}
