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
/// Voters of the failover under load, each casting both contests.
const LOAD_VOTERS: usize = 40;

/// The roll and the election, made once through the real commands, and a copy of the database for the second
/// front-end (as `verifier backup` makes it).
struct Site {
    dir: tempfile::TempDir,
    voters: Vec<Arc<TestVoter>>,
    dbs: [PathBuf; 2],
    election: Election,
    key: ElectionPublicKey,
}

fn site(n: usize) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestAuthority::init(&dir.path().join("ca")).unwrap();
    let voters: Vec<Arc<TestVoter>> = (0..n).map(|i| Arc::new(test_voter(&ca, i))).collect();
    let a = election_and_voters_through_the_real_commands(dir.path(), &voters);
    let b = dir.path().join("front-end-b.sqlite");
    Db::backup(&a, &b).unwrap();
    let (election, key) = Db::open(&a).unwrap().election().unwrap().unwrap();
    Site { dir, voters, dbs: [a, b], election, key }
}

impl Site {
    /// Starts front-end `front` (a ballot-box batch of 8, so that batches enter the box during a test).
    fn serve(&self, front: usize, extra: &[&str]) -> Server {
        let log = self.dir.path().join(format!("front-end-{front}.log"));
        start(&self.dbs[front], &self.dir.path().join("ca"), &log, &[&["--ballot-box-batch", "8"], extra].concat())
    }

    /// The session key file the front-ends share (`--session-key-file`): 64 hex characters, owner-only.
    fn session_key(&self) -> PathBuf {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).unwrap();
        let file = self.dir.path().join("session.key");
        std::fs::write(&file, hex::encode(key)).unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        file
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
    let s = site(VOTERS);
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

/// One cast of the failover under load: who, which contest, and when its receipt came (if it did).
struct Outcome {
    voter: usize,
    contest: &'static str,
    receipt: Result<(std::time::Instant, String), (u16, String)>,
}

/// The attacker is the machine room, over HTTP (issue 24, part 4): voters cast both contests through two real
/// `verifier serve` processes; the synchronous standby stalls, the primary gets SIGKILL with commits waiting, the
/// standby is promoted, and the front-ends find it through the multi-host connection string. No voter's browser
/// retries: every cast must be receipted, every receipt must be a ballot in the box, and marks equal ballots. The
/// timeline is printed (`cargo xtask failover`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_primary_under_http_load_loses_no_receipted_ballot() {
    let lab = pg_lab::Lab::pair().unwrap();
    let (load, _lab) = load_through(lab, |lab| {
        // The standby stalls first, so that the kill finds commits waiting for it: written on the primary, never
        // acknowledged, never receipted.
        lab.freeze(1).unwrap();
        lab.wait_for_waiting_commits().unwrap();
        let killed = std::time::Instant::now();
        lab.kill_primary().unwrap();
        lab.thaw(1).unwrap();
        lab.promote_standby().unwrap();
        killed
    })
    .await;
    load.every_cast_receipted_and_counted("HTTP failover", "the kill", "standby promoted");
}

/// Planned maintenance of the primary's machine under HTTP load (the README's run book): the primary stops
/// cleanly, the standby is promoted, and the old primary rejoins as its synchronous standby. No cast fails, every
/// receipt is a ballot counted, and commits are synchronous again afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_planned_switchover_under_http_load_fails_no_cast_and_stays_synchronous() {
    let lab = pg_lab::Lab::pair().unwrap();
    let (load, lab) = load_through(lab, |lab| {
        let began = std::time::Instant::now();
        lab.switchover().unwrap();
        began
    })
    .await;
    load.every_cast_receipted_and_counted(
        "Planned switchover",
        "the primary's stop",
        "old primary rejoined as standby",
    );
    let state = off_runtime(|| lab.standby_state().unwrap());
    assert_eq!(state, "sync", "after the switchover commits wait for the standby again (RPO 0)");
}

/// The casts of a load driven through two front-ends, and the event on the lab meanwhile.
struct Load {
    site: Arc<Site>,
    conninfo: String,
    outcomes: Vec<Outcome>,
    start: std::time::Instant,
    began: std::time::Instant,
    ended: std::time::Instant,
}

