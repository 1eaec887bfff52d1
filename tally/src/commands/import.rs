//! `tally import`: every check of an export file, nothing decrypted.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use shared::crypto::ElectionPublicKey;
use shared::election::Election;

use crate::import::{Expectations, VerifiedExport, verify_export};

/// What `import` and `count` check an export file against.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The export file (the verifier's `export`).
    pub file: PathBuf,
    /// The election definition (JSON), as the verifier was given it.
    #[arg(long)]
    pub election: PathBuf,
    /// The signed ceremony record (`ceremony.json`).
    #[arg(long)]
    pub ceremony: PathBuf,
    /// The verifier's published export key (Ed25519 public key, hex).
    #[arg(long)]
    pub export_key_public: String,
    /// The committee record's number of internet voters (R-VOTE-12): every contest must hold this many ballots.
    #[arg(long)]
    pub expected_count: u64,
    /// A contest whose count differs from --expected-count, as CONTEST=N (repeatable).
    #[arg(long, value_parser = parse_contest_count)]
    pub expected_count_per_contest: Vec<(String, u64)>,
}

fn parse_contest_count(s: &str) -> Result<(String, u64), String> {
    let (c, n) = s.split_once('=').ok_or_else(|| format!("expected CONTEST=N, got {s:?}"))?;
    Ok((c.to_string(), n.parse().map_err(|_| format!("{n:?} is not a count"))?))
}

/// Reads the election, the ceremony record and the export, and checks them; shared with `count`.
pub fn load(a: &ImportArgs) -> anyhow::Result<(Election, crate::ceremony::CeremonyRecord, String, VerifiedExport)> {
    let election: Election = serde_json::from_slice(
        &std::fs::read(&a.election).with_context(|| format!("reading {}", a.election.display()))?,
    )
    .with_context(|| format!("{} is not an election definition", a.election.display()))?;
    election.validate()?;
    let (record, ceremony_key) = crate::ceremony::read_record(&a.ceremony)?;
    anyhow::ensure!(
        record.election_id == election.id.as_str(),
        "the ceremony was for election {}, the definition is {}",
        record.election_id,
        election.id
    );
    let public = ElectionPublicKey::from_pem(&record.public_key_pem)?;
    let want = Expectations {
        export_key_public: a.export_key_public.clone(),
        key_fingerprint: record.key_fingerprint.clone(),
        ciphertext_len: public.ciphertext_len(),
        expected_count: a.expected_count,
        expected_count_per_contest: a.expected_count_per_contest.iter().cloned().collect(),
    };
    let bytes = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let export = verify_export(&bytes, &election, &want)?;
    Ok((election, record, ceremony_key, export))
}

/// Checks the export and prints what it holds.
pub fn run(a: &ImportArgs) -> anyhow::Result<()> {
    let (_, record, ceremony_key, export) = load(a)?;
    println!("ceremony record signed by {ceremony_key}; election key {}", record.key_fingerprint);
    println!(
        "export OK: election {} district {} ballot-box digest {}",
        export.manifest.election_id, export.manifest.district, export.manifest.ballot_box_digest
    );
    for c in &export.manifest.contests {
        println!("  {}: {} ballots, tracker root {}", c.contest_id, c.count, c.tracker_root);
    }
    Ok(())
}
