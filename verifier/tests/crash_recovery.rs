//! The real `verifier` binary killed with SIGKILL five times while voters cast ballots (with a ballot-box batch of
//! 8, so that batches enter the box during the run): after the restarts every ballot that got a receipt is in the
//! box or in a batch the killed processes left unopened (opened here with the test election key, as the counting
//! tool does in the HSM), voted marks equal ballots in every contest, both stores pass `PRAGMA integrity_check`
//! and the audit chain is intact. The verifier's own log (RUST_LOG=debug) never has a line with both a voter and a
//! ballot. (Every crash point of the two-store protocol, one by one: cast_protocol.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use shared::api::{CastReceipt, Challenge};
use shared::crypto::ElectionPublicKey;
use shared::election::{Choice, Election};
use support::*;
use test_pki::TestAuthority;

const VOTERS: usize = 30;
const CONTESTS: [&str; 2] = ["tokyo", "national-pr"];

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(db: &Path, trust: &Path, log: &Path) -> Server {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_verifier"))
        .args(["serve", "--listen", "127.0.0.1:0", "--public-origin", ORIGIN])
        .arg("--db")
        .arg(db)
        .arg("--trust-dir")
        .arg(trust)
        .args(["--ballot-box-batch", "8"])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("verifier: listening on ").expect("started").trim_end_matches('/').to_string();
    Server { child, base }
}

fn encrypt_for(e: &Election, key: &ElectionPublicKey, contest: &str, choice: Choice) -> Vec<u8> {
    let plain = shared::ballot::encode(e, e.contest(contest).unwrap(), &choice).unwrap();
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    shared::crypto::encrypt_ballot(&mut rng, key, e.id.as_str(), contest, &plain).unwrap()
}

/// Logs in and casts one contest; returns the tracker on a 201, None on any failure (e.g. the server died).
async fn vote(base: &str, v: &TestVoter, e: &Election, key: &ElectionPublicKey, contest: &str) -> Option<String> {
    let http = reqwest::Client::builder().cookie_store(true).timeout(Duration::from_secs(10)).build().ok()?;
    let c: Challenge = http.post(format!("{base}/api/v1/session/challenge")).send().await.ok()?.json().await.ok()?;
    let nonce = c.nonce.0;
    let r = http.post(format!("{base}/api/v1/session")).json(&login_body(v, &nonce, ORIGIN)).send().await.ok()?;
    if r.status() != 201 {
        return None;
    }
    let ct = encrypt_for(e, key, contest, Choice::Blank);
    let body = cast_body(v, e.id.as_str(), contest, &ct);
    let r = http.post(format!("{base}/api/v1/ballots")).json(&body).send().await.ok()?;
    if r.status() != 201 {
        return None;
    }
    let receipt: CastReceipt = r.json().await.ok()?;
    assert_eq!(receipt.tracker, shared::crypto::tracker(&ct));
    Some(receipt.tracker)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_five_times_under_load_loses_no_receipted_ballot() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestAuthority::init(&dir.path().join("ca")).unwrap();
    let voters: Vec<Arc<TestVoter>> = (0..VOTERS).map(|i| Arc::new(test_voter(&ca, i))).collect();
    let db = election_and_voters_through_the_real_commands(dir.path(), &voters);
    let (election, key) = verifier::store::Db::open(&db).unwrap().election().unwrap().unwrap();
    let (election, key) = (Arc::new(election), Arc::new(key));
    let log = dir.path().join("verifier.log");
    let mut pending: Vec<(usize, &str)> = (0..VOTERS).flat_map(|i| CONTESTS.iter().map(move |c| (i, *c))).collect();
    let mut receipts: Vec<String> = Vec::new();
    let mut interrupted = 0;
    for round in 0..5 {
        let server = start(&db, &dir.path().join("ca"), &log);
        let results = one_round_killed_under_load(server, round, &pending, &voters, &election, &key).await;
        for (i, contest, tracker) in results {
            if let Some(tracker) = tracker {
                receipts.push(tracker);
                pending.retain(|(j, c)| !(*j == i && *c == contest));
            } else {
                interrupted += 1;
            }
        }
    }
    eprintln!("{} ballots receipted, {interrupted} casts cut off by the kills", receipts.len());
    assert!(!receipts.is_empty(), "no ballot was accepted before the kills");
    assert!(interrupted > 0, "the kills never hit a cast in flight: the test proved nothing");
    let stored = every_receipted_ballot_survives_in_sound_stores(&db, &election, &receipts);
    no_log_line_joins_a_voter_to_a_ballot(&log, &voters, &stored);
}

