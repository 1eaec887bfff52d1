//! Front-ends on one voting store (issue 24, part 3): two real `verifier serve` processes, each with its own
//! database (the roll, registration, the audit log) and both on one voting store on PostgreSQL (`--voting-store`, a
//! throwaway cluster from `pg-lab`), driven over HTTP as voters' browsers drive them. The attacker is the voter
//! who votes again through the other front-end; the clerk who hands a paper ballot to someone who voted online
//! is in `voting_store.rs` (the race); here the cast refused after a declaration. After the close the export, the
//! municipality's record and the zero-vote check read the voting store, and every receipt is a ballot counted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use shared::crypto::ElectionPublicKey;
use shared::election::Election;
use support::serving::*;
use support::*;
use test_pki::TestAuthority;
use verifier::store::{Db, DbOptions};

const VOTERS: usize = 12;

/// The roll and the election, made once through the real commands, and a copy of the database for the second
/// front-end (as `verifier backup` makes it).
struct Site {
    dir: tempfile::TempDir,
    voters: Vec<Arc<TestVoter>>,
    dbs: [PathBuf; 2],
    election: Election,
    key: ElectionPublicKey,
}

fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestAuthority::init(&dir.path().join("ca")).unwrap();
    let voters: Vec<Arc<TestVoter>> = (0..VOTERS).map(|i| Arc::new(test_voter(&ca, i))).collect();
    let a = election_and_voters_through_the_real_commands(dir.path(), &voters);
    let b = dir.path().join("front-end-b.sqlite");
    Db::backup(&a, &b).unwrap();
    let (election, key) = Db::open(&a).unwrap().election().unwrap().unwrap();
    Site { dir, voters, dbs: [a, b], election, key }
}

impl Site {
    fn serve(&self, front: usize, extra: &[&str]) -> Server {
        let log = self.dir.path().join(format!("front-end-{front}.log"));
        start(&self.dbs[front], &self.dir.path().join("ca"), &log, extra)
    }

    /// The database of front-end A with the voting store, opened as a command line tool opens it.
    fn tool(&self, conninfo: &str) -> Db {
        let options = DbOptions { voting_store: Some(conninfo.to_string()), ..Default::default() };
        Db::open_with(&self.dbs[0], options).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_front_ends_on_one_voting_store_take_one_ballot_per_voter() {
    let lab = pg_lab::Lab::single().unwrap();
    let conninfo = lab.connection_string();
    let s = site();
    let store = ["--voting-store", conninfo.as_str()];
    let fronts = [s.serve(0, &store), s.serve(1, &store)];
    let (e, key) = (&s.election, &s.key);
    let mut receipts = HashSet::new();
    for (i, v) in s.voters.iter().enumerate().take(VOTERS - 1) {
        let tracker = vote(&fronts[i % 2].base, v, e, key, "tokyo").await;
        receipts.insert(tracker.unwrap_or_else(|| panic!("voter {i} could not vote at front-end {}", i % 2)));
    }
    // The voter who voted at A tries again at B, and the one who voted at B tries at A.
    for (i, front) in [(0, 1), (1, 0)] {
        let http = browser();
        assert_eq!(log_in(&http, &fronts[front].base, &s.voters[i]).await, Some(201));
        let again = cast_at(&http, &fronts[front].base, &s.voters[i], e, key, "tokyo").await;
        assert_eq!(again, Err((409, "ALREADY_VOTED".into())), "voter {i}");
    }
    // The last voter declared an emergency paper vote at an embassy (R-VOTE-11): refused at either front-end.
    let last = &s.voters[VOTERS - 1];
    // The synchronous PostgreSQL client runs its own runtime: on a thread of its own, as `serve` runs it.
    off_runtime(|| {
        let tool = s.tool(&conninfo);
        let pg = tool.voting_store().expect("the tool opened the voting store");
        assert!(pg.declare_emergency(&last.person_id, e.id.as_str()).unwrap());
        assert!(!pg.declare_emergency(&s.voters[0].person_id, e.id.as_str()).unwrap(), "voter 0 voted online");
    });
    for front in &fronts {
        let http = browser();
        assert_eq!(log_in(&http, &front.base, last).await, Some(201));
        let cast = cast_at(&http, &front.base, last, e, key, "tokyo").await;
        assert_eq!(cast, Err((403, "EMERGENCY_PAPER_VOTE".into())));
    }
    drop(fronts);
    off_runtime(|| after_the_close_the_tools_read_the_voting_store(&s, &s.tool(&conninfo), &receipts));
}

/// Runs `f` on a thread outside the test's runtime.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| scope.spawn(f).join().unwrap())
}

/// The export, the municipality's record and the zero-vote check, run as the command line tools run them on
/// front-end A's database with the voting store: every receipt is a ballot counted, and the figures are the
/// voting store's (front-end A's own file holds no mark and no ballot).
fn after_the_close_the_tools_read_the_voting_store(s: &Site, tool: &Db, receipts: &HashSet<String>) {
    let (e, key) = (&s.election, &s.key);
    let before_opening = e.window().opens_at - chrono::Duration::minutes(1);
    let zero = verifier::ops::zero_check(tool, e, key, before_opening, None, "test");
    let refused = zero.expect_err("the zero-vote check reads the voting store's marks and ballots").to_string();
    assert!(refused.contains(&format!("{} marks", receipts.len())), "{refused}");
    let after_close = e.window().closes_at + chrono::Duration::minutes(1);
    let export_key = verifier::ops::ExportKey::ephemeral().unwrap();
    let file = verifier::ops::export(tool, e, key, &export_key, "tokyo", "test", after_close).unwrap();
    let exported = &file.ballots[0];
    let in_file = exported.ciphertexts.len() + exported.unopened.iter().map(|u| u.entries.len()).sum::<usize>();
    assert_eq!(in_file, receipts.len(), "the export holds every receipted ballot");
    let pg = tool.voting_store().unwrap();
    let (cts, unopened) = pg.contest_contents(e.id.as_str(), "tokyo").unwrap();
    let counted: HashSet<String> =
        opened(e.id.as_str(), "tokyo", cts, unopened).iter().map(|c| shared::crypto::tracker(c)).collect();
    assert_eq!(&counted, receipts, "every receipt is a ballot the count gets, and nothing else is");
    let clerk = support::registration::op(verifier::operators::Role::Clerk, Some("13101"), "clerk");
    let record = verifier::registration::record(tool, &clerk, e, "13101", after_close).unwrap();
    assert_eq!(record.voters.len(), receipts.len(), "the record lists every voter who voted online");
    let tokyo = record.voters_per_contest.iter().find(|(c, _)| c == "tokyo").unwrap().1;
    assert_eq!(tokyo, receipts.len() as i64);
    let local_marks: i64 = tool.with(|c| c.query_row("SELECT count(*) FROM voted", [], |r| r.get(0))).unwrap();
    assert_eq!(local_marks, 0, "front-end A's own file holds no mark");
}
