//! `tally key-ceremony`: a fresh token, random SO and user PINs (the user PIN split M-of-N, the SO PIN split or
//! destroyed), the RSA-3072 election key generated inside. No PIN is ever read from the command line or the
//! environment: `--so-pin` and `TALLY_SO_PIN`, which earlier versions took, are refused with the reason.

use std::path::PathBuf;

use clap::Args;

use crate::ceremony::{CeremonyParams, SoPinCustody, run_insecure_file_key, run_on_new_token};
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
    /// What becomes of the token's security officer PIN, which the ceremony makes at random: `split` among the
    /// custodians like the user PIN, or `destroyed` (never written; the token can then never be reset).
    #[arg(long, value_enum, required_unless_present = "insecure_file_key")]
    pub so_pin_custody: Option<SoPinCustody>,
    /// Refused: a PIN on the command line is seen by every user of the computer (`ps`) and kept in shell history.
    #[arg(long, hide = true)]
    pub so_pin: Option<String>,
    /// INSECURE, local demos only: generate the key on this computer and write it to this file (no HSM).
    #[arg(long, conflicts_with_all = ["module", "so_pin_custody"])]
    pub insecure_file_key: Option<PathBuf>,
    /// The output folder.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs the ceremony and prints where everything went.
pub fn run(a: &KeyCeremonyArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.so_pin.is_none() && std::env::var_os("TALLY_SO_PIN").is_none(),
        "no PIN is taken on the command line or from the environment: the ceremony makes the token's security \
         officer PIN itself, so that nobody knows it alone. Remove --so-pin (and unset TALLY_SO_PIN), and choose \
         --so-pin-custody split or destroyed"
    );
    let params = CeremonyParams {
        election_id: a.election_id.clone(),
        officials: a.officials.clone(),
        token_label: a.token_label.clone(),
        key_label: a.key_label.clone(),
        threshold: a.threshold,
        shares: a.shares,
        so_pin: a.so_pin_custody.unwrap_or(SoPinCustody::None),
        out: a.out.clone(),
    };
    let (record, shares) = match (&a.insecure_file_key, &a.module) {
        (Some(path), _) => {
            eprintln!("WARNING: INSECURE FILE KEY: the election key is generated on this computer, not in an HSM.");
            eprintln!("WARNING: for local demos only; never for a real election (R-COUNT-2).");
            (run_insecure_file_key(&params, path)?, Vec::new())
        }
        (None, Some(module)) => {
            let hsm = Hsm::load(module)?;
            run_on_new_token(&hsm, &module.display().to_string(), &params)?
        }
        (None, None) => anyhow::bail!("give --module and --so-pin-custody, or --insecure-file-key for a demo"),
    };
    println!("election key fingerprint: {}", record.key_fingerprint);
    println!("token '{}' serial {}", record.token_label, record.token_serial);
    println!("public key: {}", a.out.join(crate::ceremony::PUBLIC_KEY_FILE).display());
    println!("record: {}", a.out.join(crate::ceremony::RECORD_FILE).display());
    for s in shares {
        println!("PIN share (hand to one custodian, then delete here): {}", s.display());
    }
    match record.so_pin {
        SoPinCustody::Split => println!("security officer PIN: split like the user PIN (so-pin-share files)"),
        SoPinCustody::Destroyed => println!("security officer PIN: destroyed (random, written nowhere)"),
        SoPinCustody::None => {}
    }
    Ok(())
}
