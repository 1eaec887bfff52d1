//! The voting store's boundary (issue 24): the same behaviour on SQLite (the embedded default) and on PostgreSQL
//! (a throwaway cluster from `pg-lab`), two front-ends sharing one PostgreSQL store, and the failover attacker: under
//! cast load the primary is killed with SIGKILL and the synchronous standby promoted, and every receipt given is
//! then compared with the box. An emergency paper vote declared while the same person casts: one of the two wins.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use shared::crypto::ElectionPublicKey;
use support::casting::{Casting, Given, ct, sealed_box};
use verifier::store::pg::PgStore;
use verifier::store::{CastError, Db, VotingStore};

const KEY: &str = include_str!("../../shared/tests/data/test-election-key.pub.pem");
const BATCH: usize = 8;

fn key() -> ElectionPublicKey {
    ElectionPublicKey::from_pem(KEY).unwrap()
}

fn sqlite_store(dir: &std::path::Path) -> Db {
    let db = Db::open(&dir.join("v.sqlite")).unwrap();
    let mut e = verifier::demo::demo_election(Utc::now()).unwrap();
    e.id = shared::election::Id::new("e").unwrap();
    db.create_election(&e, &key(), "test", Utc::now()).unwrap();
    db
}

fn pg_store(conninfo: &str) -> PgStore {
    let store = PgStore::connect(conninfo, BATCH).unwrap();
    store.create_election("e", &key()).unwrap();
    store
}

/// What every backend must do: one ballot per voter per contest, a copy refused, marks equal to ballots.
fn behaves(store: &dyn VotingStore) {
    assert!(store.voted_contests("p", "e").unwrap().is_empty());
    let receipt = store.cast("p", "e", "tokyo", &ct(0, 0)).unwrap();
    assert_eq!(receipt, shared::crypto::tracker(&ct(0, 0)), "the receipt is the ballot's tracker");
    assert_eq!(store.voted_contests("p", "e").unwrap(), vec!["tokyo".to_string()]);
    assert!(matches!(store.cast("p", "e", "tokyo", &ct(0, 1)), Err(CastError::AlreadyVoted)));
    assert!(matches!(store.cast("q", "e", "tokyo", &ct(0, 0)), Err(CastError::Duplicate)));
    assert!(store.voted_contests("q", "e").unwrap().is_empty(), "a refused copy leaves no mark");
    store.cast("p", "e", "osaka", &ct(0, 2)).unwrap();
    for v in 1..(3 * BATCH + 1) {
        store.cast(&format!("v{v}"), "e", "tokyo", &ct(1, v)).unwrap();
    }
    let tokyo = 3 * BATCH as i64 + 1;
    assert_eq!(store.marks("e").unwrap(), vec![("osaka".into(), 1), ("tokyo".into(), tokyo)]);
    assert_eq!(store.ballot_counts("e").unwrap(), vec![("osaka".into(), 1), ("tokyo".into(), tokyo)]);
    store.seal("e").unwrap();
    assert!(matches!(store.cast("z", "e", "tokyo", &ct(2, 0)), Err(CastError::Sealed)));
    assert_eq!(store.ballot_counts("e").unwrap(), vec![("osaka".into(), 1), ("tokyo".into(), tokyo)]);
}

#[test]
fn sqlite_behaves() {
    let dir = tempfile::tempdir().unwrap();
    behaves(&sqlite_store(dir.path()));
}

#[test]
fn postgres_behaves() {
    let lab = pg_lab::Lab::single().unwrap();
    behaves(&pg_store(&lab.connection_string()));
}

