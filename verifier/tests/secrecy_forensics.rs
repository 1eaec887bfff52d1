//! The disk reader against the real verifier (R-VOTE-8, tracker issue 16): voters log in and cast one at a time
//! through the HTTP API, as real traffic arrives (at 100,000 voters over twelve days, well under one cast a
//! second), each cast followed by its UX-research metrics (a practice election), while an intruder copies the
//! whole data directory at random moments, and once more after the close. The attacker of [`forensics`] then reads
//! the copies from SQLite's file format and names a voter for each ballot and each research row.
//!
//! The bound it must meet (README, "Ballot secrecy on disk"):
//! - with every copy, the ones taken during voting included: each ballot and each research row hides in a crowd
//!   of at least K of its contest (K = the verifier's default batch), and the attacker names no more voters than
//!   a guess within each crowd would;
//! - with the copy taken after the close alone: no better than chance within the contest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod forensics;
mod support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use forensics::{Copy, Known};
use rand_core::{Rng, SeedableRng};
use rsa::PrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use shared::api::{Challenge, DisplayCode, DrumStart, SelectionCode, TaskMetrics};
use shared::crypto::ElectionPublicKey;
use shared::election::Choice;
use shared::export::PublishedBallotBox;
use support::serving::start;
use support::*;
use test_pki::TestAuthority;
use verifier::store::Db;

/// Voters, each casting every contest of the demo election: 3 × 350 = 1,050 casts.
const VOTERS: usize = 350;
/// The smallest crowd the verifier promises by default (its ballot-box batch, `serve --ballot-box-batch`).
const K: usize = 64;
/// Seconds from the verifier's start to the close of voting, on its (test-shifted) clock.
const SECONDS_TO_CLOSE: i64 = 75;

/// The demo election dated so that voting closes at the next 20:00 JST at least ten minutes away (so that the
/// test clock moves by less than a day, and the test authority's revocation lists stay current).
fn closing_soon(mut e: shared::election::Election) -> shared::election::Election {
    let soon = shared::jst::to_jst(Utc::now() + chrono::TimeDelta::minutes(10));
    let close_day = if soon.time() < chrono::NaiveTime::from_hms_opt(20, 0, 0).unwrap() {
        soon.date_naive()
    } else {
        soon.date_naive().succ_opt().unwrap()
    };
    let length = e.election_day - e.notice_date;
    e.election_day = close_day.succ_opt().unwrap();
    e.notice_date = e.election_day - length;
    e.validate().unwrap();
    e
}

struct Voter {
    v: TestVoter,
    participant: String,
    casts: Vec<(String, serde_json::Value, String)>,
}

/// Who cast each ballot (by tracker) and who sent each research row (by participant and contest): what the
/// attacker's guesses are scored against.
struct Truth {
    ballots: HashMap<String, String>,
    research: HashMap<String, String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_reader_with_copies_of_the_data_directory_cannot_link_ballots_to_voters() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let ca = TestAuthority::init(&tmp.path().join("ca")).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(16);
    let (election, contests, voters) = the_roll_the_election_and_every_ballot(&data, &ca, &mut rng);

    // The verifier, its clock shifted so that voting closes SECONDS_TO_CLOSE after it starts.
    let closes_at = election.window().closes_at;
    let offset = (closes_at - Utc::now()).num_seconds() - SECONDS_TO_CLOSE;
    let started = Instant::now();
    let offset_arg = offset.to_string();
    let extra = ["--insecure-test-clock-offset-seconds", offset_arg.as_str()];
    let server = start(&data.join("verifier.sqlite"), &tmp.path().join("ca"), &tmp.path().join("log"), &extra);
    let base = server.base.clone();

    let intruder = Intruder::start(&data);
    let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let kind_of: HashMap<String, shared::election::ContestKind> =
        election.contests.iter().map(|c| (c.id.to_string(), c.kind())).collect();
    let truth = voters_vote_one_at_a_time(&base, &http, &voters, &kind_of, &mut rng).await;
    let voting_took = started.elapsed();
    let mut copies = intruder.stop();
    assert!(
        voting_took < Duration::from_secs(SECONDS_TO_CLOSE as u64 - 5),
        "the casts took {voting_took:?}, too close to the close at {SECONDS_TO_CLOSE} s"
    );

    // After the close: the published ballot box, and one more copy.
    let published = the_published_ballot_box(&base, &http, started).await;
    let after_close = Copy::take(&data);
    let known = what_the_attacker_knows(&published, &voters, &contests, &kind_of);
    assert_eq!(known.trackers.len(), truth.ballots.len(), "every receipted ballot is published");
    let during = copies.len();
    copies.push(after_close);
    the_attacker_names_no_more_than_a_guess_within_each_crowd(&copies, during, &known, &truth, voting_took);
}

