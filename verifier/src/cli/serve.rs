//! `verifier serve`: the voter API and the voter app on one origin, the operator API beside it when asked, and the
//! loops that run while serving (sessions pruned, CRLs re-read, checkpoints signed, notices sent, the seal at close).
//! Every option has an environment variable, and may be given in a settings file ([`super::settings`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::{HOST, guard_clock, load_audit_key};
use shared::crypto::ElectionPublicKey;
use shared::election::Election;

use crate::certs::TrustStore;
use crate::clock::Clock;
use crate::store::Db;
use crate::store::checkpoints::AuditKey;
use crate::{AppState, Config, demo, server};

#[derive(Args)]
pub(super) struct ServeArgs {
    /// A settings file (TOML) whose keys are these options without their dashes, e.g. `session-minutes = 20`; the
    /// environment and the flags override it. `verifier/verifier.example.toml` lists and explains every key.
    #[arg(long, env = "VERIFIER_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "VERIFIER_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The built voter app (Trunk's dist/ folder).
    #[arg(long, env = "VERIFIER_WEB_DIR")]
    web_dir: Option<PathBuf>,
    /// The database (with an election created by `verifier election create`).
    #[arg(long, env = "VERIFIER_DB", conflicts_with = "demo")]
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
    #[command(flatten)]
    store: super::VotingStoreArgs,
    /// The key every front-end of one election shares (a file holding 64 hex characters, readable by its owner
    /// only; e.g. `openssl rand -hex 32`): a login challenge or session of one front-end is then good at the others
    /// and survives a restart, and used nonces and ended sessions are kept in the voting store (issue 24). Without
    /// it each process has a random key of its own.
    #[arg(long, env = "VERIFIER_SESSION_KEY_FILE")]
    session_key_file: Option<PathBuf>,
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

fn mail_config(args: &ServeArgs) -> anyhow::Result<crate::registration::notify::MailConfig> {
    use crate::registration::notify::{MailConfig, SmtpTls};
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

/// Threads of the blocking pool that runs the handlers: enough to keep both cores busy while some wait on the
/// disk, few enough that their stacks and arenas stay small.
const BLOCKING_THREADS: usize = 32;

pub(super) fn run(args: ServeArgs, clock: Clock) -> anyhow::Result<()> {
    init_logging();
    let (db, election, key) = open_election(&args, clock)?;
    guard_clock(clock, &election, &db, "serve", HOST)?;
    let audit_key = Arc::new(match (&args.db, &args.audit_key) {
        (None, _) => AuditKey::ephemeral()?,
        (Some(path), chosen) => {
            load_audit_key(&db, &chosen.clone().unwrap_or_else(|| AuditKey::default_path(path)), clock)?
        }
    });
    let (state, mailer) = app_state(&args, clock, db, election, key)?;
    let trust_dir = args.trust_dir.clone();
    let crl_poll_seconds = args.crl_poll_seconds.max(1);
    let operator_api = match (args.operator_listen, args.operator_ca) {
        (Some(listen), Some(dir)) => Some((
            crate::operators::api::OperatorApiConfig::from_ca_dir(listen, &dir)?,
            crate::operators::api::OperatorContext::new(state.db.clone())?
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
        (Some(cert), Some(key)) => Some(crate::voting::listener::tls_config(cert, key)?),
        _ => None,
    };
    let limits = crate::voting::listener::ListenerLimits {
        max_connections: args.max_connections.max(1),
        header_timeout: std::time::Duration::from_secs(args.header_timeout_seconds.max(1)),
        request_timeout: std::time::Duration::from_secs(args.request_timeout_seconds.max(1)),
    };
    let options = server::ServeOptions { listen: args.listen, web_dir: args.web_dir, state, tls, limits };
    let db_for_mail = state_db_for_mail;
    let db_at_stop = state_for_seal.db.clone();
    let sessions_at_stop = state_for_seal.sessions.clone();
    let checkpoint_every = std::time::Duration::from_secs(args.audit_checkpoint_seconds.max(1));
    let served = runtime.block_on(async move {
        // The voter port is bound (and said so) before the operator API starts.
        let voters = server::bind(options).await?;
        spawn_background(state_for_seal, trust_dir, crl_poll_seconds, audit_key, checkpoint_every, mailer, db_for_mail);
        let Some((config, ctx)) = operator_api else { return voters.await };
        // The operator API stops with the voter API (which handles Ctrl-C and SIGTERM).
        let extra = crate::registration::routes::routes(&ctx, election_for_operators);
        let operators = crate::operators::api::serve(config, ctx, extra, std::future::pending());
        tokio::select! {
            r = voters => r,
            r = operators => r,
        }
    });
    // The refused casts of the hour in progress are written when the verifier stops.
    runtime.block_on(crate::voting::handlers::write_cast_refusals(&db_at_stop, &sessions_at_stop, clock.now(), true));
    // Research tasks still waiting are written when the verifier stops (ballots are not: see `ballot-box`).
    match crate::research::flush(&db_at_stop) {
        Ok(0) => {}
        Ok(n) => tracing::info!(research_tasks_written = n, "research tasks written at stop"),
        Err(e) => tracing::error!(error = %e, "research tasks waiting at stop were not written"),
    }
    served
}

/// Opens the election to serve: the demo election in memory, or the one in the database.
fn open_election(args: &ServeArgs, clock: Clock) -> anyhow::Result<(Db, Election, ElectionPublicKey)> {
    // clap checks these for flags and the environment; a settings file's values are defaults, which it does not.
    anyhow::ensure!(
        !(args.demo && args.db.is_some()),
        "give the database (--db, VERIFIER_DB or db in the settings file) or --demo, not both"
    );
    anyhow::ensure!(
        !(args.demo && args.store.voting_store.is_some()),
        "the demo keeps its store in memory: give --voting-store without --demo"
    );
    let (db, election, key) = if args.demo {
        let db = Db::open_in_memory()?;
        let election = demo::demo_election(clock.now())?;
        let key = demo::insecure_demo_key()?;
        db.create_election(&election, &key, "system:demo", clock.now())?;
        (db, election, key)
    } else {
        let path = args.db.clone().context(
            "give the database (--db, VERIFIER_DB or db in the settings file), or --demo for the practice election",
        )?;
        let options =
            crate::store::DbOptions { ballot_box_batch: args.ballot_box_batch, serving: true, ..args.store.options() };
        let db = Db::open_with(&path, options)?;
        let (election, key) = db
            .election()?
            .with_context(|| format!("{} has no election: run `verifier election create` first", path.display()))?;
        (db, election, key)
    };
    Ok((db, election, key))
}

/// The sessions: under the shared key of `--session-key-file`, their spent tags in the voting store when there is
/// one, or under a random key of this process.
fn sessions(args: &ServeArgs, db: &Db) -> anyhow::Result<crate::voting::sessions::Sessions> {
    use crate::voting::sessions::{MemorySpent, Sessions, Spent};
    let Some(path) = &args.session_key_file else { return Ok(Sessions::default()) };
    let key = read_session_key(path)?;
    let spent: Arc<dyn Spent> = match db.voting_store() {
        Some(store) => Arc::new(crate::store::pg::spent::PgSpent::new(Arc::clone(store))?),
        None => Arc::new(MemorySpent::default()),
    };
    Ok(Sessions::shared(key, spent))
}

/// Reads the shared session key: 64 hex characters in a file only its owner may read.
fn read_session_key(path: &std::path::Path) -> anyhow::Result<[u8; 32]> {
    let what = || format!("the session key file {}", path.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).with_context(what)?.permissions().mode();
        anyhow::ensure!(
            mode & 0o077 == 0,
            "SESSION_KEY_EXPOSED: {} can be read by others (mode {:o}); run chmod 600 on it",
            what(),
            mode & 0o777
        );
    }
    let text = std::fs::read_to_string(path).with_context(what)?;
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut key).map_err(|_| {
        anyhow::anyhow!("SESSION_KEY_MALFORMED: {} must hold 64 hex characters (openssl rand -hex 32)", what())
    })?;
    Ok(key)
}

/// Builds what the voter API's handlers share, and the mailer of notices, from the settings.
fn app_state(
    args: &ServeArgs,
    clock: Clock,
    db: Db,
    election: Election,
    key: ElectionPublicKey,
) -> anyhow::Result<(AppState, Arc<crate::registration::notify::Mailer>)> {
    let db = Arc::new(db);
    let trust = args.trust_dir.as_deref().map(TrustStore::from_dir).transpose()?.map(Arc::new);
    let research = crate::research::config_from_flags(
        args.research_selection.as_deref(),
        args.research_display.as_deref(),
        args.research_drum_start.as_deref(),
    )?;
    if research.is_some() && !election.practice {
        eprintln!("verifier: WARNING: --research-* ignored: {} is a real election, not a practice one", election.id);
        tracing::warn!(election = %election.id, "research modes ignored in a real election");
    }
    let study =
        args.research_study.as_deref().map(|p| crate::research::study::load(p, &election)).transpose()?.map(Arc::new);
    let mailer = Arc::new(crate::registration::notify::Mailer::new(mail_config(args)?)?);
    let config = Config {
        secure_cookies: args.secure_cookies
            || args.tls_cert.is_some()
            || args.public_origin.as_deref().is_some_and(|o| o.starts_with("https://")),
        public_origin: args.public_origin.clone().unwrap_or_else(|| format!("http://{}", args.listen)),
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
        db: Arc::clone(&db),
        trust,
        sessions: Arc::new(sessions(args, &db)?),
        limits: Arc::new(crate::voting::limits::RateLimits::new(&crate::voting::limits::RateConfig {
            challenges_per_minute: args.rate_challenges_per_minute,
            logins_per_minute: args.rate_logins_per_minute,
            casts_per_minute: args.rate_casts_per_minute,
            address_share: args.rate_address_share,
            exempt: args.rate_limit_exempt.clone(),
        })),
        clock,
        config: Arc::new(config),
    };
    Ok((state, mailer))
}

/// Starts the loops that run beside the listeners: CRL re-reads, the minute's housekeeping and audit counts, signed
/// checkpoints, the seal at the close, and the delivery of notices.
fn spawn_background(
    state_for_seal: AppState,
    trust_dir: Option<PathBuf>,
    crl_poll_seconds: u64,
    audit_key: Arc<AuditKey>,
    checkpoint_every: std::time::Duration,
    mailer: Arc<crate::registration::notify::Mailer>,
    db_for_mail: Arc<Db>,
) {
    // Used nonces and ended sessions are forgotten every minute, so that the tables stay at their live size.
    let sessions = state_for_seal.sessions.clone();
    let clock = state_for_seal.clock;
    let db_for_failures = state_for_seal.db.clone();
    let limits = state_for_seal.limits.clone();
    if let Some((trust, dir)) = state_for_seal.trust.clone().zip(trust_dir.clone()) {
        let poll = std::time::Duration::from_secs(crl_poll_seconds);
        crate::certs::watch::spawn(trust, dir, state_for_seal.db.clone(), clock, poll);
    }
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            sessions.prune(clock.now());
            limits.prune();
            crate::voting::handlers::write_login_failures(&db_for_failures, &sessions, clock.now()).await;
            crate::voting::handlers::write_cast_refusals(&db_for_failures, &sessions, clock.now(), false).await;
        }
    });
    crate::store::checkpoints::spawn(state_for_seal.db.clone(), audit_key, clock, checkpoint_every);
    tokio::spawn(server::seal_at_close(state_for_seal));
    // Notices are delivered in the background and retried until sent (R-REG-7).
    let _mail =
        crate::registration::notify::spawn_delivery_loop(db_for_mail, mailer, std::time::Duration::from_secs(30));
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
