//! Delivery: the SMTP or outbox transport, one round that sends every due notice and audits each one sent, and
//! the loop that runs rounds while serving.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, FileTransport, Message, SmtpTransport, Transport};

use super::queue::{Due, claim_next, count_pending, defer_all_due, mark_sent, record_failure};
use crate::store::Db;

/// How long one SMTP exchange may take before it counts as a failure.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The most characters of an error kept in `last_error`.
const MAX_ERROR_CHARS: usize = 1000;

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text (a relay on the same host only; credentials are refused).
    None,
    /// STARTTLS, required (usually port 587).
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Wrapper,
}

/// Where notices go.
#[derive(Clone)]
pub enum MailConfig {
    /// A real SMTP server.
    Smtp {
        /// The server's host name (also the name its TLS certificate must carry).
        host: String,
        /// The server's port.
        port: u16,
        /// How the connection is protected.
        tls: SmtpTls,
        /// The sender, `noreply@example.jp` or `名前 <noreply@example.jp>`.
        from: String,
        /// User name and password, if the server requires them (only over TLS or to a loopback relay).
        credentials: Option<(String, String)>,
    },
    /// A folder that receives each message as an `.eml` file (the demo and tests).
    Outbox {
        /// The folder, created if missing.
        dir: PathBuf,
        /// The sender.
        from: String,
    },
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailConfig::Smtp { host, port, tls, from, credentials } => f
                .debug_struct("Smtp")
                .field("host", host)
                .field("port", port)
                .field("tls", tls)
                .field("from", from)
                .field("credentials", &credentials.as_ref().map(|(user, _)| (user, "<redacted>")))
                .finish(),
            MailConfig::Outbox { dir, from } => f.debug_struct("Outbox").field("dir", dir).field("from", from).finish(),
        }
    }
}

/// What one delivery round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Notices sent in this round.
    pub sent: usize,
    /// Notices that failed in this round (they stay queued and are retried after [`backoff`]).
    pub failed: usize,
    /// Notices not yet sent after this round (failed ones and those not yet due).
    pub pending: usize,
}

enum Sender {
    Smtp(SmtpTransport),
    Outbox(FileTransport),
}

/// A failed send: the text kept in `last_error`, and whether the server could not be reached at all.
struct SendFailure {
    text: String,
    unreachable: bool,
}

/// Sends queued notices through one configured transport.
pub struct Mailer {
    sender: Sender,
    from: Mailbox,
    /// One delivery round at a time per mailer.
    round: Mutex<()>,
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The error and its causes on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text.chars().take(MAX_ERROR_CHARS).collect()
}

