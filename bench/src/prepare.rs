//! Preparing the run: the test authority and its cards, the election and the voters through the verifier's own
//! commands (`election create --redate-for-demo`, `voters import`), and every ballot encrypted and signed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use shared::election::Choice;
use test_pki::{IssuedCard, Person, Sex, TestAuthority};

use crate::{Args, CONTESTS};

/// The committed test election key (its private half decrypts only in tests).
const ELECTION_PUB: &str = include_str!("../../shared/tests/data/test-election-key.pub.pem");
/// Distinct RSA key pairs: every voter has their own certificates, but generating two RSA-2048 keys per voter
/// would take minutes, so cards share these key pairs round-robin.
const KEY_PAIRS: usize = 4;

/// One voter: their authentication certificate and key (for the login) and their prepared cast bodies.
pub struct PreparedVoter {
    /// The authentication certificate, DER.
    pub auth_cert_der: Vec<u8>,
    /// Which of the shared key pairs the voter's card holds.
    pub key_pair: usize,
    /// One JSON cast body per contest of `CONTESTS[..args.contests]`, in that order.
    pub casts: Vec<Vec<u8>>,
}

/// Everything the load needs.
pub struct Prepared {
    /// The verifier's database.
    pub db: PathBuf,
    /// The test authority's folder (the verifier's trust store).
    pub trust_dir: PathBuf,
    /// The shared authentication keys.
    pub auth_keys: Vec<Arc<RsaKeyPair>>,
    /// The voters.
    pub voters: Vec<PreparedVoter>,
}

fn person(i: usize) -> anyhow::Result<Person> {
    Ok(Person {
        name: format!("在外 太郎{i}"),
        address: "東京都千代田区".into(),
        birth_date: "1980-01-01".parse()?,
        sex: Sex::Male,
    })
}

