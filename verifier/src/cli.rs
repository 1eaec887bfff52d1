//! The `verifier` command line: clap derive, one function per subcommand.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use clap::{Args, Parser, Subcommand};
use shared::crypto::ElectionPublicKey;
use shared::election::Election;

use crate::certs::{CertKind, TrustStore};
use crate::checkpoints::AuditKey;
use crate::db::{Db, Voter, VoterRecord};
use crate::four_eyes::{self, Action};
use crate::host_operator::Credentials;
use crate::operators::{Operator, Role};
use crate::{AppState, Config, clock::Clock, demo, server};

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
    Serve(Box<ServeArgs>),
    /// Election definitions.
    #[command(subcommand)]
    Election(ElectionCommand),
    /// Registered internet voters.
    #[command(subcommand)]
    Voters(VotersCommand),
    /// Log in on this host as a named operator (your certificate and key, and the code of your authenticator app):
    /// the commands that change the election then run under your name for 8 hours (R-SEC-4).
    Login {
        #[command(flatten)]
        db: DbArg,
        /// The 6-digit code your authenticator app shows now (each code works once).
        #[arg(long, env = "VERIFIER_OPERATOR_TOTP")]
        totp: String,
    },
    /// End your host session.
    Logout {
        #[command(flatten)]
        db: DbArg,
    },
    /// The four-eyes requests waiting for another operator's approval (critical actions, issue 21).
    Requests {
        #[command(flatten)]
        db: DbArg,
    },
    /// Approve another operator's request and carry it out here, under both names (four eyes).
    Approve {
        #[command(flatten)]
        db: DbArg,
        /// The request's id (from `verifier requests`).
        id: String,
    },
    /// Pause voting with a reason shown to voters (R-VOTE-3); four eyes: another admin approves.
    Pause {
        #[command(flatten)]
        db: DbArg,
        /// Why (shown to voters), e.g. "候補者の異動のため / candidate change".
        #[arg(long)]
        reason: String,
    },
    /// Resume voting; four eyes: another admin approves.
    Resume {
        #[command(flatten)]
        db: DbArg,
    },
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// UX research in practice elections (tracker issue 9): mock elections and the report of the metrics.
    #[command(subcommand)]
    Research(ResearchCommand),
    /// Operators of the operator API (R-SEC-4): their CA, client certificates and TOTP secrets.
    #[command(subcommand)]
    Operators(OperatorsCommand),
    /// The verifier's export key (Ed25519) that signs zero-check reports and exports.
    #[command(subcommand, name = "export-key")]
    ExportKey(ExportKeyCommand),
    /// Copy the database while the verifier runs (SQLite's online backup API): one consistent snapshot.
    Backup {
        #[command(flatten)]
        db: DbArg,
        /// The new file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Before opening: check and sign that the ballot box is empty and untouched (R-SYS-3).
    ZeroCheck {
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
    },
    /// Write the hashes of a build (the verifier binary and every file of the voter app) for `zero-check
    /// --expected-hashes`: run on the audited, reproducible build and publish the file.
    BuildHashes {
        /// The voter app as built (Trunk's dist/ folder).
        #[arg(long)]
        web_dir: PathBuf,
        /// The verifier binary [default: this one].
        #[arg(long)]
        binary: Option<PathBuf>,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print an API's OpenAPI 3.1 document (JSON), made from `verifier/src/contract.rs`: the voter API, or with
    /// `--operator` the operator API. The repository's `verifier/openapi.json` and `operator-openapi.json` are
    /// this output.
    Openapi {
        /// The operator API (`/op/v1`) instead of the voter API.
        #[arg(long)]
        operator: bool,
    },
    /// After the close: write a counting district's ballots and a signed manifest for offline counting (R-COUNT-1),
    /// and beside it (OUT with .election.json) the election definition in force, whose digest the manifest carries.
    /// Four eyes: an admin requests it, a counting officer approves it.
    Export {
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
    },
    /// After the close: write one municipality's record (調書, R-VOTE-12) as the file that goes to the committee
    /// of its 指定在外選挙投票区, signed with the export key, and its printable page beside it (OUT with .html).
    Record {
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
    },
}

#[derive(Subcommand)]
enum ResearchCommand {
    /// Write a practice election (TOML for `election create`) with one mock contest of 5 to 200 entries, made
    /// deterministically from the seed with common Japanese names and fictional parties.
    Election {
        /// hor_district, hor_pr, hoc_district, hoc_pr or judicial_review.
        #[arg(long)]
        kind: String,
        /// How many candidates (listed candidates in PR, judges in a review): 5 to 200 (at most 32 judges).
        #[arg(long)]
        candidates: usize,
        /// The seed: the same seed gives the same names and order.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The TOML file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write tasks.csv, SVG plots and index.html (medians per mode pair) from the stored metrics.
    Report {
        #[command(flatten)]
        db: DbArg,
        /// The folder to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Analyse an instructed study (issue 22 part 6): per layout, NIST's summary measures with Wilson intervals,
    /// time and SUS with bootstrap intervals; across layouts, Friedman (within) or Kruskal-Wallis (between) with
    /// Holm-corrected pairs and effect sizes. Writes study-trials.csv, study-estimates.csv, study-tests.csv and
    /// study.html.
    StudyReport {
        #[command(flatten)]
        db: DbArg,
        /// The study file the verifier served (its id selects the rows; its design selects the tests).
        #[arg(long)]
        study: PathBuf,
        /// The folder to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// The bootstrap's seed: the same rows and seed give the same report.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum ExportKeyCommand {
    /// Generate a new key file (never overwrites) and print its public key.
    Generate {
        /// The key file to create.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum OperatorsCommand {
    /// The first administrators, issued together into a database that has no operator yet (at least two: from
    /// then on every change to the operators needs one admin to request it and another to approve it).
    Bootstrap {
        /// The CA folder.
        #[arg(long, env = "VERIFIER_OPERATOR_CA")]
        ca: PathBuf,
        #[command(flatten)]
        db: DbArg,
        /// An administrator's name (repeat: at least two people).
        #[arg(long = "admin", required = true)]
        admins: Vec<String>,
        /// Where to write each operator-SERIAL.pem and operator-SERIAL.key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Create the operator CA (ECDSA P-256) in a new folder, with an empty CRL.
    InitCa {
        /// The CA folder to create.
        #[arg(long, env = "VERIFIER_OPERATOR_CA")]
        ca: PathBuf,
    },
    /// Issue a person's certificate and TOTP secret, register them in the database, write the certificate and key.
    /// Four eyes: an admin requests it, another admin approves it.
    Issue {
        /// The CA folder.
        #[arg(long, env = "VERIFIER_OPERATOR_CA")]
        ca: PathBuf,
        #[command(flatten)]
        db: DbArg,
        /// The person's name (the certificate's CN; written in every audit entry).
        #[arg(long)]
        name: String,
        /// clerk, approver, admin, auditor or counting_officer.
        #[arg(long)]
        role: String,
        /// The municipality code, for clerks and approvers.
        #[arg(long)]
        municipality: Option<String>,
        /// Where to write operator-SERIAL.pem and operator-SERIAL.key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Revoke a certificate by serial: the CRL (listeners refuse it at the next connection) and the database.
    /// Four eyes: an admin requests it, another admin approves it.
    Revoke {
        /// The CA folder.
        #[arg(long, env = "VERIFIER_OPERATOR_CA")]
        ca: PathBuf,
        #[command(flatten)]
        db: DbArg,
        /// The certificate serial (hex).
        serial: String,
    },
    /// List the registered operators.
    List {
        #[command(flatten)]
        db: DbArg,
    },
    /// Issue the operator listener's certificate into the CA folder (replacing an earlier one).
    ServerCert {
        /// The CA folder.
        #[arg(long, env = "VERIFIER_OPERATOR_CA")]
        ca: PathBuf,
        /// A host name or IP address operators connect to (repeat for several).
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
    },
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
}

impl DbArg {
    fn audit_key_path(&self) -> PathBuf {
        self.audit_key.clone().unwrap_or_else(|| AuditKey::default_path(&self.db))
    }
}

/// Loads the audit key (making it at first use, audited with its public key) and signs a checkpoint of the log
/// after a critical action (issue 21); prints what it signed.
fn checkpoint(db: &Db, arg: &DbArg, clock: Clock, reason: &str) -> anyhow::Result<()> {
    let key = load_audit_key(db, &arg.audit_key_path(), clock)?;
    if let Some(c) = db.with(|conn| crate::checkpoints::sign_head(conn, &key, clock.real_now(), reason, false))? {
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

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "VERIFIER_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The built voter app (Trunk's dist/ folder).
    #[arg(long, env = "VERIFIER_WEB_DIR")]
    web_dir: Option<PathBuf>,
    /// The database (with an election created by `verifier election create`).
    #[arg(long, env = "VERIFIER_DB", conflicts_with = "demo", required_unless_present = "demo")]
    db: Option<PathBuf>,
    /// Run the embedded practice election in memory, re-dated so that voting is open now, with a freshly made
    /// INSECURE election key that nobody can decrypt with (the public start page and UX demos).
    #[arg(long)]
    demo: bool,
    /// The folder of trusted CAs and CRLs for voters' cards (auth-ca.pem, sign-ca.pem, auth.crl.pem,
    /// sign.crl.pem); without it nobody can log in.
    #[arg(long, env = "VERIFIER_TRUST_DIR")]
    trust_dir: Option<PathBuf>,
    /// The origin voters use (bound into login signatures); default http://LISTEN.
    #[arg(long, env = "VERIFIER_PUBLIC_ORIGIN")]
    public_origin: Option<String>,
    /// Session lifetime after login, in minutes (R-VOTE-4).
    #[arg(long, env = "VERIFIER_SESSION_MINUTES", default_value_t = shared::session::DEFAULT_SESSION_MINUTES)]
    session_minutes: i64,
    /// Session lifetime in seconds, instead of minutes (rehearsals and tests of a session ending on screen).
    #[arg(long, env = "VERIFIER_SESSION_SECONDS", conflicts_with = "session_minutes")]
    session_seconds: Option<i64>,
    /// How many times a voter may extend a session by logging in again with the same card. WCAG 2.2.1 asks for
    /// at least ten; each extension needs the card and its PIN, so it gives no one else more time.
    #[arg(long, env = "VERIFIER_SESSION_EXTENSIONS", default_value_t = 10)]
    session_extensions: u32,
    /// The card helper's origin on voters' PCs, which the voter app calls (and its CSP allows).
    #[arg(long, env = "VERIFIER_CARD_HELPER_ORIGIN", default_value = "http://127.0.0.1:24190")]
    card_helper_origin: String,
    /// The ballot box's batch K (R-VOTE-8): ballots enter the box in shuffled crowds of at least K per contest,
    /// and a copy of the data directory cannot place a ballot more precisely. Higher K: more ballots wait in the
    /// pool, and more are left for the counting tool to open if the verifier stops.
    #[arg(long, env = "VERIFIER_BALLOT_BOX_BATCH", default_value_t = ballot_box::DEFAULT_BATCH)]
    ballot_box_batch: usize,
    /// The site's certificate chain (PEM): the verifier then serves voters over TLS itself (HSTS, Secure cookie).
    /// Without it the voter listener must be loopback (demos, tests).
    #[arg(long, env = "VERIFIER_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The key of `--tls-cert` (PEM).
    #[arg(long, env = "VERIFIER_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Login challenges per minute from one network (a /24 or /48), with a burst of a tenth; 429 past it.
    #[arg(long, env = "VERIFIER_RATE_CHALLENGES_PER_MINUTE", default_value_t = 600)]
    rate_challenges_per_minute: u32,
    /// Logins and session extensions per minute from one network.
    #[arg(long, env = "VERIFIER_RATE_LOGINS_PER_MINUTE", default_value_t = 300)]
    rate_logins_per_minute: u32,
    /// Casts per minute from one network.
    #[arg(long, env = "VERIFIER_RATE_CASTS_PER_MINUTE", default_value_t = 600)]
    rate_casts_per_minute: u32,
    /// One address may use its network's rates divided by this (default a quarter; 1: all of them).
    #[arg(long, env = "VERIFIER_RATE_ADDRESS_SHARE", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    rate_address_share: u32,
    /// Addresses never rate-limited (the operator's own machine: demos, tests, the benchmark's voters).
    #[arg(long, env = "VERIFIER_RATE_LIMIT_EXEMPT", value_delimiter = ',', default_values_t = [std::net::IpAddr::from([127, 0, 0, 1]), std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST)])]
    rate_limit_exempt: Vec<std::net::IpAddr>,
    /// Seconds between looks at the CRL files' size and time; a change re-reads them (they are re-read every
    /// minute as well).
    #[arg(long, env = "VERIFIER_CRL_POLL_SECONDS", default_value_t = 5)]
    crl_poll_seconds: u64,
    /// Open voter connections at most; one more is closed at once.
    #[arg(long, env = "VERIFIER_MAX_CONNECTIONS", default_value_t = 20_000)]
    max_connections: usize,
    /// Seconds for a request's head to arrive (slowloris).
    #[arg(long, env = "VERIFIER_HEADER_TIMEOUT_SECONDS", default_value_t = 10)]
    header_timeout_seconds: u64,
    /// Seconds for a whole request, body included, to be answered (408 after).
    #[arg(long, env = "VERIFIER_REQUEST_TIMEOUT_SECONDS", default_value_t = 30)]
    request_timeout_seconds: u64,
    /// Mark the session cookie Secure even when the public origin is not https (it always is when it is).
    #[arg(long, env = "VERIFIER_SECURE_COOKIES")]
    secure_cookies: bool,
    /// UX research in a practice election: the selection mode participants get (list, free_word_search,
    /// initial_letter_input, initial_letter_select, a comma-separated list to draw from, or random); the app hides
    /// the mode switches. Ignored, with a warning, in a real election.
    #[arg(long, env = "VERIFIER_RESEARCH_SELECTION")]
    research_selection: Option<String>,
    /// UX research: the display mode (one_screen, scroll, drum_roll, a list, or random).
    #[arg(long, env = "VERIFIER_RESEARCH_DISPLAY")]
    research_display: Option<String>,
    /// UX research: where the drum roll starts (first, rotated per participant, or random).
    #[arg(long, env = "VERIFIER_RESEARCH_DRUM_START")]
    research_drum_start: Option<String>,
    /// An instructed usability study (TOML: tasks with targets, layouts, within or between subjects; issue 22
    /// part 6), served to the app at `#study`. Practice elections only: a real election refuses to start with one.
    #[arg(long, env = "VERIFIER_RESEARCH_STUDY")]
    research_study: Option<PathBuf>,
    /// The audit key that signs the audit log's checkpoints [default: DB with .audit-key.pk8; made at first use].
    #[arg(long, env = "VERIFIER_AUDIT_KEY")]
    audit_key: Option<PathBuf>,
    /// Seconds between signed checkpoints of the audit log, when it has moved (issue 21).
    #[arg(long, env = "VERIFIER_AUDIT_CHECKPOINT_SECONDS", default_value_t = 300)]
    audit_checkpoint_seconds: u64,
    /// Also serve the operator API (TLS with operator client certificates) on this address.
    #[arg(long, env = "VERIFIER_OPERATOR_LISTEN", requires = "operator_ca")]
    operator_listen: Option<SocketAddr>,
    /// The operator CA folder (CA certificate, CRL, and the listener's certificate from `operators server-cert`).
    #[arg(long, env = "VERIFIER_OPERATOR_CA")]
    operator_ca: Option<PathBuf>,
    /// The SMTP server for voter notices (R-REG-7); without it, notices are written as .eml files to --outbox.
    #[arg(long, env = "VERIFIER_SMTP_HOST")]
    smtp_host: Option<String>,
    /// The SMTP port.
    #[arg(long, env = "VERIFIER_SMTP_PORT", default_value_t = 587)]
    smtp_port: u16,
    /// How the SMTP connection is protected: starttls, wrapper (SMTPS) or none (a relay on this host only).
    #[arg(long, env = "VERIFIER_SMTP_TLS", default_value = "starttls")]
    smtp_tls: String,
    /// The sender of notices.
    #[arg(long, env = "VERIFIER_MAIL_FROM", default_value = "在外選挙インターネット投票 <noreply@localhost>")]
    mail_from: String,
    /// Where notices go as .eml files when no SMTP server is given [default: DB.outbox/ beside the database].
    #[arg(long, env = "VERIFIER_OUTBOX")]
    outbox: Option<PathBuf>,
}

fn mail_config(args: &ServeArgs) -> anyhow::Result<crate::notify::MailConfig> {
    use crate::notify::{MailConfig, SmtpTls};
    Ok(match &args.smtp_host {
        Some(host) => MailConfig::Smtp {
            host: host.clone(),
            port: args.smtp_port,
            tls: match args.smtp_tls.as_str() {
                "starttls" => SmtpTls::StartTls,
                "wrapper" => SmtpTls::Wrapper,
                "none" => SmtpTls::None,
                other => anyhow::bail!("--smtp-tls {other:?}: use starttls, wrapper or none"),
            },
            from: args.mail_from.clone(),
            credentials: None,
        },
        None => {
            let dir = args.outbox.clone().unwrap_or_else(|| match &args.db {
                Some(db) => db.with_extension("outbox"),
                None => std::env::temp_dir().join(format!("verifier-demo-outbox-{}", std::process::id())),
            });
            MailConfig::Outbox { dir, from: args.mail_from.clone() }
        }
    })
}

#[derive(Subcommand)]
enum ElectionCommand {
    /// Check an election definition (TOML) and print its contests and voting window in JST.
    Check {
        /// The definition file.
        file: PathBuf,
    },
    /// Create the election in the database with the public key from the counting tool's key ceremony. Four eyes:
    /// an admin requests it, another admin approves it.
    Create {
        /// The definition file (TOML).
        file: PathBuf,
        /// The election public key (PEM SubjectPublicKeyInfo, RSA-3072 or larger).
        #[arg(long)]
        public_key: PathBuf,
        #[command(flatten)]
        db: DbArg,
        /// Demos only: move the dates so voting is open now (notice 2 days ago, election day in 12 days).
        #[arg(long)]
        redate_for_demo: bool,
    },
}

#[derive(Subcommand)]
enum VotersCommand {
    /// Import accepted internet voters, one JSON object per line (person_id, municipality, districts,
    /// auth_certificates, sign_certificates); every certificate is checked against the trust folder first.
    Import {
        /// The JSON-lines file.
        file: PathBuf,
        #[command(flatten)]
        db: DbArg,
        /// The folder of trusted CAs and CRLs.
        #[arg(long)]
        trust_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the hash chain, check it against the signed checkpoints (the log's own, and a kept copy), and name every
    /// edited, rewritten or cut-off entry.
    Verify {
        #[command(flatten)]
        db: DbArg,
        /// A copy of the checkpoints kept outside this host: the JSON of `audit checkpoints`,
        /// `GET /api/v1/audit/checkpoints`, or the published ballot box. Without one, a cut-off tail cannot be seen.
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        /// The audit key's published public key (hex); every checkpoint must be signed with it.
        #[arg(long)]
        audit_public_key: Option<String>,
    },
    /// Print every signed checkpoint in the log (JSON), to keep a copy apart from this host.
    Checkpoints {
        #[command(flatten)]
        db: DbArg,
    },
}

/// Reads a kept copy of checkpoints: a JSON list, the public API's answer, or a published ballot box.
fn read_checkpoints(path: &Path) -> anyhow::Result<Vec<shared::export::AuditCheckpoint>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if let Ok(list) = serde_json::from_str(&text) {
        return Ok(list);
    }
    if let Ok(published) = serde_json::from_str::<shared::export::PublishedCheckpoints>(&text) {
        return Ok(published.checkpoints);
    }
    let published: shared::export::PublishedBallotBox = serde_json::from_str(&text)
        .with_context(|| format!("{} is neither a list of checkpoints nor a published ballot box", path.display()))?;
    Ok(published.audit_checkpoints)
}

/// Runs the command line; errors are printed with their chain and give a non-zero exit.
pub fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("verifier: error: {e:#}");
            ExitCode::FAILURE
        }
    }
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
    let host = Host { clock, credentials: Credentials { cert: cli.operator_cert, key: cli.operator_key } };
    match cli.command {
        Command::Serve(args) => serve(*args, clock),
        Command::Election(ElectionCommand::Check { file }) => {
            let e = load_election(&file)?;
            let w = e.window();
            println!("{} / {} ({})", e.name.ja, e.name.en, e.id);
            println!(
                "voting window: {} to {}",
                shared::jst::format_jst(w.opens_at),
                shared::jst::format_jst(w.closes_at)
            );
            for c in &e.contests {
                println!("- {} {} ({:?}, district {})", c.id, c.name.ja, c.kind(), c.district);
            }
            Ok(())
        }
        Command::Election(ElectionCommand::Create { file, public_key, db, redate_for_demo }) => {
            let election_toml =
                std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            parse_election(&election_toml).with_context(|| format!("{} is not a valid election", file.display()))?;
            let public_key_pem = std::fs::read_to_string(&public_key)
                .with_context(|| format!("cannot read the public key {}", public_key.display()))?;
            ElectionPublicKey::from_pem(&public_key_pem).with_context(|| format!("{}", public_key.display()))?;
            host.ask(&db, Action::ElectionCreate { election_toml, public_key_pem, redate_for_demo })
        }
        Command::Voters(VotersCommand::Import { file, db: arg, trust_dir }) => {
            let db = Db::open(&arg.db)?;
            let op = host.operator(&db, &[Role::Admin], "voters import")?;
            let trust = TrustStore::from_dir(&trust_dir)?;
            let n = import_voters(&db, &trust, &file, &op.actor())?;
            println!("{n} voters imported into {}", arg.db.display());
            Ok(())
        }
        Command::Login { db: arg, totp } => {
            let db = Db::open(&arg.db)?;
            let (op, until) = crate::host_operator::login(&db, &host.credentials, &totp, Clock::SYSTEM.now())?;
            println!("logged in on this host as {} until {}", op.actor(), shared::jst::format_jst(until));
            Ok(())
        }
        Command::Logout { db: arg } => {
            let op = crate::host_operator::logout(&Db::open(&arg.db)?, &host.credentials, Clock::SYSTEM.now())?;
            println!("{} logged out on this host", op.actor());
            Ok(())
        }
        Command::Requests { db: arg } => {
            let db = Db::open(&arg.db)?;
            host.operator(&db, &[Role::Admin, Role::CountingOfficer, Role::Auditor], "requests")?;
            for r in four_eyes::pending(&db, Clock::SYSTEM.now())? {
                println!(
                    "{}  {}  (asked by {} at {}, until {})",
                    r.id, r.summary, r.requested_by, r.requested_at, r.expires_at
                );
            }
            Ok(())
        }
        Command::Approve { db: arg, id } => {
            let db = Db::open(&arg.db)?;
            let op = crate::host_operator::authenticate(&db, &host.credentials, Clock::SYSTEM.now())?;
            let request = four_eyes::approve(&db, &op, &id, false, Clock::SYSTEM.now())?;
            println!("approved request {}: {} (asked by {})", request.id, request.summary, request.requested_by);
            let actor = request.actor(&op);
            host.carry_out(&db, &arg, &request.action, &actor).inspect_err(|e| {
                let _ = four_eyes::failed(&db, &op, &request.id, &format!("{e:#}"), Clock::SYSTEM.now());
            })
        }
        Command::Pause { db: arg, reason } => {
            anyhow::ensure!(!reason.trim().is_empty(), "give the reason voters will see");
            host.ask(&arg, Action::Pause { reason })
        }
        Command::Resume { db: arg } => host.ask(&arg, Action::Resume),
        Command::ExportKey(ExportKeyCommand::Generate { out }) => {
            let key = crate::ops::ExportKey::generate(&out)?;
            println!("export key written to {}; public key {}", out.display(), key.public_hex());
            Ok(())
        }
        Command::Openapi { operator } => {
            let contract = if operator { &crate::contract::OPERATOR } else { &crate::contract::VOTER };
            print!("{}", contract.json());
            Ok(())
        }
        Command::Backup { db, out } => {
            Db::backup(&db.db, &out)?;
            println!("{} backed up to {} (integrity_check ok)", db.db.display(), out.display());
            Ok(())
        }
        Command::BuildHashes { web_dir, binary, out } => {
            let binary = match binary {
                Some(b) => b,
                None => std::env::current_exe()?,
            };
            let hashes = crate::build_check::BuildHashes::of_build(&binary, &web_dir)?;
            let json = serde_json::to_string_pretty(&hashes)? + "\n";
            files::create_new(&out, json.as_bytes(), files::Access::Everyone)?;
            println!(
                "build hashes written to {}: verifier {}, {} app files",
                out.display(),
                hashes.verifier,
                hashes.web.len()
            );
            Ok(())
        }
        Command::ZeroCheck { db: arg, export_key, out, expected_hashes, server, server_pid } => {
            let (db, election, key) = open_with_election(&arg.db)?;
            let op = host.operator(&db, &[Role::Admin, Role::Auditor], "zero-check")?;
            let export_key = crate::ops::ExportKey::load(&export_key)?;
            guard_clock(clock, &election, &db, "zero-check", &op.actor())?;
            let build = match (expected_hashes, server, server_pid) {
                (Some(expected), Some(server), Some(pid)) => Some(crate::build_check::check(&expected, &server, pid)?),
                _ => None,
            };
            let report = crate::ops::zero_check(&db, &election, &key, clock.now(), build, &op.actor())?;
            let json = serde_json::to_string_pretty(&report)?;
            let signed = serde_json::json!({ "report": json, "signature": export_key.sign(json.as_bytes()), "export_public_key": export_key.public_hex() });
            std::fs::write(&out, serde_json::to_string_pretty(&signed)?)?;
            println!("{json}");
            println!("zero-vote check passed; signed report written to {}", out.display());
            checkpoint(&db, &arg, clock, "zero_check")
        }
        Command::Export { db: arg, district, export_key, out } => {
            crate::ops::ExportKey::load(&export_key)?;
            let (export_key, out) = (absolute(&export_key)?, absolute(&out)?);
            host.ask(&arg, Action::Export { district, export_key, out })
        }
        Command::Record { db: arg, municipality, export_key, out } => {
            let (db, election, _) = open_with_election(&arg.db)?;
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
        Command::Operators(command) => operators(command, &host),
        Command::Research(command) => research(command),
        Command::Audit(AuditCommand::Checkpoints { db }) => {
            let list = Db::open(&db.db)?.with(|c| crate::audit::checkpoints(c))?;
            println!("{}", serde_json::to_string_pretty(&list)?);
            Ok(())
        }
        Command::Audit(AuditCommand::Verify { db, checkpoints, audit_public_key }) => {
            let kept = checkpoints.as_deref().map(read_checkpoints).transpose()?.unwrap_or_default();
            let db = Db::open(&db.db)?;
            let f = db.with(|c| crate::checkpoints::check(c, &kept, audit_public_key.as_deref()))?;
            if !f.problems.is_empty() {
                for p in &f.problems {
                    eprintln!("verifier: {p}");
                }
                anyhow::bail!("audit log broken: {} problem(s) found, listed above", f.problems.len());
            }
            println!(
                "audit log intact: {} entries, head {}; {} checkpoint(s) vouch for it up to entry {}",
                f.chain.entries, f.chain.head, f.checkpoints, f.anchored_to
            );
            if checkpoints.is_none() {
                println!("(a cut-off tail shows only against a copy of the checkpoints kept elsewhere: --checkpoints)");
            }
            Ok(())
        }
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

/// This host's command line: its clock and the operator's credentials (R-SEC-4, issue 21).
struct Host {
    clock: Clock,
    credentials: Credentials,
}

impl Host {
    /// The named operator running this command, refused (and audited) when their role may not.
    fn operator(&self, db: &Db, roles: &[Role], command: &str) -> anyhow::Result<Operator> {
        crate::host_operator::require(db, &self.credentials, roles, command, Clock::SYSTEM.now())
    }

    /// Records a critical action as a four-eyes request; another operator's `verifier approve` carries it out.
    fn ask(&self, arg: &DbArg, action: Action) -> anyhow::Result<()> {
        let db = Db::open(&arg.db)?;
        let op = self.operator(&db, action.requesters(), action.name())?;
        if let Action::Pause { .. } | Action::Resume = action {
            let (election, _) = election_in(&db, &arg.db)?;
            guard_clock(self.clock, &election, &db, action.name(), &op.actor())?;
        }
        let approvers: Vec<&str> = action.approvers().iter().map(|r| crate::operator_auth::role_str(*r)).collect();
        let request = four_eyes::request(&db, &op, action, Clock::SYSTEM.now())?;
        println!("four-eyes request {}: {}", request.id, request.summary);
        println!(
            "nothing is done until another person ({}) approves it on this host within {} minutes: verifier approve {}",
            approvers.join(" or "),
            four_eyes::REQUEST_MINUTES,
            request.id
        );
        Ok(())
    }

    /// Carries out an approved request under both names, then signs a checkpoint of the log.
    fn carry_out(&self, db: &Db, arg: &DbArg, action: &Action, actor: &str) -> anyhow::Result<()> {
        use crate::operator_auth::{self as auth, OperatorCa};
        let clock = self.clock;
        match action {
            Action::ElectionCreate { election_toml, public_key_pem, redate_for_demo } => {
                let mut election = parse_election(election_toml)?;
                if *redate_for_demo {
                    election = demo::redated(election, clock.now())?;
                }
                let key = ElectionPublicKey::from_pem(public_key_pem)?;
                guard_clock(clock, &election, db, "election create", actor)?;
                db.create_election(&election, &key, actor, clock.now())?;
                println!(
                    "election {} created in {}; key fingerprint {}",
                    election.id,
                    arg.db.display(),
                    key.fingerprint()
                );
            }
            Action::Pause { reason } => {
                let (election, _) = election_in(db, &arg.db)?;
                guard_clock(clock, &election, db, "pause", actor)?;
                db.set_pause(Some(reason), actor, clock.now())?;
                println!("voting paused: {reason}");
            }
            Action::Resume => {
                let (election, _) = election_in(db, &arg.db)?;
                guard_clock(clock, &election, db, "resume", actor)?;
                db.set_pause(None, actor, clock.now())?;
                println!("voting resumed");
            }
            Action::Export { district, export_key, out } => {
                let (election, key) = election_in(db, &arg.db)?;
                let export_key = crate::ops::ExportKey::load(Path::new(export_key))?;
                guard_clock(clock, &election, db, "export", actor)?;
                let file = crate::ops::export(db, &election, &key, &export_key, district, actor, clock.now())?;
                let out = Path::new(out);
                std::fs::write(out, serde_json::to_vec(&file)?)?;
                // The definition in force at the close (withdrawals included): the manifest pins its digest, and
                // the counting tool counts only under it (R-VOTE-3).
                let definition = out.with_extension("election.json");
                std::fs::write(&definition, serde_json::to_vec_pretty(&election)?)?;
                println!(
                    "exported district {district} to {}, and the definition in force to {}: {}",
                    out.display(),
                    definition.display(),
                    file.manifest
                );
            }
            Action::OperatorIssue { ca, name, role, municipality, out } => {
                let ca = OperatorCa::open(Path::new(ca))?;
                let out = Path::new(out);
                println!("{}", auth::issue_to_files(&ca, db, name, *role, municipality.as_deref(), out, actor)?);
            }
            Action::OperatorRevoke { ca, serial } => {
                let ca = OperatorCa::open(Path::new(ca))?;
                println!("{}", auth::revoke_everywhere(&ca, db, serial, actor, Clock::SYSTEM.now())?);
            }
        }
        checkpoint(db, arg, clock, action.name())
    }
}

fn research(command: ResearchCommand) -> anyhow::Result<()> {
    match command {
        ResearchCommand::Election { kind, candidates, seed, out } => {
            let contest_kind = shared::practice::parse_kind(&kind).with_context(|| {
                format!("--kind {kind:?}: use hor_district, hor_pr, hoc_district, hoc_pr or judicial_review")
            })?;
            let election = shared::practice::generate(contest_kind, candidates, seed)?;
            let text = format!(
                "# A practice election for UX research (tracker issue 9), made by `verifier research election --kind \
                 {kind} --candidates {candidates} --seed {seed}`.\n# Names are common Japanese names; every person and \
                 party is fictional.\n{}",
                toml::to_string(&election)?
            );
            std::fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
            println!("practice election {} ({candidates} entries, {kind}) written to {}", election.id, out.display());
        }
        ResearchCommand::Report { db, out } => {
            let tasks = crate::research::tasks(&Db::open(&db.db)?)?;
            let summary = crate::research_report::write_report(&tasks, &out)?;
            println!(
                "{} tasks in {} mode pairs; report written to {}",
                tasks.len(),
                summary.len(),
                out.join(crate::research_report::INDEX).display()
            );
        }
        ResearchCommand::StudyReport { db, study, out, seed } => {
            let db = Db::open(&db.db)?;
            let (election, _) = db.election()?.context("the database has no election")?;
            let study = crate::study::load(&study, &election)?;
            let report = crate::study::write_report(&db, &study, &out, seed)?;
            println!(
                "study {}: {} participants, {} layouts; report written to {}",
                study.id,
                report.participants,
                report.layouts.len(),
                out.join(crate::study::FILES[3]).display()
            );
        }
    }
    Ok(())
}

fn operators(command: OperatorsCommand, host: &Host) -> anyhow::Result<()> {
    use crate::operator_auth::{self as auth, OperatorCa};
    match command {
        OperatorsCommand::Bootstrap { ca, db: arg, admins, out } => {
            let (ca, db) = (OperatorCa::open(&ca)?, Db::open(&arg.db)?);
            for text in auth::bootstrap(&ca, &db, &admins, &out, BOOTSTRAP)? {
                println!("{text}");
            }
            checkpoint(&db, &arg, Clock::SYSTEM, "operator_bootstrap")?;
        }
        OperatorsCommand::InitCa { ca } => {
            OperatorCa::init(&ca)?;
            println!("operator CA created in {}; give {} to operators", ca.display(), auth::CA_CERT_FILE);
        }
        OperatorsCommand::Issue { ca, db: arg, name, role, municipality, out } => {
            let role = auth::parse_role(&role)?;
            anyhow::ensure!(
                role.is_committee() == municipality.is_some(),
                "a {} {} a municipality (--municipality CODE); nothing was asked",
                auth::role_str(role),
                if role.is_committee() { "needs" } else { "has no" }
            );
            OperatorCa::open(&ca)?;
            let (ca, out) = (absolute(&ca)?, absolute(&out)?);
            host.ask(&arg, Action::OperatorIssue { ca, name, role, municipality, out })?;
        }
        OperatorsCommand::Revoke { ca, db: arg, serial } => {
            OperatorCa::open(&ca)?;
            host.ask(&arg, Action::OperatorRevoke { ca: absolute(&ca)?, serial })?;
        }
        OperatorsCommand::List { db } => print!("{}", auth::list_text(&Db::open(&db.db)?)?),
        OperatorsCommand::ServerCert { ca, hosts } => {
            OperatorCa::open(&ca)?.write_server_cert(&hosts)?;
            println!("operator listener certificate for {} written to {}", hosts.join(", "), ca.display());
        }
    }
    Ok(())
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

fn open_with_election(path: &Path) -> anyhow::Result<(Db, Election, ElectionPublicKey)> {
    let db = Db::open(path)?;
    let (election, key) = election_in(&db, path)?;
    Ok((db, election, key))
}

fn election_in(db: &Db, path: &Path) -> anyhow::Result<(Election, ElectionPublicKey)> {
    db.election()?.with_context(|| format!("{} has no election: run `verifier election create` first", path.display()))
}

/// Imports voters from a JSON-lines file, checking each certificate; returns how many.
pub fn import_voters(db: &Db, trust: &TrustStore, file: &Path, actor: &str) -> anyhow::Result<usize> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let now = Clock::SYSTEM.now();
    let mut n = 0;
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let at = || format!("{} line {}", file.display(), i + 1);
        let rec: VoterRecord = serde_json::from_str(line).with_context(at)?;
        let mut certs = Vec::new();
        for (kind, list) in [(CertKind::Auth, &rec.auth_certificates), (CertKind::Sign, &rec.sign_certificates)] {
            for b64 in list {
                let der = B64.decode(b64).with_context(at)?;
                let checked = trust
                    .check(kind, &der, now)
                    .map_err(|e| anyhow::anyhow!("{}: {} certificate: {e}", at(), kind.code()))?;
                certs.push((checked.fingerprint, kind, checked.serial));
            }
        }
        anyhow::ensure!(
            !rec.auth_certificates.is_empty() && !rec.sign_certificates.is_empty(),
            "{}: a voter needs an authentication and a signing certificate",
            at()
        );
        let voter = Voter { person_id: rec.person_id, municipality: rec.municipality, districts: rec.districts };
        db.add_voter(&voter, &certs, actor, now)?;
        n += 1;
    }
    Ok(n)
}

/// Threads of the blocking pool that runs the handlers: enough to keep both cores busy while some wait on the
/// disk, few enough that their stacks and arenas stay small.
const BLOCKING_THREADS: usize = 32;

fn serve(args: ServeArgs, clock: Clock) -> anyhow::Result<()> {
    init_logging();
    let (db, election, key) = if args.demo {
        let db = Db::open_in_memory()?;
        let election = demo::demo_election(clock.now())?;
        let key = demo::insecure_demo_key()?;
        db.create_election(&election, &key, "system:demo", clock.now())?;
        (db, election, key)
    } else {
        let path = args.db.clone().context("give --db or --demo")?;
        let options =
            crate::db::DbOptions { ballot_box_batch: args.ballot_box_batch, serving: true, ..Default::default() };
        let db = Db::open_with(&path, options)?;
        let (election, key) = db
            .election()?
            .with_context(|| format!("{} has no election: run `verifier election create` first", path.display()))?;
        (db, election, key)
    };
    guard_clock(clock, &election, &db, "serve", HOST)?;
    let audit_key = Arc::new(match (&args.db, &args.audit_key) {
        (None, _) => AuditKey::ephemeral()?,
        (Some(path), chosen) => {
            load_audit_key(&db, &chosen.clone().unwrap_or_else(|| AuditKey::default_path(path)), clock)?
        }
    });
    let trust = args.trust_dir.as_deref().map(TrustStore::from_dir).transpose()?.map(Arc::new);
    let trust_dir = args.trust_dir.clone();
    let crl_poll_seconds = args.crl_poll_seconds.max(1);
    let research = crate::research::config_from_flags(
        args.research_selection.as_deref(),
        args.research_display.as_deref(),
        args.research_drum_start.as_deref(),
    )?;
    if research.is_some() && !election.practice {
        eprintln!("verifier: WARNING: --research-* ignored: {} is a real election, not a practice one", election.id);
        tracing::warn!(election = %election.id, "research modes ignored in a real election");
    }
    let study = args.research_study.as_deref().map(|p| crate::study::load(p, &election)).transpose()?.map(Arc::new);
    let mailer = Arc::new(crate::notify::Mailer::new(mail_config(&args)?)?);
    let config = Config {
        secure_cookies: args.secure_cookies
            || args.tls_cert.is_some()
            || args.public_origin.as_deref().is_some_and(|o| o.starts_with("https://")),
        public_origin: args.public_origin.unwrap_or_else(|| format!("http://{}", args.listen)),
        session_lifetime: match args.session_seconds {
            Some(s) => chrono::Duration::seconds(s),
            None => chrono::Duration::minutes(args.session_minutes),
        },
        session_extensions: args.session_extensions,
        card_helper_origin: args.card_helper_origin.clone(),
        research,
        study,
    };
    let state = AppState {
        election: crate::CurrentElection::new(election),
        key: Arc::new(key),
        db: Arc::new(db),
        trust,
        sessions: Arc::default(),
        limits: Arc::new(crate::limits::RateLimits::new(&crate::limits::RateConfig {
            challenges_per_minute: args.rate_challenges_per_minute,
            logins_per_minute: args.rate_logins_per_minute,
            casts_per_minute: args.rate_casts_per_minute,
            address_share: args.rate_address_share,
            exempt: args.rate_limit_exempt.clone(),
        })),
        clock,
        config: Arc::new(config),
    };
    let operator_api = match (args.operator_listen, args.operator_ca) {
        (Some(listen), Some(dir)) => Some((
            crate::operator_api::OperatorApiConfig::from_ca_dir(listen, &dir)?,
            crate::operator_api::OperatorContext::new(state.db.clone())?
                .with_clock(clock)
                .with_audit_key(audit_key.clone()),
        )),
        _ => None,
    };
    let election_for_operators = state.election.clone();
    let state_db_for_mail = state.db.clone();
    // The handlers run on the blocking pool (SQLite, RSA). Its default of 512 threads let a burst of casts waiting
    // for the writer grow the verifier past 600 MB (a thread stack and a malloc arena each, measured at 100,000
    // voters); a small pool makes the burst wait in tokio's queue instead, as cheap closures (issue 10).
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().max_blocking_threads(BLOCKING_THREADS).build()?;
    let state_for_seal = state.clone();
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::listener::tls_config(cert, key)?),
        _ => None,
    };
    let limits = crate::listener::ListenerLimits {
        max_connections: args.max_connections.max(1),
        header_timeout: std::time::Duration::from_secs(args.header_timeout_seconds.max(1)),
        request_timeout: std::time::Duration::from_secs(args.request_timeout_seconds.max(1)),
    };
    let options = server::ServeOptions { listen: args.listen, web_dir: args.web_dir, state, tls, limits };
    let db_for_mail = state_db_for_mail;
    let db_at_stop = state_for_seal.db.clone();
    let sessions_at_stop = state_for_seal.sessions.clone();
    let served = runtime.block_on(async move {
        // The voter port is bound (and said so) before the operator API starts.
        let voters = server::bind(options).await?;
        // Used nonces and ended sessions are forgotten every minute, so that the tables stay at their live size.
        let sessions = state_for_seal.sessions.clone();
        let clock = state_for_seal.clock;
        let db_for_failures = state_for_seal.db.clone();
        let limits = state_for_seal.limits.clone();
        if let Some((trust, dir)) = state_for_seal.trust.clone().zip(trust_dir.clone()) {
            let poll = std::time::Duration::from_secs(crl_poll_seconds);
            crate::crl_watch::spawn(trust, dir, state_for_seal.db.clone(), clock, poll);
        }
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                every.tick().await;
                sessions.prune(clock.now());
                limits.prune();
                crate::handlers::write_login_failures(&db_for_failures, &sessions, clock.now()).await;
                crate::handlers::write_cast_refusals(&db_for_failures, &sessions, clock.now(), false).await;
            }
        });
        let checkpoint_every = std::time::Duration::from_secs(args.audit_checkpoint_seconds.max(1));
        crate::checkpoints::spawn(state_for_seal.db.clone(), audit_key, clock, checkpoint_every);
        tokio::spawn(server::seal_at_close(state_for_seal));
        // Notices are delivered in the background and retried until sent (R-REG-7).
        let _mail = crate::notify::spawn_delivery_loop(db_for_mail, mailer, std::time::Duration::from_secs(30));
        let Some((config, ctx)) = operator_api else { return voters.await };
        // The operator API stops with the voter API (which handles Ctrl-C and SIGTERM).
        let extra = crate::operator_routes::routes(&ctx, election_for_operators);
        let operators = crate::operator_api::serve(config, ctx, extra, std::future::pending());
        tokio::select! {
            r = voters => r,
            r = operators => r,
        }
    });
    // The refused casts of the hour in progress are written when the verifier stops.
    runtime.block_on(crate::handlers::write_cast_refusals(&db_at_stop, &sessions_at_stop, clock.now(), true));
    // Research tasks still waiting are written when the verifier stops (ballots are not: see `ballot-box`).
    match crate::research::flush(&db_at_stop) {
        Ok(0) => {}
        Ok(n) => tracing::info!(research_tasks_written = n, "research tasks written at stop"),
        Err(e) => tracing::error!(error = %e, "research tasks waiting at stop were not written"),
    }
    served
}

/// Reads and validates an election definition.
pub fn load_election(path: &Path) -> anyhow::Result<Election> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_election(&text).with_context(|| format!("{} is not a valid election", path.display()))
}

/// Parses and validates an election definition (TOML).
fn parse_election(text: &str) -> anyhow::Result<Election> {
    let e: Election = toml::from_str(text)?;
    e.validate()?;
    Ok(e)
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
