//! Before the opening and after the close, on the verifier host: the zero-vote check (R-SYS-3) with the build's
//! hashes, the export key, a district's export for counting (R-COUNT-1), a municipality's record (R-VOTE-12), the
//! online backup, and the OpenAPI documents.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::host::Host;
use super::{DbArg, absolute, checkpoint, guard_clock, open_with_election};
use crate::operators::Role;
use crate::operators::four_eyes::Action;
use crate::store::Db;

#[derive(Subcommand)]
pub(super) enum ExportKeyCommand {
    /// Generate a new key file (never overwrites) and print its public key.
    Generate {
        /// The key file to create.
        #[arg(long)]
        out: PathBuf,
    },
}

/// `backup`'s options.
#[derive(Args)]
pub(super) struct BackupArgs {
    #[command(flatten)]
    db: DbArg,
    /// The new file to write.
    #[arg(long)]
    out: PathBuf,
}

/// `zero-check`'s options.
#[derive(Args)]
pub(super) struct ZeroCheckArgs {
    #[command(flatten)]
    db: DbArg,
    /// The export key file.
    #[arg(long)]
    export_key: PathBuf,
    /// Where to write the signed report (JSON).
    #[arg(long)]
    out: PathBuf,
    /// The audited build's published hashes (`verifier build-hashes`): this binary, the running server's and
    /// the served voter app must match them. Required for a real election.
    #[arg(long, requires_all = ["server", "server_pid"])]
    expected_hashes: Option<PathBuf>,
    /// The running verifier's voter origin (e.g. https://vote.example.jp), from which the app is fetched.
    #[arg(long, requires = "expected_hashes")]
    server: Option<String>,
    /// The running verifier's process id on this host (its binary is read from /proc/PID/exe).
    #[arg(long, requires = "expected_hashes")]
    server_pid: Option<u32>,
}

/// `build-hashes`' options.
#[derive(Args)]
pub(super) struct BuildHashesArgs {
    /// The voter app as built (Trunk's dist/ folder).
    #[arg(long)]
    web_dir: PathBuf,
    /// The verifier binary [default: this one].
    #[arg(long)]
    binary: Option<PathBuf>,
    /// The file to write.
    #[arg(long)]
    out: PathBuf,
}

/// `openapi`'s options.
#[derive(Args)]
pub(super) struct OpenapiArgs {
    /// The operator API (`/op/v1`) instead of the voter API.
    #[arg(long)]
    operator: bool,
}

/// `export`'s options.
#[derive(Args)]
pub(super) struct ExportArgs {
    #[command(flatten)]
    db: DbArg,
    /// The counting district (the contests' district code, e.g. tokyo or national).
    #[arg(long)]
    district: String,
    /// The export key file.
    #[arg(long)]
    export_key: PathBuf,
    /// The export file to write.
    #[arg(long)]
    out: PathBuf,
}

/// `record`'s options.
#[derive(Args)]
pub(super) struct RecordArgs {
    #[command(flatten)]
    db: DbArg,
    /// The municipality code.
    #[arg(long)]
    municipality: String,
    /// The export key file.
    #[arg(long)]
    export_key: PathBuf,
    /// The signed record file to write (refused if it exists).
    #[arg(long)]
    out: PathBuf,
}

/// Generates the export key.
pub(super) fn export_key(command: ExportKeyCommand) -> anyhow::Result<()> {
    let ExportKeyCommand::Generate { out } = command;
    let key = crate::ops::ExportKey::generate(&out)?;
    println!("export key written to {}; public key {}", out.display(), key.public_hex());
    Ok(())
}

/// Prints an API's OpenAPI document.
pub(super) fn openapi(args: &OpenapiArgs) -> anyhow::Result<()> {
    let operator = args.operator;
    let contract = if operator { &crate::contract::OPERATOR } else { &crate::contract::VOTER };
    print!("{}", contract.json());
    Ok(())
}

/// Copies the database while the verifier runs.
pub(super) fn backup(args: &BackupArgs) -> anyhow::Result<()> {
    let BackupArgs { db, out } = args;
    Db::backup(&db.db, out)?;
    println!("{} backed up to {} (integrity_check ok)", db.db.display(), out.display());
    Ok(())
}

