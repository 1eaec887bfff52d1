//! `tally count`: check the export, rebuild the PIN from M shares in memory, decrypt in the token and count.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::commands::import::ImportArgs;
use crate::hsm::Decryptor;
use crate::signing::SigningKey;

/// Arguments of `tally count`.
#[derive(Debug, Clone, Args)]
pub struct CountArgs {
    /// The export and what to check it against.
    #[command(flatten)]
    pub import: ImportArgs,
    /// The PKCS#11 module of the HSM.
    #[arg(long, required_unless_present = "insecure_file_key")]
    pub module: Option<PathBuf>,
    /// A custodian's PIN share file (repeat M times).
    #[arg(long = "share", required_unless_present = "insecure_file_key")]
    pub shares: Vec<PathBuf>,
    /// INSECURE, local demos only: decrypt on this computer with the key file of an insecure demo ceremony.
    #[arg(long, conflicts_with_all = ["module", "shares", "allow_raw_rsa_with_host_oaep"])]
    pub insecure_file_key: Option<PathBuf>,
    /// When the token refuses OAEP with SHA-256: raw RSA in the token and OAEP decoded on the host.
    #[arg(long)]
    pub allow_raw_rsa_with_host_oaep: bool,
    /// PKCS#11 sessions (threads) decrypting at once; default: the number of cores.
    #[arg(long)]
    pub threads: Option<usize>,
    /// A contest with fewer internet ballots than this is flagged in the result and warned about: published alone,
    /// its totals could show how individual internet voters voted.
    #[arg(long, default_value_t = crate::count::DEFAULT_SMALL_COUNT_K)]
    pub small_count_k: u64,
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
    // The session that logged in must stay open while the other sessions decrypt.
    let (decryptor, _session) = match (&a.insecure_file_key, &a.module) {
        (Some(path), _) => {
            eprintln!("WARNING: INSECURE FILE KEY: decrypting on this computer, not in an HSM (local demo only).");
            anyhow::ensure!(
                record.module == crate::ceremony::INSECURE_MODULE,
                "--insecure-file-key is only for the record of an insecure demo ceremony; this one used {}",
                record.module
            );
            let pem = zeroize::Zeroizing::new(
                std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
            );
            let key = <rsa::PrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_pem(&pem)
                .map_err(|e| anyhow::anyhow!("{} is not a PKCS#8 RSA key: {e}", path.display()))?;
            let der = rsa::pkcs8::EncodePublicKey::to_public_key_der(&key.to_public_key())
                .map_err(|e| anyhow::anyhow!("encoding the public key: {e}"))?;
            let public = shared::crypto::ElectionPublicKey::from_spki_der(der.as_bytes())?;
            anyhow::ensure!(
                public.fingerprint() == record.key_fingerprint,
                "the key file has fingerprint {}, the ceremony's is {}",
                public.fingerprint(),
                record.key_fingerprint
            );
            (Decryptor::insecure_file_key(key), None)
        }
        (None, Some(module)) => {
            let t = crate::ceremony::open_token(&record, module, &a.shares)?;
            let decryptor = Decryptor::select(&t.hsm, &t.session, t.slot, &t.key, a.allow_raw_rsa_with_host_oaep)?;
            (decryptor, Some(t.session))
        }
        (None, None) => anyhow::bail!("give --module and --share files, or --insecure-file-key for a demo"),
    };
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let progress = ProgressBar::new(0);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} ballots {per_sec} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = crate::count::count(&election, &export, &decryptor, threads, a.small_count_k, &progress)?;
    crate::count::write_results(&a.out, &report, &signing_key)?;
    print!("{}", crate::count::to_table(&report));
    println!("\nresults: {}", a.out.display());
    Ok(())
}
