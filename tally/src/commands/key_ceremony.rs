//! `tally key-ceremony`: a fresh token, a random user PIN split M-of-N, the RSA-3072 election key generated inside.

use std::path::PathBuf;

use clap::Args;

use crate::ceremony::{CeremonyParams, run_insecure_file_key, run_on_new_token};
use crate::hsm::Hsm;

/// Arguments of `tally key-ceremony`.
#[derive(Debug, Clone, Args)]
pub struct KeyCeremonyArgs {
    /// The PKCS#11 module of the HSM.
    #[arg(long, required_unless_present = "insecure_file_key")]
    pub module: Option<PathBuf>,
    /// The election.
    #[arg(long)]
    pub election_id: String,
    /// An official present (repeatable).
    #[arg(long = "official", required = true)]
    pub officials: Vec<String>,
    /// The label to give the token (at most 32 bytes).
    #[arg(long)]
    pub token_label: String,
    /// The key pair's label in the token.
    #[arg(long, default_value = "election-key")]
    pub key_label: String,
    /// PIN shares needed to count (M).
    #[arg(long, default_value_t = 3)]
    pub threshold: u8,
    /// PIN shares made, one per custodian (N).
    #[arg(long, default_value_t = 5)]
    pub shares: u8,
    /// The token's security officer PIN (from the environment, never on the command line).
    #[arg(long, env = "TALLY_SO_PIN", hide_env_values = true, required_unless_present = "insecure_file_key")]
    pub so_pin: Option<String>,
    /// INSECURE, local demos only: generate the key on this computer and write it to this file (no HSM).
    #[arg(long, conflicts_with_all = ["module", "so_pin"])]
    pub insecure_file_key: Option<PathBuf>,
    /// The output folder.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs the ceremony and prints where everything went.
pub fn run(a: &KeyCeremonyArgs) -> anyhow::Result<()> {
    let params = CeremonyParams {
        election_id: a.election_id.clone(),
        officials: a.officials.clone(),
        token_label: a.token_label.clone(),
        key_label: a.key_label.clone(),
        threshold: a.threshold,
        shares: a.shares,
        out: a.out.clone(),
    };
    let (record, shares) = match (&a.insecure_file_key, &a.module, &a.so_pin) {
        (Some(path), _, _) => {
            eprintln!("WARNING: INSECURE FILE KEY: the election key is generated on this computer, not in an HSM.");
            eprintln!("WARNING: for local demos only; never for a real election (R-COUNT-2).");
            (run_insecure_file_key(&params, path)?, Vec::new())
        }
        (None, Some(module), Some(so_pin)) => {
            let hsm = Hsm::load(module)?;
            run_on_new_token(&hsm, &module.display().to_string(), so_pin, &params)?
        }
        _ => anyhow::bail!("give --module and the SO PIN (TALLY_SO_PIN), or --insecure-file-key for a demo"),
    };
    println!("election key fingerprint: {}", record.key_fingerprint);
    println!("token '{}' serial {}", record.token_label, record.token_serial);
    println!("public key: {}", a.out.join(crate::ceremony::PUBLIC_KEY_FILE).display());
    println!("record: {}", a.out.join(crate::ceremony::RECORD_FILE).display());
    for s in shares {
        println!("PIN share (hand to one custodian, then delete here): {}", s.display());
    }
    Ok(())
}