/// Writes the hashes of a build.
pub(super) fn build_hashes(args: BuildHashesArgs) -> anyhow::Result<()> {
    let BuildHashesArgs { web_dir, binary, out } = args;
    let binary = match binary {
        Some(b) => b,
        None => std::env::current_exe()?,
    };
    let hashes = crate::ops::build_check::BuildHashes::of_build(&binary, &web_dir)?;
    let json = serde_json::to_string_pretty(&hashes)? + "\n";
    files::create_new(&out, json.as_bytes(), files::Access::Everyone)?;
    println!("build hashes written to {}: verifier {}, {} app files", out.display(), hashes.verifier, hashes.web.len());
    Ok(())
}

/// Checks and signs that the ballot box is empty and untouched (R-SYS-3).
pub(super) fn zero_check(args: ZeroCheckArgs, host: &Host) -> anyhow::Result<()> {
    let ZeroCheckArgs { db: arg, export_key, out, expected_hashes, server, server_pid } = args;
    let clock = host.clock;
    let (db, election, key) = open_with_election(&arg)?;
    let op = host.operator(&db, &[Role::Admin, Role::Auditor], "zero-check")?;
    let export_key = crate::ops::ExportKey::load(&export_key)?;
    guard_clock(clock, &election, &db, "zero-check", &op.actor())?;
    let build = match (expected_hashes, server, server_pid) {
        (Some(expected), Some(server), Some(pid)) => Some(crate::ops::build_check::check(&expected, &server, pid)?),
        _ => None,
    };
    let report = crate::ops::zero_check(&db, &election, &key, clock.now(), build, &op.actor())?;
    let json = serde_json::to_string_pretty(&report)?;
    let signed = serde_json::json!({ "report": json, "signature": export_key.sign(json.as_bytes()), "export_public_key": export_key.public_hex() });
    files::replace(&out, serde_json::to_string_pretty(&signed)?.as_bytes(), files::Access::Everyone)?;
    println!("{json}");
    println!("zero-vote check passed; signed report written to {}", out.display());
    checkpoint(&db, &arg, clock, "zero_check")
}

/// Asks for a district's export (four eyes: a counting officer approves).
pub(super) fn export(args: ExportArgs, host: &Host) -> anyhow::Result<()> {
    let ExportArgs { db: arg, district, export_key, out } = args;
    crate::ops::ExportKey::load(&export_key)?;
    let (export_key, out) = (absolute(&export_key)?, absolute(&out)?);
    host.ask(&arg, Action::Export { district, export_key, out })
}

/// Writes a municipality's signed record and its printable page (R-VOTE-12).
pub(super) fn record(args: RecordArgs, host: &Host) -> anyhow::Result<()> {
    let RecordArgs { db: arg, municipality, export_key, out } = args;
    let clock = host.clock;
    let (db, election, _) = open_with_election(&arg)?;
    let op = host.operator(&db, &[Role::Admin, Role::Auditor], "record")?;
    let export_key = crate::ops::ExportKey::load(&export_key)?;
    guard_clock(clock, &election, &db, "record", &op.actor())?;
    let record = crate::registration::record(&db, &op, &election, &municipality, clock.now())
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
    let signed = crate::registration::SignedRecord::sign(&record, &export_key)?;
    let json = serde_json::to_string_pretty(&signed)? + "\n";
    files::create_new(&out, json.as_bytes(), files::Access::Everyone)?;
    let page = crate::registration::record_html(&record);
    files::create_new(&out.with_extension("html"), page.as_bytes(), files::Access::Everyone)?;
    let total: i64 = record.voters_per_contest.iter().map(|(_, n)| n).sum();
    println!(
        "record of {municipality}: {} voters, {total} votes over {} contests; signed file {}, page {}",
        record.voters.len(),
        record.voters_per_contest.len(),
        out.display(),
        out.with_extension("html").display()
    );
    checkpoint(&db, &arg, clock, "record")
}