/// Election and voters through the real commands: the election created by two admins, the roll imported.
/// Returns the database.
fn election_and_voters_through_the_real_commands(dir: &Path, voters: &[Arc<TestVoter>]) -> PathBuf {
    let key_file = dir.join("election.pub.pem");
    std::fs::write(&key_file, ELECTION_PUB).unwrap();
    let db = dir.join("verifier.sqlite");
    let toml_file = dir.join("election.toml");
    std::fs::write(&toml_file, verifier::demo::DEMO_TOML).unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_verifier"));
    let crew = verifier::operators::crew::Crew::bootstrap(bin, &db, &dir.join("operator-ca"), dir).unwrap();
    let (toml_s, key_s) = (toml_file.to_str().unwrap(), key_file.to_str().unwrap());
    crew.four_eyes(&["election", "create", toml_s, "--public-key", key_s, "--redate-for-demo"]).unwrap();
    let lines: String = voters
        .iter()
        .map(|v| {
            serde_json::json!({
                "person_id": v.person_id, "municipality": "13101", "districts": ["tokyo", "national"],
                "auth_certificates": [B64.encode(&v.card.auth_cert_der)],
                "sign_certificates": [B64.encode(&v.card.sign_cert_der)],
            })
            .to_string()
                + "\n"
        })
        .collect();
    let voters_file = dir.join("voters.jsonl");
    std::fs::write(&voters_file, lines).unwrap();
    let trust = dir.join("ca");
    crew.run(&["voters", "import", voters_file.to_str().unwrap(), "--trust-dir", trust.to_str().unwrap()]).unwrap();
    db
}

/// One round: casts start at once, and the server is killed with SIGKILL as soon as a few of them are receipted,
/// with the rest in flight. Returns every cast's outcome: (voter, contest, the tracker if receipted).
async fn one_round_killed_under_load(
    server: Server,
    round: usize,
    pending: &[(usize, &str)],
    voters: &[Arc<TestVoter>],
    election: &Arc<Election>,
    key: &Arc<ElectionPublicKey>,
) -> Vec<(usize, String, Option<String>)> {
    let base = server.base.clone();
    // The first round casts one contest for everyone and is killed late, so that batches enter the box; the
    // others are killed early, leaving their batches held.
    let (take, kill_after) = if round == 0 { (VOTERS, 20) } else { (20, 2 + round) };
    let batch: Vec<(usize, &str)> =
        pending.iter().filter(|(_, c)| round > 0 || *c == CONTESTS[0]).take(take).copied().collect();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (i, contest) in batch.iter().copied() {
        let (base, v, e, k, tx) = (base.clone(), voters[i].clone(), election.clone(), key.clone(), tx.clone());
        let contest = contest.to_string();
        tokio::spawn(async move {
            let tracker = vote(&base, &v, &e, &k, &contest).await;
            let _ = tx.send((i, contest, tracker));
        });
    }
    drop(tx);
    // SIGKILL the server as soon as a few casts of this round are receipted, with the rest in flight.
    let mut results = Vec::new();
    while let Some(r) = rx.recv().await {
        let done = r.2.is_some();
        results.push(r);
        if done && results.iter().filter(|r| r.2.is_some()).count() >= kill_after {
            break;
        }
    }
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    while let Some(r) = rx.recv().await {
        results.push(r);
    }
    results
}

/// Proves that after the last kill both files are sound, and that the verifier opens them as after a restart
/// (recovery) with every receipted ballot in the box or in an unopened batch, a vote mark for each ballot, and the
/// audit chain intact. Returns the trackers of every stored ballot.
fn every_receipted_ballot_survives_in_sound_stores(db: &Path, election: &Election, receipts: &[String]) -> Vec<String> {
    for file in [db.to_path_buf(), verifier::store::ballot_box_path(db)] {
        let conn = rusqlite::Connection::open(&file).unwrap();
        let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(integrity, "ok", "{}", file.display());
    }
    let store = verifier::store::Db::open(db).unwrap();
    let counts = store.ballot_box_counts(election.id.as_str()).unwrap();
    let in_box: u64 = counts.iter().map(|c| c.in_box).sum();
    let unopened: u64 = counts.iter().map(|c| c.unopened).sum();
    eprintln!("after the kills: {in_box} ballots in the box, {unopened} in unopened batches");
    assert!(in_box > 0 && unopened > 0, "both paths were taken: batches entered the box, and kills left some held");
    let mut stored: Vec<String> = Vec::new();
    for contest in CONTESTS {
        let marks: i64 = store
            .with(|c| {
                c.query_row(
                    "SELECT count(*) FROM voted WHERE contest_id = ?1 AND pending_group IS NULL",
                    [contest],
                    |r| r.get(0),
                )
            })
            .unwrap();
        let ballots = every_ballot(&store, election.id.as_str(), contest);
        assert_eq!(
            marks as usize,
            ballots.len(),
            "{contest}: every vote mark has its ballot and no ballot lacks its mark"
        );
        stored.extend(ballots.iter().map(|c| shared::crypto::tracker(c)));
    }
    for t in receipts {
        assert!(stored.contains(t), "a receipted ballot is missing after the kills: {t}");
    }
    assert!(stored.len() >= receipts.len());
    drop(store);
    let out = Command::new(env!("CARGO_BIN_EXE_verifier")).args(["audit", "verify", "--db"]).arg(db).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    stored
}

/// Proves that the verifier's own log (RUST_LOG=debug) has no line that names both a voter and a ballot, nor any
/// tracker.
fn no_log_line_joins_a_voter_to_a_ballot(log: &Path, voters: &[Arc<TestVoter>], stored: &[String]) {
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("verifier listening"));
    for line in log.lines() {
        let voter = voters.iter().any(|v| line.contains(&v.person_id));
        let ballot = stored.iter().any(|t| line.contains(t.as_str()));
        assert!(!(voter && ballot), "a log line joins a voter to a ballot: {line}");
        assert!(!stored.iter().any(|t| line.contains(t.as_str())), "a log line names a tracker: {line}");
    }
}
