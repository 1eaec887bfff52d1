//! The link from a front-end to the voting store (issue 24): between sites it carries voters' marks beside sealed
//! ballots, so the attacker is on the network. The store talks TLS with a client certificate to a server its CA
//! signed, and refuses a stranger in the middle: a server that speaks plaintext (and would take anyone's marks),
//! and one whose certificate another CA signed. A plaintext link to another host is refused before anything is
//! sent. (`pg-lab`'s `Lab::single_tls` demands TLS and the client certificate on TCP.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use shared::crypto::ElectionPublicKey;
use verifier::store::pg::PgStore;
use verifier::store::pg::link::TlsFiles;

const KEY: &str = include_str!("../../shared/tests/data/test-election-key.pub.pem");

fn conninfo(lab: &pg_lab::Lab) -> String {
    format!("host=127.0.0.1 port={} user={} dbname={}", lab.port(0), pg_lab::ROLE, pg_lab::ROLE)
}

fn files(lab: &pg_lab::Lab, with_client: bool) -> TlsFiles {
    let f = lab.tls_files().unwrap();
    TlsFiles { ca: f.ca.clone(), client: with_client.then(|| (f.client_cert.clone(), f.client_key.clone())) }
}

#[test]
fn the_link_is_tls_with_a_client_certificate_and_refuses_a_stranger() {
    let lab = pg_lab::Lab::single_tls().unwrap();
    let tls = files(&lab, true);
    let store = PgStore::open(&conninfo(&lab), Some(&tls), 8).unwrap();
    store.create_election("e", &ElectionPublicKey::from_pem(KEY).unwrap()).unwrap();
    store.cast("p", Some("13101"), "e", "tokyo", &[7u8; 384]).unwrap();
    let (ssl, dn): (bool, String) = store
        .with_client(|c| {
            let row = c.query_one("SELECT ssl, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])?;
            Ok((row.get(0), row.get(1)))
        })
        .unwrap();
    assert!(ssl && dn == "/CN=lab", "the server sees TLS and the front-end's certificate: {ssl} {dn}");

    let plain = PgStore::connect(&conninfo(&lab), 8).err().expect("the server refuses a plaintext link");
    println!("plaintext to the TLS server: {plain:#}");
    let anonymous = PgStore::open(&conninfo(&lab), Some(&files(&lab, false)), 8).err();
    println!("TLS without a client certificate: {:#}", anonymous.as_ref().expect("the server asks for a certificate"));

    // Strangers in the middle: a plaintext server that trusts everyone, and a TLS server of another CA.
    let plaintext_stranger = pg_lab::Lab::single().unwrap();
    let refused = PgStore::open(&conninfo(&plaintext_stranger), Some(&tls), 8).err();
    println!("a plaintext stranger: {:#}", refused.as_ref().expect("never falls back to plaintext"));
    let other_ca = pg_lab::Lab::single_tls().unwrap();
    let refused = PgStore::open(&conninfo(&other_ca), Some(&tls), 8).err();
    println!("a stranger of another CA: {:#}", refused.as_ref().expect("the other CA's server is refused"));
}

#[test]
fn a_plaintext_link_to_another_host_is_refused_before_anything_is_sent() {
    let since = Instant::now();
    // 192.0.2.1 is TEST-NET-1: nothing answers there, so only a refusal before connecting is this quick.
    for conninfo in ["host=192.0.2.1 user=v dbname=v", "host=127.0.0.1,192.0.2.1 port=5432,5432 user=v dbname=v"] {
        let refused = PgStore::connect(conninfo, 8).err().expect("refused").to_string();
        assert!(refused.starts_with("VOTING_STORE_PLAINTEXT"), "{refused}");
        assert!(refused.contains("192.0.2.1"), "{refused}");
    }
    assert!(since.elapsed() < Duration::from_secs(2), "refused without trying the network");
}
