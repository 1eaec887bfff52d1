#![allow(clippy::unwrap_used)]

use rsa::pkcs8::DecodePrivateKey;
use shared::crypto::ElectionPublicKey;

use super::*;

const PUBLIC: &str = include_str!("../../shared/tests/data/test-election-key.pub.pem");
const INSECURE_PRIVATE: &str = include_str!("../../shared/tests/data/INSECURE-test-election-key.pem");

fn key() -> ElectionPublicKey {
    ElectionPublicKey::from_pem(PUBLIC).unwrap()
}

/// Stand-ins for ciphertexts: distinct 384-byte strings.
fn ct(i: usize) -> Vec<u8> {
    let mut v = vec![0u8; 384];
    v[..8].copy_from_slice(&(i as u64).to_be_bytes());
    v
}

fn cast(b: &BallotBox, contest: &str, from: usize, n: usize) {
    for i in from..from + n {
        let c = ct(i);
        b.receive(&key(), "e", GroupId::random().unwrap(), &[Ballot { contest, ciphertext: &c }], &[]).unwrap();
        b.flush_due().unwrap();
    }
}

fn count(b: &BallotBox, contest: &str) -> ContestCount {
    b.counts("e").unwrap().into_iter().find(|c| c.contest == contest).unwrap_or_default()
}

/// Opens unopened batches as the counting tool does, with the (test) election private key.
fn open_unopened(b: &BallotBox, contest: &str) -> Vec<Vec<u8>> {
    let sk = rsa::PrivateKey::from_pkcs8_pem(INSECURE_PRIVATE).unwrap();
    let mut out = Vec::new();
    for batch in b.unopened_batches("e", contest).unwrap() {
        let label = shared::crypto::batch_key_label("e", contest, &batch.id);
        let raw = sk.decrypt(rsa::Oaep::<sha2::Sha256>::new_with_label(label), &batch.wrapped_key).unwrap();
        let k = sealing::key_from_bytes(&raw).unwrap();
        out.extend(batch.open(&k, "e", contest).into_iter().map(Option::unwrap));
    }
    out
}

#[test]
fn ballots_enter_the_box_only_in_whole_batches_once_the_next_batch_is_full() {
    let b = BallotBox::open_in_memory(8).unwrap();
    cast(&b, "c", 0, 15);
    assert_eq!((count(&b, "c").in_box, count(&b, "c").waiting), (0, 15));
    cast(&b, "c", 15, 1);
    assert_eq!((count(&b, "c").in_box, count(&b, "c").waiting), (8, 8));
    cast(&b, "c", 16, 7);
    assert_eq!((count(&b, "c").in_box, count(&b, "c").waiting), (8, 15));
    cast(&b, "c", 23, 1);
    assert_eq!((count(&b, "c").in_box, count(&b, "c").waiting), (16, 8));
    // Another contest has batches of its own.
    cast(&b, "d", 100, 9);
    assert_eq!((count(&b, "d").in_box, count(&b, "d").waiting), (0, 9));
}

#[test]
fn a_group_fills_batches_across_contests_and_opens_as_many_as_it_needs() {
    let b = BallotBox::open_in_memory(8).unwrap();
    let cts: Vec<Vec<u8>> = (0..40).map(ct).collect();
    let group: Vec<Ballot<'_>> = cts
        .iter()
        .enumerate()
        .map(|(i, c)| Ballot { contest: if i % 2 == 0 { "c" } else { "d" }, ciphertext: c })
        .collect();
    b.receive(&key(), "e", GroupId(1), &group, &[]).unwrap();
    assert_eq!(count(&b, "c").waiting, 20);
    // Each contest holds batches of 8, 8 and 4: only the first has a full one after it.
    assert_eq!(b.flush_due().unwrap(), 2 * 8);
    assert_eq!((count(&b, "c").in_box, count(&b, "c").waiting), (8, 12));
    assert_eq!(b.committed_groups().unwrap(), vec![GroupId(1)]);
    b.forget_groups(&[GroupId(1)]).unwrap();
    assert!(b.committed_groups().unwrap().is_empty());
}

#[test]
fn the_seal_moves_every_held_ballot_and_refuses_more() {
    let b = BallotBox::open_in_memory(8).unwrap();
    cast(&b, "c", 0, 13);
    b.seal("e").unwrap();
    assert_eq!(count(&b, "c"), ContestCount { contest: "c".into(), in_box: 13, waiting: 0, unopened: 0 });
    let mut got = b.ciphertexts("e", "c").unwrap();
    let trackers: Vec<[u8; 32]> = got.iter().map(|c| tracker(c)).collect();
    assert!(trackers.windows(2).all(|w| w[0] < w[1]), "tracker order");
    got.sort();
    assert_eq!(got, (0..13).map(ct).collect::<Vec<_>>());
    let c = ct(99);
    let refused = b.receive(&key(), "e", GroupId(2), &[Ballot { contest: "c", ciphertext: &c }], &[]);
    assert!(matches!(refused, Err(BoxError::Sealed(_))));
    assert!(b.is_sealed("e").unwrap() && !b.is_sealed("f").unwrap());
}

#[test]
fn batches_of_a_stopped_process_stay_unopened_and_the_election_key_opens_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("box.sqlite");
    {
        let b = BallotBox::open(&path, 8).unwrap();
        cast(&b, "c", 0, 21);
        assert_eq!((count(&b, "c").in_box, count(&b, "c").waiting), (8, 13));
    }
    let b = BallotBox::open(&path, 8).unwrap();
    assert_eq!(count(&b, "c"), ContestCount { contest: "c".into(), in_box: 8, waiting: 0, unopened: 13 });
    // The new process opens batches of its own and never touches the unopened ones.
    cast(&b, "c", 21, 17);
    assert_eq!(count(&b, "c"), ContestCount { contest: "c".into(), in_box: 16, waiting: 9, unopened: 13 });
    b.seal("e").unwrap();
    assert_eq!(count(&b, "c"), ContestCount { contest: "c".into(), in_box: 25, waiting: 0, unopened: 13 });
    let mut all = b.ciphertexts("e", "c").unwrap();
    all.extend(open_unopened(&b, "c"));
    all.sort();
    assert_eq!(all, (0..38).map(ct).collect::<Vec<_>>(), "nothing lost, nothing doubled");
}

#[test]
fn a_ciphertext_is_held_once_received_whether_waiting_or_in_the_box() {
    let b = BallotBox::open_in_memory(8).unwrap();
    cast(&b, "c", 0, 16);
    assert!(b.holds(&ct(0)).unwrap(), "in the box");
    assert!(b.holds(&ct(15)).unwrap(), "waiting");
    assert!(!b.holds(&ct(16)).unwrap());
}

#[test]
fn a_batch_size_outside_the_range_is_refused() {
    assert!(matches!(BallotBox::open_in_memory(1), Err(BoxError::BatchSize(1))));
    assert!(BallotBox::open_in_memory(DEFAULT_BATCH).is_ok());
}

#[test]
fn an_earlier_verifiers_ballots_are_imported_once() {
    let b = BallotBox::open_in_memory(8).unwrap();
    let mut earlier: Vec<(String, Vec<u8>)> = (0..5).map(|i| ("c".to_string(), ct(i))).collect();
    assert_eq!(b.import_earlier("e", &mut earlier).unwrap(), 5);
    assert_eq!(b.import_earlier("e", &mut earlier).unwrap(), 0);
    assert_eq!(count(&b, "c").in_box, 5);
}
