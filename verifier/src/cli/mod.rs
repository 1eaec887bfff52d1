//! The `verifier` command line (clap derive): [`Cli`] and its [`Command`]s here, one file per group of subcommands
//! beside it, as `tally` does:
//! - [`serve`]: `serve`, the voter API and the app (and the operator API); its settings file is read by the
//!   `settings` crate (defaults, file, environment, flags).
//! - [`election`]: `election check | create` and `voters import`.
//! - [`host`]: the named operator on this host: `login`, `logout`, four-eyes `requests` and `approve`, `pause`,
//!   `resume`.
//! - [`operators`]: `operators bootstrap | init-ca | issue | revoke | list | server-cert`.
//! - [`ops`]: before the opening and after the close: `zero-check`, `build-hashes`, `export-key`, `export`, `record`,
//!   `backup`, `openapi`.
//! - [`audit`]: `audit verify | checkpoints`.
//! - [`research`]: `research election | report | study-report`.
//!
//! What it must never do: run a command that changes the election without a named operator (R-SEC-4), or let
//! the insecure test clock touch a real election.

mod audit;
mod election;
mod host;
mod operators;
mod ops;
mod research;
mod serve;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, CommandFactory, Parser, Subcommand};
use shared::crypto::ElectionPublicKey;
use shared::election::Election;

pub use election::{import_voters, load_election};

use crate::clock::Clock;
use crate::operators::host::Credentials;
use crate::store::Db;
use crate::store::checkpoints::AuditKey;

/// The actor of the first administrators' registration (`operators bootstrap`), before any operator exists.
const BOOTSTRAP: &str = "operator:bootstrap";
/// The actor of what the host does by itself (its audit key's creation).
const HOST: &str = "host";

#[derive(Parser)]
#[command(name = "verifier", about = "The voting subsystem of the overseas internet voting system")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// INSECURE, for rehearsals and tests only: shift the election clock by this many seconds (may be negative),
    /// so that a voting window opens and closes within minutes. Refused for a real (non-practice) election;
    /// logged, audited and shown on voter pages.
    #[arg(long, global = true, env = "VERIFIER_INSECURE_TEST_CLOCK_OFFSET_SECONDS", allow_hyphen_values = true)]
    insecure_test_clock_offset_seconds: Option<i64>,
    /// Your operator certificate (PEM). Every command that changes the election runs under a named operator
    /// (R-SEC-4): give it with --operator-key, after `verifier login`.
    #[arg(long, global = true, env = "VERIFIER_OPERATOR_CERT")]
    operator_cert: Option<PathBuf>,
    /// Your operator key (PKCS#8 PEM); `verifier login` keeps the host session beside it (KEY.host-session).
    #[arg(long, global = true, env = "VERIFIER_OPERATOR_KEY")]
    operator_key: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the voter API and the voter app.
    Serve(Box<serve::ServeArgs>),
    /// Election definitions.
    #[command(subcommand)]
    Election(election::ElectionCommand),
    /// Registered internet voters.
    #[command(subcommand)]
    Voters(election::VotersCommand),
    /// Log in on this host as a named operator (your certificate and key, and the code of your authenticator app):
    /// the commands that change the election then run under your name for 8 hours (R-SEC-4).
    Login(host::LoginArgs),
    /// End your host session.
    Logout(DbArg),
    /// The four-eyes requests waiting for another operator's approval (critical actions, issue 21).
    Requests(DbArg),
    /// Approve another operator's request and carry it out here, under both names (four eyes).
    Approve(host::ApproveArgs),
    /// Pause voting with a reason shown to voters (R-VOTE-3); four eyes: another admin approves.
    Pause(host::PauseArgs),
    /// Resume voting; four eyes: another admin approves.
    Resume(DbArg),
    /// The audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// UX research in practice elections (tracker issue 9): mock elections and the report of the metrics.
    #[command(subcommand)]
    Research(research::ResearchCommand),
    /// Operators of the operator API (R-SEC-4): their CA, client certificates and TOTP secrets.
    #[command(subcommand)]
    Operators(operators::OperatorsCommand),
    /// The verifier's export key (Ed25519) that signs zero-check reports and exports.
    #[command(subcommand, name = "export-key")]
    ExportKey(ops::ExportKeyCommand),
    /// Copy the database while the verifier runs (SQLite's online backup API): one consistent snapshot.
    Backup(ops::BackupArgs),
    /// Before opening: check and sign that the ballot box is empty and untouched (R-SYS-3).
    ZeroCheck(ops::ZeroCheckArgs),
    /// Write the hashes of a build (the verifier binary and every file of the voter app) for `zero-check
    /// --expected-hashes`: run on the audited, reproducible build and publish the file.
    BuildHashes(ops::BuildHashesArgs),
    /// Print an API's OpenAPI 3.1 document (JSON), made from `verifier/src/contract/`: the voter API, or with
    /// `--operator` the operator API. The repository's `verifier/openapi.json` and `operator-openapi.json` are
    /// this output.
    Openapi(ops::OpenapiArgs),
    /// After the close: write a counting district's ballots and a signed manifest for offline counting (R-COUNT-1),
    /// and beside it (OUT with .election.json) the election definition in force, whose digest the manifest carries.
    /// Four eyes: an admin requests it, a counting officer approves it.
    Export(ops::ExportArgs),
    /// After the close: write one municipality's record (調書, R-VOTE-12) as the file that goes to the committee
    /// of its 指定在外選挙投票区, signed with the export key, and its printable page beside it (OUT with .html).
    Record(ops::RecordArgs),
}