/// Two front-ends on one PostgreSQL store, each voter's cast sent to both at once: exactly one is accepted per
/// voter, and marks equal ballots once both have sealed.
#[test]
fn two_front_ends_accept_one_ballot_per_voter() {
    let lab = pg_lab::Lab::single().unwrap();
    let fronts = [Arc::new(pg_store(&lab.connection_string())), Arc::new(pg_store(&lab.connection_string()))];
    let voters = 120;
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let front = Arc::clone(&fronts[t % 2]);
            std::thread::spawn(move || {
                (0..voters)
                    .filter(|v| v % 2 == t / 2)
                    .filter(|v| front.cast(&format!("p{v}"), None, "e", "tokyo", &ct(t, *v)).is_ok())
                    .count()
            })
        })
        .collect();
    let accepted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(accepted, voters, "each voter's two casts, sent to two front-ends at once: one accepted");
    for f in &fronts {
        f.seal("e").unwrap();
    }
    assert_eq!(fronts[0].marks("e").unwrap(), vec![("tokyo".into(), voters as i64)]);
    let (trackers, dropped) = fronts[0].box_contents("e").unwrap();
    assert_eq!(trackers.len(), voters);
    assert!(dropped.is_empty());
}

/// A copy of one ballot sent to another front-end while the first still holds it in its pool: both are receipted
/// (neither front-end can see the other's sealed pool), and the copy is dropped when it reaches the box, so that
/// the box never holds one ciphertext twice and a copy never counts.
#[test]
fn a_copy_held_by_another_front_end_is_dropped_at_the_box() {
    let lab = pg_lab::Lab::single().unwrap();
    let (a, b) = (pg_store(&lab.connection_string()), pg_store(&lab.connection_string()));
    a.cast("victim", None, "e", "tokyo", &ct(9, 9)).unwrap();
    b.cast("copier", None, "e", "tokyo", &ct(9, 9)).unwrap();
    a.seal("e").unwrap();
    b.seal("e").unwrap();
    let (trackers, dropped) = a.box_contents("e").unwrap();
    assert_eq!(trackers.len(), 1);
    assert_eq!(dropped, vec![("tokyo".to_string(), 1)]);
    assert_eq!(a.marks("e").unwrap(), vec![("tokyo".into(), 2)], "marks = ballots + copies dropped");
}

