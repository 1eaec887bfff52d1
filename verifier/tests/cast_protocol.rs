//! Every crash point of the two-store cast protocol (verifier/src/store/mod.rs, module notes), in a real process: the
//! test runs itself as a child that casts from four threads into a voter store and its ballot box on disk, with a
//! fault hook that aborts the process (SIGABRT, no clean-up, as `kill -9`) the n-th time it reaches a step. The
//! parent then opens the files as a restarted verifier would and checks, per contest, that:
//! - marks equal ballots (in the box, or in batches the dead process left unopened, opened here with the test
//!   election key as the counting tool does in the HSM), and no ciphertext is there twice;
//! - every ballot whose receipt the child handed out (written to a file before the abort) is there;
//! - a voter without a receipt either has a mark and a ballot, or neither and can vote again; nobody twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Utc;
use shared::crypto::ElectionPublicKey;
use support::*;
use verifier::store::{CastError, Db, DbOptions, Faults, Step};

const VOTERS: usize = 24;
const CONTESTS: [&str; 2] = ["tokyo", "national-pr"];
const CHILD: &str = "CAST_PROTOCOL_CHILD";
const TEST: &str = "a_crash_at_every_step_of_a_cast_loses_no_receipted_ballot_and_doubles_no_vote";

/// A distinct stand-in ciphertext per (voter, contest, attempt): the protocol does not decrypt.
fn ciphertext(voter: usize, contest: usize, attempt: u8) -> Vec<u8> {
    let mut c = vec![attempt; 384];
    c[..16].copy_from_slice(&[(voter as u64).to_be_bytes(), (contest as u64).to_be_bytes()].concat());
    c
}

fn options(faults: Faults) -> DbOptions {
    DbOptions { ballot_box_batch: 8, faults, ..Default::default() }
}

