//! Faults the verifier must survive without losing or half-writing a ballot (issue: benchmarks, load, faults):
//! a full disk (the voter store's or the ballot box's) is a clear 503 with a code and the voter stays able to vote
//! once space returns; an online backup taken while voters cast is a consistent pair of copies (voter store and
//! ballot box) that passes the audit-chain check and whose voted marks equal its ballots. (kill -9 under load: crash_recovery.rs; 100 simultaneous casts: voting.rs; SMTP down:
//! notify_smtp.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use shared::election::Choice;
use support::*;
use verifier::store::Db;
use warp::http::StatusCode;

/// Marks and ballots (in the box or in unopened batches) of the fixture's election.
fn counts(db: &Db) -> (i64, i64) {
    let (election, _) = db.election().unwrap().unwrap();
    let voted: i64 = db
        .with(|c| {
            c.query_row("SELECT COUNT(*) FROM voted WHERE election_id = ?1", [election.id.as_str()], |r| r.get(0))
        })
        .unwrap();
    let ballots: i64 = db.ballot_counts(election.id.as_str()).unwrap().iter().map(|(_, n)| n).sum();
    (voted, ballots)
}

#[tokio::test]
async fn a_full_voter_store_is_a_clear_503_and_nothing_is_half_written() {
    full_disk(false).await;
}

/// The ballot box's file fills after the voter store committed the marks: they are removed, nothing stays.
#[tokio::test]
async fn a_full_ballot_box_is_a_clear_503_and_nothing_is_half_written() {
    full_disk(true).await;
}

