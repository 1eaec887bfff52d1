#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The loudly named demo mode: `--insecure-file-key` generates and uses a key file instead of an HSM. It must
//! warn on every use, say so in the record and the report, and count exactly like the token paths.

mod common;

use std::process::{Command, Output};

use shared::crypto::ElectionPublicKey;

fn tally(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tally")).args(args).env_remove("TALLY_SO_PIN").output().unwrap()
}

#[test]
fn demo_ceremony_and_count_with_an_insecure_file_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = |x: &str| dir.path().join(x).to_str().unwrap().to_string();
    let out = tally(&[
        "key-ceremony",
        "--insecure-file-key",
        &p("INSECURE-election-key.pem"),
        "--election-id",
        "hoc-2028",
        "--official",
        "Demo",
        "--token-label",
        "none",
        "--out",
        &p("ceremony"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("INSECURE FILE KEY"));
    let (record, _) = tally::ceremony::read_record(&dir.path().join("ceremony/ceremony.json")).unwrap();
    assert_eq!(record.module, tally::ceremony::INSECURE_MODULE);
    let pem = std::fs::read_to_string(dir.path().join("ceremony/election-public-key.pem")).unwrap();
    let key = ElectionPublicKey::from_pem(&pem).unwrap();

    let contests = common::encrypt_all(&key, &pem);
    let (file, export_pub) = common::export(dir.path(), &key, &contests);
    std::fs::write(p("export.json"), serde_json::to_vec(&file).unwrap()).unwrap();
    std::fs::write(p("election.json"), common::ELECTION_JSON).unwrap();
    let out = tally(&[
        "count",
        &p("export.json"),
        "--election",
        &p("election.json"),
        "--ceremony",
        &p("ceremony/ceremony.json"),
        "--export-key-public",
        &export_pub,
        "--expected-count",
        "8",
        "--insecure-file-key",
        &p("INSECURE-election-key.pem"),
        "--out",
        &p("results"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("INSECURE FILE KEY"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("INSECURE FILE KEY"));
    let report: tally::count::TallyReport =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results/result.json")).unwrap()).unwrap();
    assert_eq!(report.decrypt_path, tally::hsm::DecryptPath::InsecureFileKey);
    common::assert_expected_totals(&report);

    // Never the default: without a module, shares or the flag, count refuses to start.
    let out = tally(&[
        "count",
        &p("export.json"),
        "--election",
        &p("election.json"),
        "--ceremony",
        &p("ceremony/ceremony.json"),
        "--export-key-public",
        &export_pub,
        "--expected-count",
        "8",
        "--out",
        &p("results2"),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--module"), "{}", String::from_utf8_lossy(&out.stderr));
}