impl Mailer {
    /// Builds the transport; fails on an invalid sender, on credentials without TLS to a remote host, or on an
    /// outbox folder that cannot be created. Nothing is contacted yet.
    pub fn new(cfg: MailConfig) -> anyhow::Result<Mailer> {
        let (sender, from) = match cfg {
            MailConfig::Smtp { host, port, tls, from, credentials } => {
                let tls = match tls {
                    SmtpTls::None => {
                        if credentials.is_some() && !is_loopback(&host) {
                            anyhow::bail!(
                                "SMTP credentials would be sent in clear text to {host}; use StartTls or Wrapper"
                            );
                        }
                        Tls::None
                    }
                    SmtpTls::StartTls => Tls::Required(TlsParameters::new(host.clone())?),
                    SmtpTls::Wrapper => Tls::Wrapper(TlsParameters::new(host.clone())?),
                };
                let mut builder =
                    SmtpTransport::builder_dangerous(host).port(port).tls(tls).timeout(Some(SMTP_TIMEOUT));
                if let Some((user, password)) = credentials {
                    builder = builder.credentials(Credentials::new(user, password));
                }
                (Sender::Smtp(builder.build()), from)
            }
            MailConfig::Outbox { dir, from } => {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| anyhow::anyhow!("cannot create the outbox folder {}: {e}", dir.display()))?;
                (Sender::Outbox(FileTransport::new(dir)), from)
            }
        };
        let from: Mailbox =
            from.parse().map_err(|e| anyhow::anyhow!("the sender {from:?} is not a valid mailbox: {e}"))?;
        Ok(Mailer { sender, from, round: Mutex::new(()) })
    }

    fn message(&self, due: &Due) -> Result<Message, SendFailure> {
        let permanent = |text: String| SendFailure { text, unreachable: false };
        let to: Address = due.recipient.parse().map_err(|e| permanent(format!("invalid recipient: {e}")))?;
        // Stable across retries, so that a copy sent twice after a crash is recognisable as the same message.
        let stamp: String = due.created_at.chars().filter(char::is_ascii_digit).collect();
        let message_id = format!("<notice-{}-{stamp}@{}>", due.id, self.from.email.domain());
        Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(due.subject.as_str())
            .message_id(Some(message_id))
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-generated".into()))
            .header(ContentType::TEXT_PLAIN)
            .body(due.body.clone())
            .map_err(|e| permanent(format!("cannot build the message: {}", error_chain(&e))))
    }

    fn send(&self, due: &Due) -> Result<(), SendFailure> {
        let message = self.message(due)?;
        match &self.sender {
            Sender::Smtp(t) => t.send(&message).map(drop).map_err(|e| SendFailure {
                text: error_chain(&e),
                // A 4xx/5xx reply concerns this message (e.g. a refused recipient); no reply at all (refused
                // connection, timeout, TLS, garbled reply) means the server is out of reach, and 421 says so.
                unreachable: e.status().is_none_or(|code| code.to_string() == "421"),
            }),
            Sender::Outbox(t) => {
                t.send(&message).map(drop).map_err(|e| SendFailure { text: error_chain(&e), unreachable: true })
            }
        }
    }

    /// Sends every due notice (`next_attempt_at <= now`, not yet sent), one at a time, the database unlocked while
    /// sending. Sent: marked and audited. Failed: kept, attempt counted, error recorded, retried after [`backoff`].
    /// If the server cannot be reached, the other due notices of this round fail with the same error. Returns
    /// `Err` only when the database fails; an SMTP failure is a report with `failed > 0`.
    pub fn deliver_pending(&self, db: &Db, now: DateTime<Utc>) -> anyhow::Result<DeliveryReport> {
        let _round = self.round.lock().map_err(|_| anyhow::anyhow!("a delivery round panicked"))?;
        let mut report = DeliveryReport::default();
        while let Some(due) = db.with(|c| claim_next(c, now))? {
            match self.send(&due) {
                Ok(()) => {
                    db.with(|c| mark_sent(c, due.id, now))?;
                    report.sent += 1;
                }
                Err(failure) => {
                    tracing::warn!(
                        notice = due.id,
                        attempts = due.attempts.saturating_add(1),
                        error = %failure.text.replace(&due.recipient, "<recipient>"),
                        "notice not sent; it stays queued"
                    );
                    db.with(|c| record_failure(c, due.id, due.attempts, now, &failure.text))?;
                    report.failed += 1;
                    if failure.unreachable {
                        report.failed += db.with(|c| defer_all_due(c, now, &failure.text))?;
                        break;
                    }
                }
            }
        }
        report.pending = db.with(|c| count_pending(c))?;
        Ok(report)
    }
}

/// Runs a delivery round every `every` (at least 10 ms) on the blocking pool, logging what failed (never a body or
/// an address) until the task is aborted.
pub fn spawn_delivery_loop(db: Arc<Db>, mailer: Arc<Mailer>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.max(Duration::from_millis(10)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let (db, mailer) = (Arc::clone(&db), Arc::clone(&mailer));
            let round =
                tokio::task::spawn_blocking(move || mailer.deliver_pending(&db, crate::clock::Clock::SYSTEM.now()));
            match round.await {
                Ok(Ok(r)) if r.sent > 0 || r.failed > 0 => {
                    tracing::info!(sent = r.sent, failed = r.failed, pending = r.pending, "notice delivery round");
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "notice delivery round failed; notices stay queued"),
                Err(e) => tracing::error!(error = %e, "notice delivery round panicked; notices stay queued"),
            }
        }
    })
}