/// The attacker is a race at the embassy (R-VOTE-11): for each of 300 persons a clerk declares an emergency paper
/// vote at the very moment the person's ballot reaches a front-end. Exactly one of the two may win: a paper ballot
/// for someone whose online ballot was receipted is a double vote, and a receipt for someone refused paper is one
/// too. Then the losers are checked: no mark beside a declaration.
#[test]
fn an_emergency_declaration_and_a_cast_for_one_person_never_both_win() {
    const PERSONS: usize = 300;
    let lab = pg_lab::Lab::single().unwrap();
    let front = Arc::new(pg_store(&lab.connection_string()));
    let clerk = Arc::new(pg_store(&lab.connection_string()));
    let start = Arc::new(std::sync::Barrier::new(2));
    let casts = {
        let (front, start) = (Arc::clone(&front), Arc::clone(&start));
        std::thread::spawn(move || {
            start.wait();
            let threads: Vec<_> = (0..4)
                .map(|t| {
                    let front = Arc::clone(&front);
                    std::thread::spawn(move || {
                        (t..PERSONS)
                            .step_by(4)
                            .map(|p| (p, front.cast(&format!("p{p}"), None, "e", "tokyo", &ct(7, p))))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            threads.into_iter().flat_map(|t| t.join().unwrap()).collect::<Vec<_>>()
        })
    };
    start.wait();
    let declared: Vec<bool> = (0..PERSONS).map(|p| clerk.declare_emergency(&format!("p{p}"), "e").unwrap()).collect();
    let mut both = Vec::new();
    let (mut online, mut paper) = (0, 0);
    for (p, cast) in casts.join().unwrap() {
        match (&cast, declared[p]) {
            (Ok(_), true) => both.push(p),
            (Ok(_), false) => online += 1,
            (Err(CastError::EmergencyPaperVote), true) => paper += 1,
            (other, d) => panic!("person {p}: cast {other:?}, declared {d}"),
        }
    }
    eprintln!("{online} voted online first, {paper} declared paper first, {} both", both.len());
    assert!(both.is_empty(), "{} persons both voted online and were given paper: {both:?}", both.len());
    assert!(online > 0 && paper > 0, "the race was never run both ways: the test proved nothing");
    assert_eq!(front.marks("e").unwrap(), vec![("tokyo".into(), online as i64)]);
}

/// A pending registration completed by the roll during the election (R-REG-4): the person id changes, and an
/// emergency paper vote declared under the pending id must still refuse the person's online ballot, and a mark
/// must still count as voted.
#[test]
fn a_renamed_person_keeps_their_declaration_and_marks() {
    let lab = pg_lab::Lab::single().unwrap();
    let store = pg_store(&lab.connection_string());
    assert!(store.declare_emergency("13101:pending:1", "e").unwrap());
    store.cast("13101:pending:2", None, "e", "tokyo", &ct(8, 2)).unwrap();
    store.rename_person("13101:pending:1", "13101:0001").unwrap();
    store.rename_person("13101:pending:2", "13101:0002").unwrap();
    let paper = store.cast("13101:0001", None, "e", "tokyo", &ct(8, 1));
    assert!(matches!(paper, Err(CastError::EmergencyPaperVote)), "{paper:?}");
    let again = store.cast("13101:0002", None, "e", "tokyo", &ct(8, 3));
    assert!(matches!(again, Err(CastError::AlreadyVoted)), "{again:?}");
    assert_eq!(store.voted_contests("13101:0002", "e").unwrap(), vec!["tokyo".to_string()]);
}

/// A front-end that stops mid-election (a restart, a crash) takes its batch keys with it: its batches stay in the
/// pool unopened, the export's reading carries them, and the counting tool opens them with the election key (here
/// the committed INSECURE test key, as the HSM would). The other front-end votes on, and every receipt given by
/// either is a ballot the count gets.
#[test]
fn a_front_end_that_stops_leaves_its_batches_unopened_for_the_count() {
    let lab = pg_lab::Lab::single().unwrap();
    let (a, b) = (pg_store(&lab.connection_string()), pg_store(&lab.connection_string()));
    assert_eq!(b.rows_and_marks("e").unwrap(), (0, 0), "the zero-vote check's figures before the opening");
    let mut receipts = HashSet::new();
    for v in 0..(2 * BATCH + 3) {
        receipts.insert(a.cast(&format!("a{v}"), None, "e", "tokyo", &ct(1, v)).unwrap());
    }
    drop(a);
    for v in 0..(BATCH + 1) {
        receipts.insert(b.cast(&format!("b{v}"), None, "e", "tokyo", &ct(2, v)).unwrap());
    }
    assert!(!b.is_sealed("e").unwrap());
    b.seal("e").unwrap();
    assert!(b.is_sealed("e").unwrap());
    let (all, unopened) = b.contest_contents("e", "tokyo").unwrap();
    assert_eq!(
        unopened.iter().map(|u| u.entries.len()).sum::<usize>(),
        BATCH + 3,
        "the stopped front-end's held batches"
    );
    let all = support::opened("e", "tokyo", all, unopened);
    let counted: HashSet<String> = all.iter().map(|c| shared::crypto::tracker(c)).collect();
    assert_eq!(counted, receipts, "every receipt is a ballot the count gets, and nothing else is");
    assert_eq!(b.marks("e").unwrap(), vec![("tokyo".into(), receipts.len() as i64)]);
}

/// The attacker is a primary that stays down with no standby promoted: a cast must not hang, nor be receipted, nor
/// leave a trace. It is refused (`STORAGE_UNAVAILABLE`) once the store has tried for its time (here 1 s; 30 s in
/// `serve`), and once the standby is promoted the same voter casts again and is receipted: nothing was recorded.
#[test]
fn a_primary_that_stays_down_refuses_the_cast_and_records_nothing() {
    let mut lab = pg_lab::Lab::pair().unwrap();
    let store = Arc::new(pg_store(&lab.connection_string()).giving_up_after(Duration::from_secs(1)));
    store.cast("early", None, "e", "tokyo", &ct(5, 0)).unwrap();
    lab.kill_primary().unwrap();
    let (answer, answered) = std::sync::mpsc::channel();
    let caster = Arc::clone(&store);
    let since = Instant::now();
    std::thread::spawn(move || answer.send(caster.cast("voter", None, "e", "tokyo", &ct(5, 1))));
    let refused = answered.recv_timeout(Duration::from_secs(20)).expect("the cast came back within 20 s");
    println!("a cast with the primary down was answered after {:.2} s: {refused:?}", since.elapsed().as_secs_f64());
    assert!(matches!(refused, Err(CastError::Unavailable(_))), "{refused:?}");
    lab.promote_standby().unwrap();
    store.cast("voter", None, "e", "tokyo", &ct(5, 1)).expect("nothing was recorded: the voter casts again");
    assert_eq!(store.marks("e").unwrap(), vec![("tokyo".into(), 2)]);
}

/// The attacker is the machine room: under cast load from two front-ends the standby stalls, then the primary gets
/// SIGKILL with commits waiting, the standby is promoted, and the front-ends find it through the multi-host
/// connection string. Then every receipt given is compared with the box: none lost, no voter twice, marks equal to
/// ballots, and the outage measured.
#[test]
fn killing_the_primary_under_load_loses_no_receipted_ballot() {
    let mut lab = pg_lab::Lab::pair().unwrap();
    let conninfo = lab.connection_string();
    // Batches of 64: a front-end seldom moves a batch into the box (a commit of its own, which the kill may cut off
    // instead of a cast's).
    let front = || {
        let store = PgStore::connect(&conninfo, 64).unwrap();
        store.create_election("e", &key()).unwrap();
        Arc::new(store)
    };
    let fronts = [front(), front()];
    let start = Instant::now();
    let casting = Casting::start(&fronts, 4);
    casting.more(200);
    // The standby stalls first, so that the kill finds commits waiting for it: written on the primary, never
    // acknowledged, never receipted. Each front-end must ask the new primary about its cut-off commit.
    lab.freeze(1).unwrap();
    lab.wait_for_waiting_commits().unwrap();
    let killed = Instant::now();
    lab.kill_primary().unwrap();
    lab.thaw(1).unwrap();
    lab.promote_standby().unwrap();
    let promoted = Instant::now();
    // Voting resumes on the new primary: 200 more receipts.
    casting.more(200);
    let (given, refused) = casting.stop();
    let (in_box, dropped) = sealed_box(&fronts);
    let lost: Vec<&Given> = given.iter().filter(|g| !in_box.contains(&g.tracker)).collect();
    let before = given.iter().filter(|g| g.at < killed).count();
    let mut times: Vec<Instant> = given.iter().map(|g| g.at).collect();
    times.sort();
    // The outage: the longest time without a receipt, from any front-end.
    let outage = times.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    let (cut, held) = fronts.iter().map(|f| f.cut_off_commits()).fold((0, 0), |a, c| (a.0 + c.0, a.1 + c.1));
    let marks = fronts[0].marks("e").unwrap();
    println!(
        "failover timeline: {before} receipts before the kill at {:.2} s; standby promoted {:.2} s after the kill; \
         longest time without a receipt {:.2} s; {cut} commits cut off by the kill, {held} of them found committed \
         on the new primary; {} receipts in all, {} refused, {} in the box",
        (killed - start).as_secs_f64(),
        (promoted - killed).as_secs_f64(),
        outage.as_secs_f64(),
        given.len(),
        refused.len(),
        in_box.len()
    );
    assert!(before > 0, "no load before the kill");
    assert!(given.iter().any(|g| g.at > promoted), "no receipt after the promotion: voting did not resume");
    assert!(cut > 0, "no commit was cut off by the kill: the test did not reach the case it is for");
    assert!(lost.is_empty(), "{} receipted ballots are not in the box", lost.len());
    assert!(refused.is_empty(), "casts refused during the failover: {refused:?}");
    assert_eq!(in_box.len(), given.len(), "a ballot in the box that nobody was given a receipt for");
    assert_eq!(marks, vec![("tokyo".into(), given.len() as i64)], "marks equal ballots");
    assert!(dropped.is_empty());
}

/// A ballot-sized value no other file holds by chance: SHA-256 chained from the voter's number.
fn distinct_ct(v: usize) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut out = Vec::with_capacity(384);
    let mut block = Sha256::digest(format!("forensic ballot {v}")).to_vec();
    while out.len() < 384 {
        out.extend_from_slice(&block);
        block = Sha256::digest(&block).to_vec();
    }
    out.truncate(384);
    out
}

/// Every regular file under `dir` (data files, the WAL, the standby's received WAL), as a disk reader copies them.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => todo.push(path),
                Ok(t) if t.is_file() => {
                    if let Ok(bytes) = std::fs::read(&path) {
                        out.push((path, bytes));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

fn first(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// The disk reader on PostgreSQL (issue 24 part 5, issue 11's attacker): after 128 casts and the seal, every file
/// of the primary and of the synchronous standby, the WAL each wrote or received included, is read. The reader
/// pairs the i-th voter to appear in a file with the i-th ballot to appear in it, the order a log or a heap keeps.
/// Ballots reach the box only a batch at a time in random order, so the pairing is no better than chance
/// (about one right per batch of K); written in the order cast, it would be right every time.
#[test]
fn a_reader_of_the_primary_and_standby_files_cannot_pair_voters_with_ballots() {
    let lab = pg_lab::Lab::pair().unwrap();
    let k = 16;
    let store = PgStore::connect(&lab.connection_string(), k).unwrap();
    store.create_election("e", &key()).unwrap();
    let n = 8 * k;
    for v in 0..n {
        store.cast(&format!("person-{v:04}"), None, "e", "tokyo", &distinct_ct(v)).unwrap();
    }
    store.seal("e").unwrap();
    lab.psql(0, "CHECKPOINT").unwrap();
    let mut searched = 0;
    for dir in lab.data_dirs() {
        for (path, bytes) in files_under(&dir) {
            if first(&bytes, b"person-").is_none() {
                continue;
            }
            let people: Vec<Option<usize>> =
                (0..n).map(|v| first(&bytes, format!("person-{v:04}").as_bytes())).collect();
            let ballots: Vec<Option<usize>> = (0..n).map(|v| first(&bytes, &distinct_ct(v)[..32])).collect();
            let found = people.iter().zip(&ballots).filter(|(p, b)| p.is_some() && b.is_some()).count();
            if found < n / 2 {
                continue;
            }
            searched += 1;
            // The reader's pairing: voters and ballots each sorted by where they first appear.
            let mut by_person: Vec<usize> = (0..n).filter(|&v| people[v].is_some()).collect();
            by_person.sort_by_key(|&v| people[v]);
            let mut by_ballot: Vec<usize> = (0..n).filter(|&v| ballots[v].is_some()).collect();
            by_ballot.sort_by_key(|&v| ballots[v]);
            let right = by_person.iter().zip(&by_ballot).filter(|(p, b)| p == b).count();
            println!("{}: {found} voters and ballots found, {right} paired right", path.display());
            assert!(right <= n / 4, "{}: the reader pairs {right} of {n} voters with their ballots", path.display());
        }
    }
    assert!(
        searched >= 2,
        "the reader found the voters and ballots in {searched} files: the test did not look where they are"
    );
}
