//! `tally count`: check the export, rebuild the PIN from M shares in memory, decrypt in the token and count.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::ImportArgs;
use crate::custody::{combine, read_shares};
use crate::hsm::{Decryptor, Hsm, check_key_policy, find_election_key};
use crate::signing::SigningKey;

/// Arguments of `tally count`.
#[derive(Debug, Clone, Args)]
pub struct CountArgs {
    /// The export and what to check it against.
    #[command(flatten)]
    pub import: ImportArgs,
    /// The PKCS#11 module of the HSM.
    #[arg(long)]
    pub module: PathBuf,
    /// A custodian's PIN share file (repeat M times).
    #[arg(long = "share", required = true)]
    pub shares: Vec<PathBuf>,
    /// When the token refuses OAEP with SHA-256: raw RSA in the token and OAEP decoded on the host.
    #[arg(long)]
    pub allow_raw_rsa_with_host_oaep: bool,
    /// PKCS#11 sessions (threads) decrypting at once; default: the number of cores.
    #[arg(long)]
    pub threads: Option<usize>,
    /// The ceremony's Ed25519 key that signs the results (default: beside the ceremony record).
    #[arg(long)]
    pub signing_key: Option<PathBuf>,
    /// The folder for result.json, result.csv and their signatures.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs the count and prints the table.
pub fn run(a: &CountArgs) -> anyhow::Result<()> {
    let (election, record, _, export) = crate::commands::import::load(&a.import)?;
    let signing_key_path = a.signing_key.clone().unwrap_or_else(|| {
        a.import.ceremony.parent().unwrap_or(std::path::Path::new(".")).join(crate::ceremony::SIGNING_KEY_FILE)
    });
    let signing_key = SigningKey::load(&signing_key_path)?;
    let shares = read_shares(&a.shares)?;
    let pin = combine(&shares, &record.key_fingerprint)?;
    let hsm = Hsm::load(&a.module)?;
    let (slot, serial) = hsm.find_token(&record.token_label)?;
    anyhow::ensure!(
        serial == record.token_serial,
        "token '{}' has serial {serial}, the ceremony's had {}",
        record.token_label,
        record.token_serial
    );
    let session = hsm.login(slot, &pin).context("opening the token with the rebuilt PIN")?;
    drop(pin);
    let key = find_election_key(&session, &record.key_label)?;
    check_key_policy(&session, key.private)?;
    anyhow::ensure!(
        key.public.fingerprint() == record.key_fingerprint,
        "the token's key has fingerprint {}, the ceremony's is {}",
        key.public.fingerprint(),
        record.key_fingerprint
    );
    let decryptor = Decryptor::select(&hsm, &session, slot, &key, a.allow_raw_rsa_with_host_oaep)?;
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let progress = ProgressBar::new(0);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} ballots {per_sec} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = crate::count::count(&election, &export, &decryptor, threads, &progress)?;
    crate::count::write_results(&a.out, &report, &signing_key)?;
    print!("{}", crate::count::to_table(&report));
    println!("\nresults: {}", a.out.display());
    Ok(())
}