/// The child: casts every voter's two contests from four threads, writing each receipt before the next cast; the
/// hook aborts the process the `hit`-th time `step` is reached.
fn child(dir: &Path, step: &str, hit: usize) {
    let seen = Arc::new(AtomicUsize::new(0));
    let step = step.to_string();
    let faults = Faults::new(move |s| {
        if format!("{s:?}") == step && seen.fetch_add(1, Ordering::SeqCst) + 1 == hit {
            std::process::abort();
        }
    });
    let db = Arc::new(Db::open_with(&dir.join("verifier.sqlite"), options(faults)).unwrap());
    let receipts = Arc::new(std::sync::Mutex::new(
        std::fs::OpenOptions::new().create(true).append(true).open(dir.join("receipts")).unwrap(),
    ));
    let (election, _) = db.election().unwrap().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (db, receipts, election) = (db.clone(), receipts.clone(), election.id.to_string());
            std::thread::spawn(move || {
                for v in (0..VOTERS).filter(|v| v % 4 == t) {
                    for (c, contest) in CONTESTS.iter().enumerate() {
                        match db.cast(&format!("p{v}"), &election, contest, &ciphertext(v, c, 0)) {
                            Ok(tracker) => {
                                let mut f = receipts.lock().unwrap();
                                writeln!(f, "{tracker}").unwrap();
                                f.sync_all().unwrap();
                            }
                            Err(CastError::AlreadyVoted) => {}
                            Err(e) => panic!("cast failed: {e}"),
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

fn run_child(dir: &Path, step: &str, hit: usize) -> std::process::ExitStatus {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST, "--nocapture", "--test-threads", "1"])
        .env(CHILD, format!("{}|{step}|{hit}", dir.display()))
        .output()
        .unwrap()
        .status
}

/// Opens the files as a restarted verifier and checks every invariant; then the voters without a receipt vote.
fn check(dir: &Path, what: &str) {
    let db = Db::open_with(&dir.join("verifier.sqlite"), options(Faults::default())).unwrap();
    let (election, _) = db.election().unwrap().unwrap();
    let eid = election.id.as_str();
    let receipts: HashSet<String> =
        std::fs::read_to_string(dir.join("receipts")).unwrap_or_default().lines().map(String::from).collect();
    let mark = |v: usize, contest: &str| -> bool {
        db.with(|c| {
            c.query_row(
                "SELECT count(*) FROM voted WHERE person_id = ?1 AND contest_id = ?2",
                [format!("p{v}").as_str(), contest],
                |r| r.get::<_, i64>(0),
            )
        })
        .unwrap()
            == 1
    };
    let pending: i64 = db
        .with(|c| c.query_row("SELECT count(*) FROM voted WHERE pending_group IS NOT NULL", [], |r| r.get(0)))
        .unwrap();
    assert_eq!(pending, 0, "{what}: recovery left a pending mark");
    for (c, contest) in CONTESTS.iter().enumerate() {
        let ballots = every_ballot(&db, eid, contest);
        let trackers: HashSet<String> = ballots.iter().map(|b| shared::crypto::tracker(b)).collect();
        assert_eq!(trackers.len(), ballots.len(), "{what}: {contest}: a ciphertext is there twice");
        let marked = (0..VOTERS).filter(|v| mark(*v, contest)).count();
        assert_eq!(marked, ballots.len(), "{what}: {contest}: marks and ballots differ");
        for v in 0..VOTERS {
            let t = shared::crypto::tracker(&ciphertext(v, c, 0));
            if receipts.contains(&t) {
                assert!(trackers.contains(&t), "{what}: {contest}: the receipted ballot of p{v} is lost");
            }
            // With a mark, the ballot is this voter's; without, nothing of theirs is there.
            assert_eq!(mark(v, contest), trackers.contains(&t), "{what}: {contest}: p{v}'s mark and ballot disagree");
        }
    }
    // Everyone votes (again): those with a mark are refused, the others are accepted, once.
    for (c, contest) in CONTESTS.iter().enumerate() {
        for v in 0..VOTERS {
            let had = mark(v, contest);
            match db.cast(&format!("p{v}"), eid, contest, &ciphertext(v, c, 1)) {
                Ok(_) => assert!(!had, "{what}: p{v} voted twice in {contest}"),
                Err(CastError::AlreadyVoted) => assert!(had, "{what}: p{v} was refused without a mark"),
                Err(e) => panic!("{what}: {e}"),
            }
        }
    }
    // Sealed (this process's batches enter the box): one ballot per voter and contest.
    db.seal(eid).unwrap();
    for contest in CONTESTS {
        assert_eq!(every_ballot(&db, eid, contest).len(), VOTERS, "{what}: {contest}: one ballot per voter");
    }
}

fn fresh(root: &Path, name: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir(&dir).unwrap();
    let db = Db::open(&dir.join("verifier.sqlite")).unwrap();
    let e = verifier::demo::demo_election(Utc::now()).unwrap();
    db.create_election(&e, &ElectionPublicKey::from_pem(ELECTION_PUB).unwrap(), "test", Utc::now()).unwrap();
    dir
}

#[test]
fn a_crash_at_every_step_of_a_cast_loses_no_receipted_ballot_and_doubles_no_vote() {
    if let Ok(args) = std::env::var(CHILD) {
        let mut parts = args.split('|');
        let (dir, step, hit) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        child(Path::new(dir), step, hit.parse().unwrap());
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let mut scenarios = 0;
    // At least 12 groups (48 casts from 4 threads) and 2 batches moved (24 casts per contest, batches of 8).
    let hits = |step: Step| if step == Step::BatchMoved { vec![1, 2] } else { vec![1, 4, 9] };
    for step in [Step::MarksWritten, Step::BallotsWritten, Step::Answered, Step::BatchMoved] {
        for hit in hits(step) {
            let name = format!("{step:?}-{hit}");
            let dir = fresh(root.path(), &name);
            let status = run_child(&dir, &format!("{step:?}"), hit);
            assert_eq!(status.signal(), Some(6), "{name}: the child was to abort there, but {status}");
            check(&dir, &name);
            scenarios += 1;
        }
    }
    // A crash during recovery itself: after the marks are resolved, before the box forgets the groups.
    let dir = fresh(root.path(), "recovery");
    assert_eq!(run_child(&dir, "BallotsWritten", 5).signal(), Some(6));
    assert_eq!(run_child(&dir, "MarksResolved", 1).signal(), Some(6), "recovery ran at open");
    check(&dir, "recovery");
    eprintln!("{} crash scenarios recovered", scenarios + 1);
}