/// The roll and the election, written before the verifier starts; every ballot encrypted and signed beforehand, as
/// each voter's browser and card would; the voters in the random order they arrive in. Returns the election, its
/// contests and the voters.
fn the_roll_the_election_and_every_ballot(
    data: &Path,
    ca: &TestAuthority,
    rng: &mut rand_chacha::ChaCha20Rng,
) -> (shared::election::Election, Vec<String>, Vec<Voter>) {
    // Cards share four key pairs (two RSA keys per voter would take minutes to generate).
    let key_cards: Vec<_> = (0..4).map(|i| ca.issue(&person(i), 365).unwrap()).collect();
    let keys: Vec<(PrivateKey, PrivateKey)> = key_cards
        .iter()
        .map(|c| {
            (
                PrivateKey::from_pkcs8_der(&c.auth_key_pkcs8_der).unwrap(),
                PrivateKey::from_pkcs8_der(&c.sign_key_pkcs8_der).unwrap(),
            )
        })
        .collect();
    let people: Vec<_> = (0..VOTERS).map(person).collect();
    let cards = ca.issue_many_sharing_keys(&people, 365, &key_cards, 2).unwrap();
    let election = closing_soon(verifier::demo::demo_election(Utc::now()).unwrap());
    assert!(election.practice, "research rows are written in practice elections");
    let key = ElectionPublicKey::from_pem(ELECTION_PUB).unwrap();
    let contests: Vec<String> = election.contests.iter().map(|c| c.id.to_string()).collect();
    let mut voters = Vec::new();
    {
        let db = Db::open(&data.join("verifier.sqlite")).unwrap();
        db.create_election(&election, &key, "test", Utc::now()).unwrap();
        for (i, card) in cards.into_iter().enumerate() {
            let (auth_key, sign_key) = keys[i % keys.len()].clone();
            let v = TestVoter { person_id: format!("person-{i:04}"), card, auth_key, sign_key };
            register(&db, &v, &["tokyo", "national"]);
            voters.push(v);
        }
    }
    // Every ballot encrypted and signed beforehand, as each voter's browser and card would.
    let mut voters: Vec<Voter> = voters
        .into_iter()
        .map(|v| {
            let casts = contests
                .iter()
                .map(|c| {
                    let contest = election.contest(c).unwrap();
                    let plain = shared::ballot::encode(&election, contest, &Choice::Blank).unwrap();
                    let ct = shared::crypto::encrypt_ballot(rng, &key, election.id.as_str(), c, &plain).unwrap();
                    let tracker = shared::crypto::tracker(&ct);
                    (c.clone(), cast_body(&v, election.id.as_str(), c, &ct), tracker)
                })
                .collect();
            let mut p = [0u8; 16];
            rng.fill_bytes(&mut p);
            Voter { v, participant: hex::encode(p), casts }
        })
        .collect();
    // Voters arrive in random order.
    for i in (1..voters.len()).rev() {
        voters.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    (election, contests, voters)
}

/// The intruder: copies of the whole data directory at random moments while voters vote, until stopped.
struct Intruder {
    copies: Arc<Mutex<Vec<Copy>>>,
    stop: Arc<AtomicBool>,
    copier: std::thread::JoinHandle<()>,
}

impl Intruder {
    fn start(data: &Path) -> Intruder {
        let copies: Arc<Mutex<Vec<Copy>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let copier = {
            let (copies, stop, data) = (copies.clone(), stop.clone(), data.to_path_buf());
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(30 + rng.next_u64() % 400));
                    copies.lock().unwrap().push(Copy::take(&data));
                }
            })
        };
        Intruder { copies, stop, copier }
    }

    /// Stops copying; returns the copies taken.
    fn stop(self) -> Vec<Copy> {
        self.stop.store(true, Ordering::Relaxed);
        self.copier.join().unwrap();
        std::mem::take(&mut *self.copies.lock().unwrap())
    }
}

/// The research metrics of one task, as the app sends them after a cast.
fn metrics(participant: &str, contest_kind: shared::election::ContestKind) -> TaskMetrics {
    TaskMetrics {
        participant: participant.to_string(),
        contest_kind,
        assigned: false,
        selection: SelectionCode::List,
        display: DisplayCode::Scroll,
        drum_start: DrumStart::First,
        candidates: 9,
        time_to_first_selection_ms: Some(1200),
        time_to_confirm_ms: 2500,
        changes_of_mind: 0,
        steps: 3,
        search_keystrokes: 0,
        errors: 0,
        challenges: 0,
        chosen_position: None,
        off_first_screen: None,
    }
}

