//! What the token tests share: a House of Councillors election (a district and the national PR, with 特定枠), ballots encrypted exactly as the browser
//! does (`shared`), a ballot encrypted by `openssl pkeyutl`, the export made by the verifier's own code
//! (`verifier::store::Db` + `verifier::ops::export`), and the exact totals those ballots must give.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use shared::ballot::{self, BALLOT_LEN};
use shared::crypto::{ElectionPublicKey, encrypt_ballot, oaep_label, tracker};
use shared::election::{Choice, Election};
use shared::export::{ExportFile, Manifest};
use tally::count::{ContestResult, TallyReport};
use verifier::ops::ExportKey;

/// The election definition of the tests.
pub const ELECTION_JSON: &str = include_str!("../data/election.json");
/// Every contest holds this many ballots (the committee record's count).
pub const VOTERS: u64 = 8;

/// Reads the test election.
pub fn election() -> Election {
    serde_json::from_str(ELECTION_JSON).unwrap()
}

/// What one test ballot is.
pub enum Ballot {
    /// A choice encoded and encrypted as the browser does.
    Plain(Choice),
    /// A choice encrypted by `openssl pkeyutl` with the same label.
    OpenSsl(Choice),
    /// Arbitrary bytes encrypted under the contest's label (decrypts, does not decode).
    Bytes([u8; BALLOT_LEN]),
    /// A valid ballot of another contest, encrypted under this contest's label.
    OtherContest(&'static str, Choice),
    /// A valid ballot encrypted under another contest's label (does not decrypt here).
    WrongLabel,
}

/// The test ballots per contest, each contest with [`VOTERS`] ballots.
pub fn ballots() -> Vec<(&'static str, Vec<Ballot>)> {
    use Ballot::{Bytes, OpenSsl, OtherContest, Plain, WrongLabel};
    use Choice::{Blank, Candidate, Party};
    let mut garbage = [0u8; BALLOT_LEN];
    garbage[..4].copy_from_slice(b"JUNK");
    vec![
        (
            "tokyo",
            vec![
                Plain(Candidate(1)),
                Plain(Candidate(1)),
                Plain(Candidate(1)),
                Plain(Candidate(2)),
                OpenSsl(Candidate(2)),
                Plain(Blank),
                Bytes(garbage),
                WrongLabel,
            ],
        ),
        (
            "national-pr",
            vec![
                Plain(Party(1)),
                Plain(Party(1)),
                Plain(Party(2)),
                Plain(Candidate(11)),
                Plain(Candidate(12)),
                Plain(Candidate(12)),
                Plain(Candidate(21)),
                OtherContest("tokyo", Candidate(1)),
            ],
        ),
    ]
}

/// Encrypts with `openssl pkeyutl` (OAEP, SHA-256, MGF1-SHA-256, the label).
pub fn openssl_encrypt(public_pem: &str, label: &[u8], plain: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pub.pem"), public_pem).unwrap();
    std::fs::write(dir.path().join("plain.bin"), plain).unwrap();
    let out = Command::new("openssl")
        .current_dir(dir.path())
        .args(["pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.pem", "-in", "plain.bin"])
        .args(["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"])
        .arg("-pkeyopt")
        .arg(format!("rsa_oaep_label:{}", hex::encode(label)))
        .output()
        .expect("openssl is needed for the interoperability ballot; `cargo xtask setup` installs it");
    assert!(out.status.success(), "openssl pkeyutl -encrypt: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Encrypts the test ballots under the election key; returns per contest the ciphertexts in tracker order.
pub fn encrypt_all(key: &ElectionPublicKey, public_pem: &str) -> Vec<(String, Vec<Vec<u8>>)> {
    let e = election();
    let eid = e.id.as_str();
    let mut rng = ChaCha20Rng::from_seed([42; 32]);
    ballots()
        .into_iter()
        .map(|(cid, list)| {
            let contest = e.contest(cid).unwrap();
            let mut cts: Vec<Vec<u8>> = list
                .into_iter()
                .map(|b| match b {
                    Ballot::Plain(c) => {
                        encrypt_ballot(&mut rng, key, eid, cid, &ballot::encode(&e, contest, &c).unwrap()).unwrap()
                    }
                    Ballot::OpenSsl(c) => {
                        openssl_encrypt(public_pem, &oaep_label(eid, cid), &ballot::encode(&e, contest, &c).unwrap())
                    }
                    Ballot::Bytes(bytes) => encrypt_ballot(&mut rng, key, eid, cid, &bytes).unwrap(),
                    Ballot::OtherContest(other, c) => {
                        let plain = ballot::encode(&e, e.contest(other).unwrap(), &c).unwrap();
                        encrypt_ballot(&mut rng, key, eid, cid, &plain).unwrap()
                    }
                    Ballot::WrongLabel => {
                        let plain = ballot::encode(&e, contest, &Choice::Blank).unwrap();
                        encrypt_ballot(&mut rng, key, eid, "national-pr", &plain).unwrap()
                    }
                })
                .collect();
            // The verifier stores and exports ciphertexts in hash (tracker) order, never casting order.
            cts.sort_by_key(|c| tracker(c));
            (cid.to_string(), cts)
        })
        .collect()
}

/// Builds the export with the verifier's own code: the ballots cast into a `verifier::store::Db`, then
/// `verifier::ops::export` after the close, signed with a fresh `verifier::ops::ExportKey`.
pub fn export(dir: &Path, key: &ElectionPublicKey, contests: &[(String, Vec<Vec<u8>>)]) -> (ExportFile, String) {
    let export_key = ExportKey::generate(&dir.join("export-key.pk8")).unwrap();
    let e = election();
    let db = verifier::store::Db::open_in_memory().unwrap();
    let before: chrono::DateTime<chrono::Utc> = "2028-07-01T00:00:00Z".parse().unwrap();
    let after: chrono::DateTime<chrono::Utc> = "2028-08-01T00:00:00Z".parse().unwrap();
    db.create_election(&e, key, "test", before).unwrap();
    for (cid, cts) in contests {
        for (i, ct) in cts.iter().enumerate() {
            db.cast(&format!("voter-{i}"), e.id.as_str(), cid, ct).unwrap();
        }
    }
    let file = verifier::ops::export(&db, &e, key, &export_key, "tokyo", "test", after).unwrap();
    let manifest: Manifest = serde_json::from_str(&file.manifest).unwrap();
    let order: Vec<&str> = manifest.contests.iter().map(|c| c.contest_id.as_str()).collect();
    assert_eq!(order, ["tokyo", "national-pr"]);
    for ((cid, cts), b) in contests.iter().zip(&file.ballots) {
        assert_eq!(&b.contest_id, cid);
        assert_eq!(
            b.ciphertexts,
            cts.iter().map(|ct| shared::wire::Base64(ct.clone())).collect::<Vec<_>>(),
            "tracker order"
        );
    }
    (file, export_key.public_hex())
}

fn find<'a>(r: &'a TallyReport, id: &str) -> &'a ContestResult {
    r.contests.iter().find(|c| c.contest_id == id).unwrap()
}

/// Checks the exact totals the test ballots must give.
pub fn assert_expected_totals(r: &TallyReport) {
    let summary = |id: &str| {
        let c = find(r, id);
        (c.voters, c.valid, c.blank, c.invalid)
    };
    let cands = |id: &str| find(r, id).candidates.iter().map(|c| (c.number, c.votes)).collect::<Vec<_>>();
    let parties = |id: &str| {
        find(r, id).parties.iter().map(|p| (p.number, p.party_votes, p.candidate_votes, p.total)).collect::<Vec<_>>()
    };
    assert_eq!(summary("tokyo"), (8, 5, 1, 2), "tokyo: garbage and wrong-label ballots are invalid");
    assert_eq!(cands("tokyo"), vec![(1, 3), (2, 2)], "the openssl ballot counts for candidate 2");
    assert_eq!(summary("national-pr"), (8, 7, 0, 1), "a ballot of another contest is invalid");
    assert_eq!(cands("national-pr"), vec![(11, 1), (12, 2), (21, 1)]);
    assert_eq!(parties("national-pr"), vec![(1, 2, 3, 5), (2, 1, 1, 2)], "特定枠 and list votes go to the party");
    assert!(find(r, "national-pr").candidates[0].tokutei);
}