#[derive(Args)]
struct DbArg {
    /// The verifier's SQLite database.
    #[arg(long, env = "VERIFIER_DB", default_value = "verifier.sqlite")]
    db: PathBuf,
    /// The audit key (Ed25519) that signs the audit log's checkpoints, held apart from the database; made at
    /// first use [default: DB with .audit-key.pk8, e.g. verifier.audit-key.pk8].
    #[arg(long, env = "VERIFIER_AUDIT_KEY")]
    audit_key: Option<PathBuf>,
    #[command(flatten)]
    store: VotingStoreArgs,
}

/// Where the voting store on PostgreSQL is and how to reach it (`serve` and the commands that read it; issue 24).
#[derive(Args, Clone, Default)]
struct VotingStoreArgs {
    /// The voting store on PostgreSQL shared by every front-end (libpq key=value; e.g. `host=a,b port=5432,5432
    /// dbname=vote target_session_attrs=read-write`): the marks, emergency paper votes and ballot box are there,
    /// and the database (--db) keeps the roll, registration and audit log.
    #[arg(long, env = "VERIFIER_VOTING_STORE")]
    voting_store: Option<String>,
    /// The CA (PEM) that signed the voting store's server certificates: the link is then TLS, required for any
    /// host but this machine.
    #[arg(long, env = "VERIFIER_VOTING_STORE_CA", requires = "voting_store")]
    voting_store_ca: Option<PathBuf>,
    /// This front-end's client certificate (PEM) for the voting store.
    #[arg(long, env = "VERIFIER_VOTING_STORE_CERT", requires_all = ["voting_store_ca", "voting_store_key"])]
    voting_store_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, env = "VERIFIER_VOTING_STORE_KEY", requires = "voting_store_cert")]
    voting_store_key: Option<PathBuf>,
}

impl VotingStoreArgs {
    /// The options that open the store: its connection string and TLS files.
    fn options(&self) -> crate::store::DbOptions {
        let tls = self.voting_store_ca.clone().map(|ca| crate::store::pg::link::TlsFiles {
            ca,
            client: self.voting_store_cert.clone().zip(self.voting_store_key.clone()),
        });
        crate::store::DbOptions { voting_store: self.voting_store.clone(), voting_store_tls: tls, ..Default::default() }
    }
}

impl DbArg {
    /// Opens the database (and the voting store on PostgreSQL, if given).
    fn open(&self) -> anyhow::Result<Db> {
        Db::open_with(&self.db, self.store.options())
    }

    fn audit_key_path(&self) -> PathBuf {
        self.audit_key.clone().unwrap_or_else(|| AuditKey::default_path(&self.db))
    }
}

/// Loads the audit key (making it at first use, audited with its public key) and signs a checkpoint of the log
/// after a critical action (issue 21); prints what it signed.
fn checkpoint(db: &Db, arg: &DbArg, clock: Clock, reason: &str) -> anyhow::Result<()> {
    let key = load_audit_key(db, &arg.audit_key_path(), clock)?;
    if let Some(c) =
        db.with(|conn| crate::store::checkpoints::sign_head(conn, &key, clock.real_now(), reason, false))?
    {
        println!("audit checkpoint: entry {} head {} signed with audit key {}", c.seq, c.head, c.public_key);
    }
    Ok(())
}

