//! Three nodes (issue 24): commits wait for ANY 1 of two standbys, so they stay synchronous after a machine is
//! lost. The attacker is the machine room twice over: under cast load from two front-ends, a standby's machine goes
//! down (commits go on with the other), then the primary's; the standby that received the most is promoted and the
//! returning one follows it; then the new primary's machine is lost too and the last node is promoted. Every
//! receipt given is then compared with the box.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use shared::crypto::ElectionPublicKey;
use verifier::store::pg::PgStore;

const KEY: &str = include_str!("../../shared/tests/data/test-election-key.pub.pem");

fn ct(t: usize, v: usize) -> Vec<u8> {
    let mut c = vec![0u8; 384];
    c[..16].copy_from_slice(&[(t as u64).to_be_bytes(), (v as u64).to_be_bytes()].concat());
    c
}

/// Waits until `n` more receipts than now were given (60 s at most).
fn more_receipts(receipts: &AtomicUsize, n: usize) {
    let (from, since) = (receipts.load(Ordering::Relaxed), Instant::now());
    while receipts.load(Ordering::Relaxed) < from + n && since.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn two_machines_lost_in_turn_lose_no_receipted_ballot() {
    let mut lab = pg_lab::Lab::trio().unwrap();
    let conninfo = lab.connection_string();
    let front = || {
        let store = PgStore::connect(&conninfo, 64).unwrap();
        store.create_election("e", &ElectionPublicKey::from_pem(KEY).unwrap()).unwrap();
        Arc::new(store)
    };
    let fronts = [front(), front()];
    let (stop, receipts) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (front, stop, receipts) = (Arc::clone(&fronts[t % 2]), Arc::clone(&stop), Arc::clone(&receipts));
            std::thread::spawn(move || {
                let (mut given, mut refused) = (Vec::new(), Vec::new());
                for v in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    match front.cast(&format!("t{t}v{v}"), None, "e", "tokyo", &ct(t, v)) {
                        Ok(tracker) => {
                            given.push(tracker);
                            receipts.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => refused.push(e.to_string()),
                    }
                }
                (given, refused)
            })
        })
        .collect();
    more_receipts(&receipts, 200);
    // standby2's machine goes down: commits go on, each on standby1 alone.
    lab.stop_standby(2).unwrap();
    more_receipts(&receipts, 200);
    let first = Instant::now();
    lab.kill_primary().unwrap();
    lab.start_standby(2).unwrap();
    let promoted = lab.promote_most_advanced().unwrap();
    let first_took = first.elapsed();
    more_receipts(&receipts, 200);
    let second = Instant::now();
    lab.kill_primary().unwrap();
    let last = lab.promote_most_advanced().unwrap();
    let second_took = second.elapsed();
    more_receipts(&receipts, 100);
    stop.store(true, Ordering::Relaxed);
    let (mut given, mut refused) = (Vec::new(), Vec::new());
    for t in threads {
        let (g, r) = t.join().unwrap();
        given.extend(g);
        refused.extend(r);
    }
    for f in &fronts {
        f.seal("e").unwrap();
    }
    let (trackers, _) = fronts[0].box_contents("e").unwrap();
    let in_box: HashSet<String> = trackers.iter().map(hex::encode).collect();
    let lost = given.iter().filter(|t| !in_box.contains(*t)).count();
    println!(
        "three nodes: node {promoted} promoted {:.2} s after the primary's loss, node {last} {:.2} s after the \
         second; {} receipts, {} refused, {lost} lost",
        first_took.as_secs_f64(),
        second_took.as_secs_f64(),
        given.len(),
        refused.len()
    );
    assert_eq!(promoted, 1, "the standby that was up throughout received the most");
    assert_eq!(lost, 0, "{lost} receipted ballots are not in the box");
    assert!(refused.is_empty(), "casts refused: {refused:?}");
    assert_eq!(in_box.len(), given.len());
    assert_eq!(fronts[0].marks("e").unwrap(), vec![("tokyo".into(), given.len() as i64)]);
}
