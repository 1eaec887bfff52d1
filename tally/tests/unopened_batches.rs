#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Ballots a verifier could not move into the box itself (it stopped while it held their batch's key, crate
//! `ballot-box`) go to the count in unopened batches: the count unwraps each key like a ballot (its own OAEP
//! label), opens the entries, counts them with the rest and lists their trackers. A ciphertext that reached the
//! count twice (a voter re-signed another's ballot while it waited in an unopened batch, where the verifier cannot
//! look) is reported and counted once; the rest of the district is counted as usual.

mod common;

use std::collections::BTreeMap;

use rsa::pkcs8::DecodePrivateKey;
use shared::crypto::ElectionPublicKey;
use shared::election::Choice;
use tally::hsm::Decryptor;
use tally::import::{Expectations, verify_export};
use verifier::ops::ExportKey;
use verifier::store::{Db, DbOptions};

const PUBLIC: &str = include_str!("../../shared/tests/data/test-election-key.pub.pem");
const INSECURE_PRIVATE: &str = include_str!("../../shared/tests/data/INSECURE-test-election-key.pem");

#[test]
fn unopened_batches_are_opened_and_counted_and_a_copy_is_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let e = common::election();
    let key = ElectionPublicKey::from_pem(PUBLIC).unwrap();
    let path = dir.path().join("verifier.sqlite");
    let options = DbOptions { ballot_box_batch: 8, ..Default::default() };
    let before: chrono::DateTime<chrono::Utc> = "2028-07-01T00:00:00Z".parse().unwrap();
    let after: chrono::DateTime<chrono::Utc> = "2028-08-01T00:00:00Z".parse().unwrap();
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let contest = e.contest("tokyo").unwrap();
    let encrypt = |choice: Choice, rng: &mut rand_core::UnwrapErr<getrandom::SysRng>| {
        let plain = shared::ballot::encode(&e, contest, &choice).unwrap();
        shared::crypto::encrypt_ballot(rng, &key, e.id.as_str(), "tokyo", &plain).unwrap()
    };
    // A first verifier receives 20 ballots (8 enter the box, 12 stay held), then stops.
    let mut cts = Vec::new();
    {
        let db = Db::open_with(&path, options.clone()).unwrap();
        db.create_election(&e, &key, "test", before).unwrap();
        for i in 0..20 {
            let ct = encrypt(Choice::Candidate(1 + (i % 2) as u16), &mut rng);
            db.cast(&format!("first-{i}"), e.id.as_str(), "tokyo", &ct).unwrap();
            cts.push(ct);
        }
        let count = &db.ballot_box_counts(e.id.as_str()).unwrap()[0];
        assert_eq!((count.in_box, count.waiting), (8, 12));
    }
    // The next one cannot look into those batches: a copy of a held ballot, re-signed by another voter, gets in.
    let db = Db::open_with(&path, options).unwrap();
    let copied = db.ballot_box().unopened_batches(e.id.as_str(), "tokyo").unwrap()[0].entries.len();
    assert!(copied > 0);
    let held_ballot = cts.iter().find(|ct| !db.ballot_box().holds(ct).unwrap()).unwrap().clone();
    db.cast("copier", e.id.as_str(), "tokyo", &held_ballot).unwrap();
    for i in 0..5 {
        db.cast(&format!("second-{i}"), e.id.as_str(), "tokyo", &encrypt(Choice::Blank, &mut rng)).unwrap();
    }
    let export_key = ExportKey::generate(&dir.path().join("export-key.pk8")).unwrap();
    let file = verifier::ops::export(&db, &e, &key, &export_key, "tokyo", "test", after).unwrap();
    let tokyo = &file.ballots[0];
    assert_eq!(tokyo.unopened.iter().map(|u| u.entries.len()).sum::<usize>(), 12);

    let want = Expectations {
        export_key_public: export_key.public_hex(),
        key_fingerprint: key.fingerprint(),
        ciphertext_len: key.ciphertext_len(),
        expected_count: 0,
        expected_count_per_contest: BTreeMap::from([("tokyo".to_string(), 26)]),
    };
    let export = verify_export(&serde_json::to_vec(&file).unwrap(), &e, &want).unwrap();
    let sk = rsa::PrivateKey::from_pkcs8_pem(INSECURE_PRIVATE).unwrap();
    let decryptor = Decryptor::insecure_file_key(sk);
    let report = tally::count::count(&e, &export, &decryptor, 2, 1, &indicatif::ProgressBar::hidden()).unwrap();
    let r = report.contests.iter().find(|c| c.contest_id == "tokyo").unwrap();
    assert_eq!(r.from_unopened_batches, 12);
    assert_eq!(r.unopened_trackers.len(), 12);
    assert!(r.unopened_trackers.contains(&shared::crypto::tracker(&held_ballot)));
    assert_eq!(r.duplicates.len(), 1, "the copy is reported");
    assert_eq!(r.duplicates[0].tracker, shared::crypto::tracker(&held_ballot));
    assert_eq!(r.duplicates[0].extra_copies, 1);
    // 26 voters: 20 candidate votes (10 each), 5 blank, and the copy counted once.
    assert_eq!((r.voters, r.valid, r.blank, r.invalid), (26, 20, 5, 0));
    let votes: Vec<(u16, u64)> = r.candidates.iter().filter(|c| c.votes > 0).map(|c| (c.number, c.votes)).collect();
    assert_eq!(votes, vec![(1, 10), (2, 10)]);
    assert!(tally::count::to_table(&report).contains("counted once"));
}
