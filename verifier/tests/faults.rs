//! Faults the verifier must survive without losing or half-writing a ballot (issue: benchmarks, load, faults):
//! a full disk is a clear 503 with a code and the voter stays able to vote once space returns; an online backup
//! taken while voters cast is one consistent snapshot that passes the audit-chain check and whose voted marks
//! equal its ballots. (kill -9 under load: crash_recovery.rs; 100 simultaneous casts: voting.rs; SMTP down:
//! notify_smtp.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use shared::election::Choice;
use support::*;
use verifier::db::Db;
use warp::http::StatusCode;

fn counts(db: &rusqlite::Connection) -> (i64, i64) {
    let voted: i64 = db.query_row("SELECT COUNT(*) FROM voted", [], |r| r.get(0)).unwrap();
    let ballots: i64 = db.query_row("SELECT COUNT(*) FROM ballots", [], |r| r.get(0)).unwrap();
    (voted, ballots)
}

#[tokio::test]
async fn a_full_disk_is_a_clear_503_and_nothing_is_half_written() {
    let f = fixture(40);
    let mut cookies = Vec::new();
    for v in &f.voters {
        cookies.push(login(&f.state, v).await);
    }
    // The database may grow by a few pages only (as a full file system would allow).
    let pages: i64 = f.state.db.with(|c| c.query_row("PRAGMA page_count", [], |r| r.get(0))).unwrap();
    f.state.db.with(|c| c.pragma_update(None, "max_page_count", pages + 2)).unwrap();

    let mut refused_at = None;
    for (i, (v, cookie)) in f.voters.iter().zip(&cookies).enumerate() {
        let (status, body) = cast(&f.state, cookie, v, "tokyo", Choice::Candidate(1)).await;
        if status != StatusCode::CREATED {
            assert_eq!((status, code(&body).as_str()), (StatusCode::SERVICE_UNAVAILABLE, "STORAGE_FULL"));
            let message: shared::api::ApiError = serde_json::from_slice(&body).unwrap();
            assert!(message.message.contains("nothing was recorded"), "{}", message.message);
            refused_at = Some(i);
            break;
        }
    }
    let i = refused_at.expect("the disk filled up within 40 ballots");
    let (voted, ballots) = f.state.db.with(|c| Ok(counts(c))).unwrap();
    assert_eq!((voted, ballots), (i as i64, i as i64), "the refused cast left neither a mark nor a ballot");
    let ok: String = f.state.db.with(|c| c.query_row("PRAGMA integrity_check", [], |r| r.get(0))).unwrap();
    assert_eq!(ok, "ok");

    // Space returns: the same voter votes, once.
    f.state.db.with(|c| c.pragma_update(None, "max_page_count", 1_000_000)).unwrap();
    let (status, _) = cast(&f.state, &cookies[i], &f.voters[i], "tokyo", Choice::Candidate(1)).await;
    assert_eq!(status, StatusCode::CREATED, "the voter was not marked by the refused attempt");
    let (status, body) = cast(&f.state, &cookies[i], &f.voters[i], "tokyo", Choice::Blank).await;
    assert_eq!((status, code(&body).as_str()), (StatusCode::CONFLICT, "ALREADY_VOTED"));
    let audit = f.state.db.with(|c| verifier::audit::verify(c)).unwrap();
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
                cast_body(&f.voters[i], state.election.id.as_str(), "tokyo", &ct)
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
        let c = rusqlite::Connection::open(copy).unwrap();
        let (voted, ballots) = counts(&c);
        assert_eq!(voted, ballots, "{}: every voted mark has its ballot and no more", copy.display());
        assert_eq!(verifier::audit::verify(&c).unwrap().first_broken, None, "{}", copy.display());
        let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok");
        sizes.push(ballots);
    }
    assert_eq!(*sizes.last().unwrap(), 60, "the last copy holds every ballot");
    assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "copies only grow: {sizes:?}");
    assert!(Db::backup(&source, copies.last().unwrap()).is_err(), "a backup never overwrites a file");
}