async fn full_disk(ballot_box: bool) {
    let f = fixture(40);
    let mut cookies = Vec::new();
    for v in &f.voters {
        cookies.push(login(&f.state, v).await);
    }
    // One store may not grow by more than a page (as a full file system would allow).
    if ballot_box {
        f.state.db.ballot_box().limit_growth_for_tests(1).unwrap();
    } else {
        // Whatever free space the file has is taken too: by marks of another election in the marks' own pages,
        // and by rows of another table.
        f.state
            .db
            .with(|c| {
                for i in 0..400 {
                    c.execute(
                        "INSERT INTO voted (person_id, election_id, contest_id) VALUES (?1, 'filler', 'c')",
                        [format!("filler-{i:04}")],
                    )?;
                }
                let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
                c.pragma_update(None, "max_page_count", pages + 1)?;
                c.execute_batch("CREATE TABLE filler (b BLOB)")?;
                while c.execute("INSERT INTO filler VALUES (zeroblob(100))", []).is_ok() {}
                Ok(())
            })
            .unwrap();
    }

    let casts: Vec<(usize, &str)> =
        ["tokyo", "national-pr"].iter().flat_map(|c| (0..f.voters.len()).map(move |i| (i, *c))).collect();
    let mut refused_at = None;
    for (n, (i, contest)) in casts.iter().enumerate() {
        let (status, body) = cast(&f.state, &cookies[*i], &f.voters[*i], contest, Choice::Blank).await;
        if status != StatusCode::CREATED {
            assert_eq!((status, code(&body).as_str()), (StatusCode::SERVICE_UNAVAILABLE, "STORAGE_FULL"));
            let message: shared::api::ApiError = serde_json::from_slice(&body).unwrap();
            assert!(message.message.contains("nothing was recorded"), "{}", message.message);
            refused_at = Some(n);
            break;
        }
    }
    let n = refused_at.expect("the disk filled up within 120 ballots");
    let (i, contest) = casts[n];
    let (voted, ballots) = counts(&f.state.db);
    assert_eq!((voted, ballots), (n as i64, n as i64), "the refused cast left neither a mark nor a ballot");
    let pending: i64 = f
        .state
        .db
        .with(|c| c.query_row("SELECT COUNT(*) FROM voted WHERE pending_group IS NOT NULL", [], |r| r.get(0)))
        .unwrap();
    assert!(pending <= 1, "only the last accepted group's marks may be pending");
    let ok: String = f.state.db.with(|c| c.query_row("PRAGMA integrity_check", [], |r| r.get(0))).unwrap();
    assert_eq!(ok, "ok");

    // Space returns: the same voter votes, once.
    if ballot_box {
        f.state.db.ballot_box().limit_growth_for_tests(1_000_000).unwrap();
    } else {
        f.state.db.with(|c| c.execute_batch("DROP TABLE filler; PRAGMA max_page_count = 1000000;")).unwrap();
    }
    let (status, _) = cast(&f.state, &cookies[i], &f.voters[i], contest, Choice::Blank).await;
    assert_eq!(status, StatusCode::CREATED, "the voter was not marked by the refused attempt");
    let (status, body) = cast(&f.state, &cookies[i], &f.voters[i], contest, Choice::Blank).await;
    assert_eq!((status, code(&body).as_str()), (StatusCode::CONFLICT, "ALREADY_VOTED"));
    let audit = f.state.db.with(|c| verifier::store::audit::verify(c)).unwrap();
    assert_eq!(audit.first_broken, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_online_backup_under_load_is_a_consistent_snapshot() {
    let f = fixture(60);
    let mut cookies = Vec::new();
    for v in &f.voters {
        cookies.push(login(&f.state, v).await);
    }
    let source = f.dir.path().join("verifier.sqlite");
    let state = f.state.clone();
    let voters: Vec<_> = f.voters.iter().map(|v| (v.person_id.clone(), v.card.sign_cert_der.clone())).collect();
    assert_eq!(voters.len(), cookies.len());
    // Voters cast in the background while the backups are taken.
    let load = {
        let cookies = cookies.clone();
        let f_voters: Vec<_> = (0..f.voters.len()).collect();
        let bodies: Vec<_> = f_voters
            .iter()
            .map(|&i| {
                let ct = encrypt(&state, "tokyo", Choice::Candidate(2));
                cast_body(&f.voters[i], state.election.get().id.as_str(), "tokyo", &ct)
            })
            .collect();
        let state = state.clone();
        tokio::spawn(async move {
            let mut accepted = 0;
            for (cookie, body) in cookies.iter().zip(bodies) {
                let (s, _, _) = post(&state, "/api/v1/ballots", Some(cookie), &body).await;
                accepted += usize::from(s == StatusCode::CREATED);
            }
            accepted
        })
    };
    let mut copies = Vec::new();
    for n in 0..5 {
        let target = f.dir.path().join(format!("backup-{n}.sqlite"));
        let source = source.clone();
        let t = target.clone();
        tokio::task::spawn_blocking(move || Db::backup(&source, &t)).await.unwrap().unwrap();
        copies.push(target);
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    assert_eq!(load.await.unwrap(), 60);
    let final_copy = f.dir.path().join("backup-final.sqlite");
    Db::backup(&source, &final_copy).unwrap();
    copies.push(final_copy);

    let mut sizes = Vec::new();
    for copy in &copies {
        // Opened as a restore would: recovery, then every mark has its ballot (in the box or unopened) and no more.
        let c = Db::open(copy).unwrap();
        let (voted, ballots) = counts(&c);
        assert_eq!(voted, ballots, "{}: every voted mark has its ballot and no more", copy.display());
        let eid = c.election().unwrap().unwrap().0.id;
        assert_eq!(every_ballot(&c, eid.as_str(), "tokyo").len() as i64, ballots, "the copy's ballots open");
        assert_eq!(c.with(|c| verifier::store::audit::verify(c)).unwrap().first_broken, None, "{}", copy.display());
        sizes.push(ballots);
    }
    assert_eq!(*sizes.last().unwrap(), 60, "the last copy holds every ballot");
    assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "copies only grow: {sizes:?}");
    assert!(Db::backup(&source, copies.last().unwrap()).is_err(), "a backup never overwrites a file");
}
