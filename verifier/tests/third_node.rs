//! Three nodes (issue 24): commits wait for ANY 1 of two standbys, so they stay synchronous after a machine is
//! lost. The attacker is the machine room twice over: under cast load from two front-ends, a standby's machine goes
//! down (commits go on with the other), then the primary's; the standby that received the most is promoted and the
//! returning one follows it; then the new primary's machine is lost too and the last node is promoted. Every
//! receipt given is then compared with the box.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Instant;

use shared::crypto::ElectionPublicKey;
use support::casting::{Casting, sealed_box};
use verifier::store::pg::PgStore;

const KEY: &str = include_str!("../../shared/tests/data/test-election-key.pub.pem");

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
    let casting = Casting::start(&fronts, 4);
    casting.more(200);
    // standby2's machine goes down: commits go on, each on standby1 alone.
    lab.stop_standby(2).unwrap();
    casting.more(200);
    let first = Instant::now();
    lab.kill_primary().unwrap();
    lab.start_standby(2).unwrap();
    let promoted = lab.promote_most_advanced().unwrap();
    let first_took = first.elapsed();
    casting.more(200);
    let second = Instant::now();
    lab.kill_primary().unwrap();
    let last = lab.promote_most_advanced().unwrap();
    let second_took = second.elapsed();
    casting.more(100);
    let (given, refused) = casting.stop();
    let (in_box, _) = sealed_box(&fronts);
    let lost = given.iter().filter(|g| !in_box.contains(&g.tracker)).count();
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