/// Starts two front-ends on the lab's store (sharing a session key, so their spent tags are there too), logs [`LOAD_VOTERS`] voters in (half at each) and has each cast both
/// contests; once half the voters' first casts are answered, `event` runs on the lab (returning when it began) while
/// the rest are under way. Returns the outcomes, and the lab.
async fn load_through(
    mut lab: pg_lab::Lab,
    event: impl FnOnce(&mut pg_lab::Lab) -> std::time::Instant + Send,
) -> (Load, pg_lab::Lab) {
    let conninfo = lab.connection_string();
    let s = Arc::new(site(LOAD_VOTERS));
    let key_file = s.session_key();
    let store = ["--voting-store", conninfo.as_str(), "--session-key-file", key_file.to_str().unwrap()];
    let fronts = [s.serve(0, &store), s.serve(1, &store)];
    let start = std::time::Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (i, v) in s.voters.iter().enumerate() {
        let (base, v, s, tx) = (fronts[i % 2].base.clone(), Arc::clone(v), Arc::clone(&s), tx.clone());
        tokio::spawn(async move {
            let http = browser();
            assert_eq!(log_in(&http, &base, &v).await, Some(201), "voter {i} logs in");
            for contest in ["tokyo", "national-pr"] {
                let cast = cast_at(&http, &base, &v, &s.election, &s.key, contest).await;
                let receipt = cast.map(|t| (std::time::Instant::now(), t));
                let _ = tx.send(Outcome { voter: i, contest, receipt });
            }
        });
    }
    drop(tx);
    let mut outcomes = Vec::new();
    while outcomes.len() < LOAD_VOTERS / 2 {
        outcomes.push(rx.recv().await.unwrap());
    }
    let (began, ended) = off_runtime(|| (event(&mut lab), std::time::Instant::now()));
    while let Some(o) = rx.recv().await {
        outcomes.push(o);
    }
    drop(fronts);
    (Load { site: s, conninfo, outcomes, start, began, ended }, lab)
}

impl Load {
    /// Prints the timeline, and checks that no cast was refused, voting went on after the event, every voter
    /// has one mark per contest, and the ballots counted are exactly the receipts.
    fn every_cast_receipted_and_counted(&self, name: &str, event: &str, done: &str) {
        let refused: Vec<String> = self
            .outcomes
            .iter()
            .filter_map(|o| o.receipt.as_ref().err().map(|e| format!("voter {} {}: {e:?}", o.voter, o.contest)))
            .collect();
        let mut times: Vec<std::time::Instant> =
            self.outcomes.iter().filter_map(|o| o.receipt.as_ref().ok()).map(|r| r.0).collect();
        times.sort();
        let outage = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or_default();
        let before = times.iter().filter(|t| **t < self.began).count();
        println!(
            "{name} timeline: {before} receipts before {event} at {:.2} s; {done} {:.2} s after it; longest time \
             without a receipt {:.2} s; {} receipts in all, {} casts refused",
            (self.began - self.start).as_secs_f64(),
            (self.ended - self.began).as_secs_f64(),
            outage.as_secs_f64(),
            times.len(),
            refused.len()
        );
        assert!(refused.is_empty(), "casts refused through {event}: {refused:?}");
        assert!(times.iter().any(|t| *t > self.ended), "no receipt after {done}: voting did not resume");
        let e = self.site.election.id.as_str();
        off_runtime(|| {
            let store = verifier::store::pg::PgStore::connect(&self.conninfo, 8).unwrap();
            store.seal(e).unwrap();
            let n = LOAD_VOTERS as i64;
            assert_eq!(store.marks(e).unwrap(), vec![("national-pr".into(), n), ("tokyo".into(), n)]);
            for contest in ["tokyo", "national-pr"] {
                let given: HashSet<String> = self
                    .outcomes
                    .iter()
                    .filter(|o| o.contest == contest)
                    .filter_map(|o| o.receipt.as_ref().ok().map(|r| r.1.clone()))
                    .collect();
                let (cts, unopened) = store.contest_contents(e, contest).unwrap();
                let counted: HashSet<String> =
                    opened(e, contest, cts, unopened).iter().map(|c| shared::crypto::tracker(c)).collect();
                assert_eq!(counted, given, "{contest}: every receipt is a ballot counted, and nothing else is");
            }
        });
    }
}

/// A cast of the restart test: who, which contest, the first attempt's outcome, and the retry's at the other
/// front-end if the first could not reach its front-end (a load balancer's retry, with the same signed body).
struct Attempts {
    voter: usize,
    contest: &'static str,
    first: Result<String, (u16, String)>,
    retry: Option<Result<String, (u16, String)>>,
}

/// Casts with the browser at its front-end, and once more with the same signed body at the other front-end if the
/// first attempt got no answer (its front-end was stopping, or down).
async fn cast_or_retry(
    http: &reqwest::Client,
    bases: [&str; 2],
    v: &TestVoter,
    s: &Site,
    contest: &'static str,
    voter: usize,
) -> Attempts {
    let signed = signed_cast(v, &s.election, &s.key, contest);
    let first = send_cast(http, bases[0], &signed).await;
    let retry = match &first {
        Err((0, _)) => Some(send_cast(http, bases[1], &signed).await),
        _ => None,
    };
    Attempts { voter, contest, first, retry }
}

