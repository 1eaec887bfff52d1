//! The count benchmark (issue 10): N ballots of the demo election's Tokyo contest, encrypted as the browser does,
//! stored and exported by the verifier's own code, then counted by the release `tally count` binary in a fresh
//! SoftHSM2 token made by `tally key-ceremony` (3 of 5 PIN shares). Beside it, in the same run, OpenSSL's RSA-3072
//! private operations per second on all cores (`openssl speed -multi`), the limit the count is compared with.
//!
//! The totals `tally count` signs must equal the choices encrypted, or there is no figure: a fast wrong count is
//! not a result.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use clap::Parser;
use shared::election::Choice;

/// The count benchmark's options.
#[derive(Parser, Debug)]
#[command(about = "Counts N ballots with the release tally in SoftHSM2; prints a JSON report")]
pub struct TallyArgs {
    /// The `tally` binary to run (the release build).
    #[arg(long)]
    pub tally: PathBuf,
    /// How many ballots to count.
    #[arg(long, default_value_t = 100_000)]
    pub ballots: usize,
    /// Decryption threads (PKCS#11 sessions); default: the number of cores.
    #[arg(long)]
    pub threads: Option<usize>,
}

/// The contest counted: the demo election's Tokyo district, nine candidates.
const CONTEST: &str = "tokyo";
const DISTRICT: &str = "tokyo";

/// Runs the count benchmark and returns its JSON report.
pub fn run(args: &TallyArgs) -> anyhow::Result<serde_json::Value> {
    ensure!(args.ballots > 0, "--ballots must be > 0");
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let threads = args.threads.unwrap_or(cores).max(1);
    let module = hsm_lab::module()?;
    let dir = tempfile::tempdir()?;
    let lab = Lab::new(dir.path(), &args.tally)?;

    eprintln!("tally-bench: key ceremony in a fresh SoftHSM2 token");
    let now = chrono::Utc::now();
    let election = verifier::demo::demo_election(now)?;
    let ceremony = dir.path().join("ceremony");
    lab.run(&[
        "key-ceremony",
        "--module",
        s(&module)?,
        "--election-id",
        election.id.as_str(),
        "--official",
        "Counting officer (benchmark)",
        "--token-label",
        "bench election key",
        "--threshold",
        "3",
        "--shares",
        "5",
        "--so-pin-custody",
        "destroyed",
        "--out",
        s(&ceremony)?,
    ])?;
    let pem = std::fs::read_to_string(ceremony.join("election-public-key.pem"))?;
    let key = shared::crypto::ElectionPublicKey::from_pem(&pem)?;

    eprintln!("tally-bench: encrypting {} ballots as the browser does", args.ballots);
    let contest = election.contest(CONTEST).context("the demo election has no Tokyo contest")?;
    let choices: Vec<Choice> = (0..args.ballots)
        .map(|i| match i % 10 {
            9 => Choice::Blank,
            n => Choice::Candidate(n as u16 + 1),
        })
        .collect();
    let ciphertexts = encrypt_all(&election, contest, &key, &choices, cores)?;

    eprintln!("tally-bench: storing and exporting them with the verifier's code");
    let db = verifier::store::Db::open_in_memory()?;
    db.create_election(&election, &key, "bench", now)?;
    for (i, ct) in ciphertexts.iter().enumerate() {
        db.cast(&format!("bench-voter-{i}"), election.id.as_str(), CONTEST, ct)
            .map_err(|e| anyhow::anyhow!("storing ballot {i}: {e}"))?;
    }
    let export_key = verifier::ops::ExportKey::generate(&dir.path().join("export-key.pk8"))?;
    let after_close = election.window().closes_at + chrono::TimeDelta::minutes(1);
    let file = verifier::ops::export(&db, &election, &key, &export_key, DISTRICT, "bench", after_close)?;
    drop(db);
    let export = dir.path().join("export.json");
    std::fs::write(&export, serde_json::to_vec(&file)?)?;
    let election_json = dir.path().join("election.json");
    std::fs::write(&election_json, serde_json::to_vec(&election)?)?;

    let results = dir.path().join("results");
    let count = args.ballots.to_string();
    let threads_arg = threads.to_string();
    let export_public = export_key.public_hex();
    let record = ceremony.join("ceremony.json");
    let mut count_args = vec![
        "count",
        s(&export)?,
        "--election",
        s(&election_json)?,
        "--ceremony",
        s(&record)?,
        "--export-key-public",
        &export_public,
        "--expected-count",
        &count,
        "--module",
        s(&module)?,
        "--allow-raw-rsa-with-host-oaep",
        "--threads",
        &threads_arg,
        "--out",
        s(&results)?,
    ];
    let shares: Vec<PathBuf> = [1, 3, 5].iter().map(|i| ceremony.join(format!("pin-share-{i}-of-5.json"))).collect();
    for share in &shares {
        count_args.extend(["--share", s(share)?]);
    }
    eprintln!("tally-bench: $ tally count … --threads {threads} ({} ballots)", args.ballots);
    let started = Instant::now();
    let stdout = lab.run(&count_args)?;
    let seconds = started.elapsed().as_secs_f64();
    let path =
        if stdout.contains("CKM_RSA_X_509") { "raw RSA in the token, OAEP on the host" } else { "OAEP in the token" };
    check_totals(&results.join("result.json"), &choices)?;

    let private_per_s = openssl_rsa3072_private_per_s(cores)?;
    let ballots_per_s = args.ballots as f64 / seconds;
    Ok(serde_json::json!({
        "ballots": args.ballots,
        "threads": threads,
        "seconds": seconds,
        "ballots_per_s": ballots_per_s,
        "decrypt_path": path,
        "openssl_rsa3072_private_per_s": private_per_s,
        "ratio": ballots_per_s / private_per_s,
        "totals_checked": true,
    }))
}