fn load_audit_key(db: &Db, path: &Path, clock: Clock) -> anyhow::Result<AuditKey> {
    let (key, created) = AuditKey::load_or_create(path)?;
    if created {
        let detail = serde_json::json!({ "public_key": key.public_hex(), "file": path.display().to_string() });
        db.audit(clock.real_now(), HOST, "audit_key_created", detail)?;
        // On stderr: `serve` announces its address as the first line of stdout.
        eprintln!("verifier: audit key created in {}; public key {} (publish it)", path.display(), key.public_hex());
    }
    Ok(key)
}

/// Runs the command line; errors are printed with their chain and give a non-zero exit.
pub fn main() -> ExitCode {
    match parse(std::env::args_os().collect()).and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("verifier: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Returns the command line's definition: `serve`'s options are the keys of its settings file.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Parses the command line over `serve`'s settings file, if one is named (`--config` or `VERIFIER_CONFIG`): its
/// keys become the options' defaults, so the environment and the flags override them ([`settings`]).
fn parse(argv: Vec<std::ffi::OsString>) -> anyhow::Result<Cli> {
    Ok(settings::parse(argv, "serve")?)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let clock = match cli.insecure_test_clock_offset_seconds {
        None | Some(0) => Clock::SYSTEM,
        Some(s) => {
            eprintln!(
                "verifier: WARNING: INSECURE TEST CLOCK, {s} s from the system clock; never use this in an election"
            );
            Clock::insecure_test_offset(chrono::TimeDelta::seconds(s))
        }
    };
    let host = host::Host { clock, credentials: Credentials { cert: cli.operator_cert, key: cli.operator_key } };
    match cli.command {
        Command::Serve(args) => serve::run(*args, clock),
        Command::Election(command) => election::run(command, &host),
        Command::Voters(command) => election::run_voters(command, &host),
        Command::Login(args) => host::login(args, &host),
        Command::Logout(arg) => host::logout(&arg, &host),
        Command::Requests(arg) => host::requests(&arg, &host),
        Command::Approve(args) => host::approve(args, &host),
        Command::Pause(args) => host::pause(args, &host),
        Command::Resume(arg) => host.ask(&arg, crate::operators::four_eyes::Action::Resume),
        Command::Audit(command) => audit::run(command),
        Command::Research(command) => research::run(command),
        Command::Operators(command) => operators::run(command, &host),
        Command::ExportKey(command) => ops::export_key(command),
        Command::Backup(args) => ops::backup(&args),
        Command::ZeroCheck(args) => ops::zero_check(args, &host),
        Command::BuildHashes(args) => ops::build_hashes(args),
        Command::Openapi(args) => ops::openapi(&args),
        Command::Export(args) => ops::export(args, &host),
        Command::Record(args) => ops::record(args, &host),
    }
}

/// A path as the approver's process will find it, whatever its working folder.
fn absolute(path: &Path) -> anyhow::Result<String> {
    Ok(std::path::absolute(path)
        .with_context(|| format!("cannot resolve {}", path.display()))?
        .to_str()
        .with_context(|| format!("{} is not UTF-8", path.display()))?
        .to_owned())
}

/// Refuses the insecure test clock for a real election (issue 21), and writes each use on a practice election to
/// the audit log with its offset and the command.
fn guard_clock(clock: Clock, election: &Election, db: &Db, command: &str, actor: &str) -> anyhow::Result<()> {
    let Some(offset) = clock.test_offset() else { return Ok(()) };
    anyhow::ensure!(
        election.practice,
        "INSECURE_CLOCK_REFUSED: election {} is a real election, and the insecure test clock \
         (--insecure-test-clock-offset-seconds, VERIFIER_INSECURE_TEST_CLOCK_OFFSET_SECONDS) is only for practice \
         elections and rehearsals. Unset it and run the command again; nothing was done.",
        election.id
    );
    let detail = serde_json::json!({ "offset_seconds": offset.num_seconds(), "command": command });
    db.audit(clock.real_now(), actor, "insecure_test_clock_used", detail)?;
    Ok(())
}

fn open_with_election(arg: &DbArg) -> anyhow::Result<(Db, Election, ElectionPublicKey)> {
    let db = arg.open()?;
    let (election, key) = election_in(&db, &arg.db)?;
    Ok((db, election, key))
}

fn election_in(db: &Db, path: &Path) -> anyhow::Result<(Election, ElectionPublicKey)> {
    db.election()?.with_context(|| format!("{} has no election: run `verifier election create` first", path.display()))
}