/// Issues the cards, creates the election, imports the voters and prepares every cast.
pub fn prepare(args: &Args, dir: &Path) -> anyhow::Result<Prepared> {
    let trust_dir = dir.join("ca");
    let ca = TestAuthority::init(&trust_dir)?;
    eprintln!("bench: issuing {} test cards ({KEY_PAIRS} key pairs)", args.voters);
    let pool: Vec<IssuedCard> = (0..KEY_PAIRS).map(|i| ca.issue(&person(i)?, 365)).collect::<anyhow::Result<_>>()?;
    let people: Vec<Person> = (0..args.voters).map(person).collect::<anyhow::Result<_>>()?;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let cards = ca.issue_many_sharing_keys(&people, 365, &pool, threads)?;
    let auth_keys = keys(&pool, |c| &c.auth_key_pkcs8_der)?;
    let sign_keys = keys(&pool, |c| &c.sign_key_pkcs8_der)?;

    let db = dir.join("verifier.sqlite");
    let key_file = dir.join("election.pub.pem");
    std::fs::write(&key_file, ELECTION_PUB)?;
    let toml_file = dir.join("election.toml");
    std::fs::write(&toml_file, verifier::demo::DEMO_TOML)?;
    // The host's named operators (issue 21): two admins create the election under four eyes.
    let crew =
        verifier::operators::crew::Crew::bootstrap(&args.verifier, &db, &dir.join("operator-ca"), &dir.join("crew"))?;
    let (toml, key) = (toml_file.to_str().context("not UTF-8")?, key_file.to_str().context("not UTF-8")?);
    crew.four_eyes(&["election", "create", toml, "--public-key", key, "--redate-for-demo"])?;
    let mut lines = String::new();
    for (i, c) in cards.iter().enumerate() {
        let record = serde_json::json!({
            "person_id": format!("person-{i}"), "municipality": "13101", "districts": ["tokyo", "national"],
            "auth_certificates": [B64.encode(&c.auth_cert_der)],
            "sign_certificates": [B64.encode(&c.sign_cert_der)],
        });
        lines.push_str(&record.to_string());
        lines.push('\n');
    }
    let voters_file = dir.join("voters.jsonl");
    std::fs::write(&voters_file, lines)?;
    eprintln!("bench: importing {} voters with `verifier voters import`", args.voters);
    run(crew.command(&crew.admins[0]).args(["voters", "import"]).arg(&voters_file).arg("--trust-dir").arg(&trust_dir))?;

    let (election, key) = verifier::store::Db::open(&db)?.election()?.context("the election was not created")?;
    let contests = &CONTESTS[..args.contests];
    eprintln!("bench: encrypting and signing {} ballots", args.voters * contests.len());
    let size = cards.len().div_ceil(threads).max(1);
    let voters = std::thread::scope(|scope| {
        let handles: Vec<_> = cards
            .chunks(size)
            .enumerate()
            .map(|(n, chunk)| {
                let (election, key, sign_keys) = (&election, &key, &sign_keys);
                scope.spawn(move || -> anyhow::Result<Vec<PreparedVoter>> {
                    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
                    let signer = SystemRandom::new();
                    let mut out = Vec::with_capacity(chunk.len());
                    for (j, card) in chunk.iter().enumerate() {
                        let key_pair = (n * size + j) % KEY_PAIRS;
                        let mut casts = Vec::with_capacity(contests.len());
                        for contest in contests {
                            let c = election.contest(contest).context("the demo election lost a contest")?;
                            let plain = shared::ballot::encode(election, c, &Choice::Blank)?;
                            let ct =
                                shared::crypto::encrypt_ballot(&mut rng, key, election.id.as_str(), contest, &plain)?;
                            let message = shared::crypto::envelope_message(election.id.as_str(), contest, &ct);
                            let sig = sign(&sign_keys[key_pair], &signer, &message)?;
                            let body = serde_json::json!({
                                "contest": contest,
                                "ciphertext": B64.encode(&ct),
                                "signature": B64.encode(sig),
                                "certificate": B64.encode(&card.sign_cert_der),
                            });
                            casts.push(serde_json::to_vec(&body)?);
                        }
                        out.push(PreparedVoter { auth_cert_der: card.auth_cert_der.clone(), key_pair, casts });
                    }
                    Ok(out)
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.join().map_err(|_| anyhow::anyhow!("a signing thread panicked"))??);
        }
        anyhow::Ok(all)
    })?;
    Ok(Prepared { db, trust_dir, auth_keys, voters })
}

/// The cards' keys, read by *ring*, which signs several times faster than the `rsa` crate (the card's own
/// signature is the same PKCS#1 v1.5 SHA-256 either way).
fn keys(pool: &[IssuedCard], der: impl Fn(&IssuedCard) -> &[u8]) -> anyhow::Result<Vec<Arc<RsaKeyPair>>> {
    pool.iter()
        .map(|c| {
            RsaKeyPair::from_pkcs8(der(c)).map(Arc::new).map_err(|e| anyhow::anyhow!("reading a test card's key: {e}"))
        })
        .collect()
}

/// Signs `message` as the card does: RSA PKCS#1 v1.5 over its SHA-256.
pub fn sign(key: &RsaKeyPair, rng: &SystemRandom, message: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, rng, message, &mut sig).map_err(|_| anyhow::anyhow!("signing failed"))?;
    Ok(sig)
}

fn run(c: &mut Command) -> anyhow::Result<()> {
    let out = c.output().with_context(|| format!("could not start {:?}", c.get_program()))?;
    if !out.status.success() {
        bail!("{:?} failed: {}", c.get_program(), String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Counts the registered voters and the stored ballots (in the ballot box or waiting in its pool), read back from
/// the two stores after the run.
pub fn counts(db: &Path) -> anyhow::Result<(i64, i64)> {
    let conn = rusqlite::Connection::open(db)?;
    let voters = conn.query_row("SELECT count(*) FROM voters", [], |r| r.get(0))?;
    let ballot_box = rusqlite::Connection::open(verifier::store::ballot_box_path(db))?;
    let ballots =
        ballot_box
            .query_row("SELECT (SELECT count(*) FROM ballots) + (SELECT count(*) FROM pool)", [], |r| r.get(0))?;
    Ok((voters, ballots))
}