/// A folder with SoftHSM2's configuration, and the `tally` binary run with it.
struct Lab {
    conf: PathBuf,
    tally: PathBuf,
}

impl Lab {
    fn new(dir: &Path, tally: &Path) -> anyhow::Result<Lab> {
        Ok(Lab { conf: hsm_lab::Lab::new(dir)?.conf, tally: tally.to_path_buf() })
    }

    fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(&self.tally)
            .args(args)
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .with_context(|| format!("could not start {}", self.tally.display()))?;
        if !out.status.success() {
            bail!("tally {} failed: {}", args[0], String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

fn s(p: &Path) -> anyhow::Result<&str> {
    p.to_str().with_context(|| format!("{} is not UTF-8", p.display()))
}

/// Encodes and encrypts every choice with `shared` (as the browser does), on all cores.
fn encrypt_all(
    election: &shared::election::Election,
    contest: &shared::election::Contest,
    key: &shared::crypto::ElectionPublicKey,
    choices: &[Choice],
    cores: usize,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let chunk = choices.len().div_ceil(cores).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = choices
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
                    part.iter()
                        .map(|choice| {
                            let plain = shared::ballot::encode(election, contest, choice)?;
                            Ok(shared::crypto::encrypt_ballot(
                                &mut rng,
                                key,
                                election.id.as_str(),
                                contest.id.as_str(),
                                &plain,
                            )?)
                        })
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(choices.len());
        for part in parts {
            all.extend(part.join().map_err(|_| anyhow::anyhow!("an encryption thread panicked"))??);
        }
        Ok(all)
    })
}

/// Compares the signed result's totals with the choices that were encrypted.
fn check_totals(result: &Path, choices: &[Choice]) -> anyhow::Result<()> {
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(result)?)?;
    let contest = &report["contests"][0];
    let blank = choices.iter().filter(|c| matches!(c, Choice::Blank)).count() as u64;
    ensure!(contest["invalid"] == 0, "the count found invalid ballots: {contest}");
    ensure!(contest["blank"] == blank, "the count found {} blank ballots, {blank} were cast", contest["blank"]);
    for line in contest["candidates"].as_array().context("no candidate lines in the result")? {
        let number = line["number"].as_u64().context("a candidate line without a number")?;
        let cast = choices.iter().filter(|c| matches!(c, Choice::Candidate(n) if u64::from(*n) == number)).count();
        ensure!(line["votes"] == cast as u64, "candidate {number}: counted {}, cast {cast}", line["votes"]);
    }
    Ok(())
}

/// RSA-3072 private operations (signs) per second on all cores: `openssl speed -seconds 3 -multi N rsa3072`.
fn openssl_rsa3072_private_per_s(cores: usize) -> anyhow::Result<f64> {
    eprintln!("tally-bench: $ openssl speed -seconds 3 -multi {cores} rsa3072");
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "3", "-multi", &cores.to_string(), "rsa3072"])
        .output()
        .context("running openssl speed")?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_openssl_sign_per_s(&text, "rsa 3072 bits").with_context(|| format!("no `rsa 3072 bits` line:\n{text}"))
}

/// Reads `sign/s` from openssl speed's summary line `rsa 3072 bits <sign s> <verify s> <sign/s> <verify/s>`.
pub fn parse_openssl_sign_per_s(text: &str, prefix: &str) -> Option<f64> {
    let line = text.lines().rev().find(|l| l.starts_with(prefix))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    fields.get(fields.len().checked_sub(2)?)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sign_per_second_from_openssl_speed() {
        let text = "                  sign    verify    sign/s verify/s\n\
                    rsa 3072 bits 0.002459s 0.000050s    406.7  20061.2\n";
        assert_eq!(parse_openssl_sign_per_s(text, "rsa 3072 bits"), Some(406.7));
        assert_eq!(parse_openssl_sign_per_s("nothing", "rsa 3072 bits"), None);
    }
}