/// Voters vote one at a time, at random moments; each cast is followed by its research metrics, as the app sends
/// them. Proves every login, cast and metrics post is accepted; returns who cast and sent what.
async fn voters_vote_one_at_a_time(
    base: &str,
    http: &reqwest::Client,
    voters: &[Voter],
    kind_of: &HashMap<String, shared::election::ContestKind>,
    rng: &mut rand_chacha::ChaCha20Rng,
) -> Truth {
    let mut truth_ballots: HashMap<String, String> = HashMap::new();
    let mut truth_research: HashMap<String, String> = HashMap::new();
    for voter in voters {
        // Voters arrive at random moments, not back to back.
        tokio::time::sleep(Duration::from_millis(rng.next_u64() % 40)).await;
        let http_voter = reqwest::Client::builder().cookie_store(true).build().unwrap();
        let c: Challenge =
            http_voter.post(format!("{base}/api/v1/session/challenge")).send().await.unwrap().json().await.unwrap();
        let nonce = c.nonce.0;
        let r = http_voter
            .post(format!("{base}/api/v1/session"))
            .json(&login_body(&voter.v, &nonce, ORIGIN))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        for (contest, body, tracker) in &voter.casts {
            let r = http_voter.post(format!("{base}/api/v1/ballots")).json(body).send().await.unwrap();
            assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
            truth_ballots.insert(tracker.clone(), voter.v.person_id.clone());
            let metrics = metrics(&voter.participant, kind_of[contest]);
            let r = http.post(format!("{base}/api/v1/research/metrics")).json(&metrics).send().await.unwrap();
            assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
            truth_research.insert(format!("{}\u{0}{contest}", voter.participant), voter.v.person_id.clone());
        }
    }
    Truth { ballots: truth_ballots, research: truth_research }
}

/// The ballot box as published after the close, waited for (proves it is published within a minute of the close).
async fn the_published_ballot_box(base: &str, http: &reqwest::Client, started: Instant) -> PublishedBallotBox {
    loop {
        let r = http.get(format!("{base}/api/v1/elections/current/ballot-box")).send().await.unwrap();
        if r.status() == 200 {
            break r.json().await.unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(SECONDS_TO_CLOSE as u64 + 60), "never published");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What the attacker knows without the disk: the roll, the contests, and the published trackers of each contest.
fn what_the_attacker_knows(
    published: &PublishedBallotBox,
    voters: &[Voter],
    contests: &[String],
    kind_of: &HashMap<String, shared::election::ContestKind>,
) -> Known {
    Known {
        persons: voters.iter().map(|v| v.v.person_id.clone()).collect(),
        contests: contests.to_vec(),
        trackers: published
            .contests
            .iter()
            .flat_map(|c| c.trackers.iter().map(|t| (t.clone(), c.contest_id.clone())))
            .collect(),
        contest_of_kind: kind_of
            .iter()
            .map(|(c, k)| (serde_json::to_value(k).unwrap().as_str().unwrap().to_string(), c.clone()))
            .collect(),
    }
}

/// Proves the bound: with every copy (`copies`, the first `during` of them taken while voters voted), each ballot
/// and research row hides in a crowd of at least K and the attacker names no more voters than a guess within each
/// crowd would; with the copy taken after the close alone, no better than chance within the contest.
fn the_attacker_names_no_more_than_a_guess_within_each_crowd(
    copies: &[Copy],
    during: usize,
    known: &Known,
    truth: &Truth,
    voting_took: Duration,
) {
    let (truth_ballots, truth_research) = (&truth.ballots, &truth.research);
    let bytes: usize = copies[..during].iter().map(Copy::bytes).sum();
    let all = forensics::attack(copies, known);
    let ballots = forensics::score(&all.ballots, truth_ballots);
    let research = forensics::score(&all.research, truth_research);
    let sealed = forensics::attack(&copies[during..], known);
    let sealed_ballots = forensics::score(&sealed.ballots, truth_ballots);
    let sealed_research = forensics::score(&sealed.research, truth_research);
    eprintln!(
        "forensics: {} casts in {voting_took:?}; {during} copies during voting ({} MB) and one after the close; \
         {} WAL commits read, {} marks seen",
        truth_ballots.len(),
        bytes / 1_000_000,
        all.commits_read,
        all.marks_seen
    );
    eprintln!("forensics: every copy, ballots: {ballots}");
    eprintln!("forensics: every copy, research rows: {research}");
    eprintln!("forensics: after the close only, ballots: {sealed_ballots}");
    eprintln!("forensics: after the close only, research rows: {sealed_research}");

    assert_eq!(ballots.items, truth_ballots.len(), "the attacker found every ballot on disk");
    // A binomial allowance over what a guess within each crowd names on average.
    let allowance = |s: &forensics::Score| s.expected_by_crowd + 4.0 * s.expected_by_crowd.sqrt() + 3.0;
    for (what, s) in [("ballots", &ballots), ("research rows", &research)] {
        assert!(s.min_crowd >= K, "{what}: an item hides among only {} (bound: {K}); {s}", s.min_crowd);
        assert!((s.named as f64) <= allowance(s), "{what}: named beyond the crowds: {s}");
    }
    for (what, s) in [("ballots", &sealed_ballots), ("research rows", &sealed_research)] {
        let per_contest = truth_ballots.len() / known.contests.len();
        assert!(s.min_crowd >= per_contest, "{what} after the close: crowd {} < {per_contest}; {s}", s.min_crowd);
        assert!((s.named as f64) <= allowance(s), "{what} after the close: better than chance: {s}");
    }
}