/// The attacker is maintenance under load (issue 24, part 3): two front-ends share the session key and the voting
/// store; voters are logged in at both and casting when front-end A is stopped (SIGTERM) and started again on its
/// port. A cast that cannot reach A is sent again, the same signed body, to B, as a load balancer does. No cast may
/// fail beyond those in flight at the stop, a retry never votes twice, and after the restart A takes the second
/// contest's casts on the sessions it issued before it: a restart logs no one out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restarting_a_front_end_under_load_logs_no_one_out_and_fails_no_cast() {
    let lab = pg_lab::Lab::single().unwrap();
    let conninfo = lab.connection_string();
    let s = Arc::new(site(LOAD_VOTERS));
    let key_file = s.session_key();
    let shared = ["--voting-store", conninfo.as_str(), "--session-key-file", key_file.to_str().unwrap()];
    let mut fronts = [s.serve(0, &shared), s.serve(1, &shared)];
    let bases = [fronts[0].base.clone(), fronts[1].base.clone()];
    let browsers: Vec<reqwest::Client> = (0..LOAD_VOTERS).map(|_| browser()).collect();
    for (i, v) in s.voters.iter().enumerate() {
        assert_eq!(log_in(&browsers[i], &bases[i % 2], v).await, Some(201), "voter {i} logs in");
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for (i, v) in s.voters.iter().enumerate() {
        let (http, bases, v, s, tx) = (browsers[i].clone(), bases.clone(), Arc::clone(v), Arc::clone(&s), tx.clone());
        tokio::spawn(async move {
            // Casts arrive one every 30 ms: before the stop, while A finishes, and while it is down.
            tokio::time::sleep(std::time::Duration::from_millis(30 * i as u64)).await;
            let order = [bases[i % 2].as_str(), bases[(i + 1) % 2].as_str()];
            let _ = tx.send(cast_or_retry(&http, order, &v, &s, "tokyo", i).await);
        });
    }
    drop(tx);
    let mut attempts = Vec::new();
    while attempts.len() < LOAD_VOTERS / 4 {
        attempts.push(rx.recv().await.unwrap());
    }
    // Maintenance: A stops (SIGTERM: it finishes what it has in hand) and starts again on its port.
    let stopped = std::process::Command::new("kill").args(["-TERM", &fronts[0].child.id().to_string()]).status();
    assert!(stopped.unwrap().success());
    assert!(off_runtime(|| fronts[0].child.wait()).unwrap().success(), "front-end A stopped cleanly");
    while let Some(a) = rx.recv().await {
        attempts.push(a);
    }
    let listen = bases[0].trim_start_matches("http://").to_string();
    let log = s.dir.path().join("front-end-0.log");
    let again = [&["--ballot-box-batch", "8"], &shared[..]].concat();
    fronts[0] = start_on(&s.dbs[0], &s.dir.path().join("ca"), &log, &listen, &again);
    for (i, v) in s.voters.iter().enumerate() {
        let order = [bases[i % 2].as_str(), bases[(i + 1) % 2].as_str()];
        attempts.push(cast_or_retry(&browsers[i], order, v, &s, "national-pr", i).await);
    }
    drop(fronts);
    every_cast_counted_once_none_failed_beyond_those_in_flight(&s, &lab, &attempts);
}

/// No cast failed but those in flight at the stop, whose retry at the other front-end was receipted or found the
/// first attempt's ballot (409 ALREADY_VOTED); every voter has one mark per contest, and every receipt is a ballot
/// counted.
fn every_cast_counted_once_none_failed_beyond_those_in_flight(s: &Site, lab: &pg_lab::Lab, attempts: &[Attempts]) {
    let in_flight = attempts.iter().filter(|a| a.retry.is_some()).count();
    let failed: Vec<String> = attempts
        .iter()
        .filter(|a| match (&a.first, &a.retry) {
            (Ok(_), None) => false,
            (Err((0, _)), Some(Ok(_))) => false,
            (Err((0, _)), Some(Err((409, code)))) => code != "ALREADY_VOTED",
            _ => true,
        })
        .map(|a| format!("voter {} {}: {:?} then {:?}", a.voter, a.contest, a.first, a.retry))
        .collect();
    println!(
        "front-end restart: {} casts, {in_flight} got no answer from the stopping front-end and were sent to the other",
        attempts.len()
    );
    assert!(failed.is_empty(), "casts failed beyond those in flight: {failed:?}");
    assert_eq!(
        attempts.iter().filter(|a| a.contest == "national-pr" && a.first.is_ok()).count(),
        LOAD_VOTERS,
        "after the restart every session of before it casts at its own front-end"
    );
    let e = s.election.id.as_str();
    off_runtime(|| {
        let store = verifier::store::pg::PgStore::connect(&lab.connection_string(), 8).unwrap();
        store.seal(e).unwrap();
        let n = LOAD_VOTERS as i64;
        assert_eq!(
            store.marks(e).unwrap(),
            vec![("national-pr".into(), n), ("tokyo".into(), n)],
            "one mark per voter and contest"
        );
        for contest in ["tokyo", "national-pr"] {
            let (cts, unopened) = store.contest_contents(e, contest).unwrap();
            let counted: HashSet<String> =
                opened(e, contest, cts, unopened).iter().map(|c| shared::crypto::tracker(c)).collect();
            assert_eq!(counted.len(), LOAD_VOTERS, "{contest}: one ballot per voter");
            for a in attempts.iter().filter(|a| a.contest == contest) {
                for t in a.first.iter().chain(a.retry.iter().flatten()) {
                    assert!(counted.contains(t), "{contest}: a receipt is not a ballot counted");
                }
            }
        }
    });
}
