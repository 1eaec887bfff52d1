//! The real `verifier` binary killed with SIGKILL five times while voters cast ballots (with a ballot-box batch of
//! 8, so that batches enter the box during the run): after the restarts every ballot that got a receipt is in the
//! box or in a batch the killed processes left unopened (opened here with the test election key, as the counting
//! tool does in the HSM), voted marks equal ballots in every contest, both stores pass `PRAGMA integrity_check`
//! and the audit chain is intact. The verifier's own log (RUST_LOG=debug) never has a line with both a voter and a
//! ballot. (Every crash point of the two-store protocol, one by one: cast_protocol.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use shared::crypto::ElectionPublicKey;
use shared::election::Election;
use support::serving::*;
use support::*;
use test_pki::TestAuthority;

const VOTERS: usize = 30;
const CONTESTS: [&str; 2] = ["tokyo", "national-pr"];

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
        let server = start(&db, &dir.path().join("ca"), &log, &["--ballot-box-batch", "8"]);
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
