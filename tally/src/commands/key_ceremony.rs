//! `tally key-ceremony`: a fresh token, a random user PIN split M-of-N, the RSA-3072 election key generated inside.

use std::path::PathBuf;

use clap::Args;

use crate::ceremony::{CeremonyParams, run_on_new_token};
use crate::hsm::Hsm;

/// Arguments of `tally key-ceremony`.
#[derive(Debug, Clone, Args)]
pub struct KeyCeremonyArgs {
    /// The PKCS#11 module of the HSM.
    #[arg(long)]
    pub module: PathBuf,
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
    #[arg(long, env = "TALLY_SO_PIN", hide_env_values = true)]
    pub so_pin: String,
    /// The output folder.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs the ceremony and prints where everything went.
pub fn run(a: &KeyCeremonyArgs) -> anyhow::Result<()> {
    let hsm = Hsm::load(&a.module)?;
    let params = CeremonyParams {
        election_id: a.election_id.clone(),
        officials: a.officials.clone(),
        token_label: a.token_label.clone(),
        key_label: a.key_label.clone(),
        threshold: a.threshold,
        shares: a.shares,
        out: a.out.clone(),
    };
    let (record, shares) = run_on_new_token(&hsm, &a.module.display().to_string(), &a.so_pin, &params)?;
    println!("election key fingerprint: {}", record.key_fingerprint);
    println!("token '{}' serial {}", record.token_label, record.token_serial);
    println!("public key: {}", a.out.join(crate::ceremony::PUBLIC_KEY_FILE).display());
    println!("record: {}", a.out.join(crate::ceremony::RECORD_FILE).display());
    for s in shares {
        println!("PIN share (hand to one custodian, then delete here): {}", s.display());
    }
    Ok(())
}
