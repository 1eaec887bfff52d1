//! E-mail notices to voters (R-REG-7, R-REG-9): acceptance automatically, rejection with the committee's reason,
//! an accepted switch back to paper voting, and an application kept for the next election.
//!
//! A notice is never lost:
//! - [`enqueue`] writes it into the `notices` table inside the caller's transaction, so a committee's decision and
//!   its notice commit (or roll back) together.
//! - [`Mailer::deliver_pending`] sends every due notice. A sent notice is marked `sent_at` and gets one
//!   `notice_sent` audit entry (R-SEC-5; the entry names the notice, never the address or the text). A failed one
//!   keeps its row, counts the attempt, records the error and waits [`backoff`] before the next try.
//! - Rows are never deleted. While a notice is being sent it is leased (its next attempt is moved [`LEASE`] ahead),
//!   so a second deliverer skips it and a crash between sending and marking means one more copy, not a lost one.
//!
//! Every message is plain UTF-8 text, Japanese first and then English, with no link (a notice must not look like
//! the phishing it warns about).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, FileTransport, Message, SmtpTransport, Transport};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::store::Db;
use crate::store::audit;

/// How long a notice being sent is withheld from other deliverers; after a crash it becomes due again then.
pub const LEASE: chrono::Duration = chrono::Duration::minutes(10);

/// The first retry delay; each further failure doubles it.
pub const FIRST_RETRY: chrono::Duration = chrono::Duration::seconds(30);

/// The longest delay between two attempts.
pub const MAX_RETRY: chrono::Duration = chrono::Duration::hours(1);

/// How long one SMTP exchange may take before it counts as a failure.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The most characters of an error kept in `last_error`.
const MAX_ERROR_CHARS: usize = 1000;

const SUBJECT_PREFIX_JA: &str = "【在外選挙インターネット投票】";
const SUBJECT_PREFIX_EN: &str = "Overseas internet voting: ";

/// One e-mail to one voter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The voter's address (`user@example.com`, no display name).
    pub to: String,
    /// The subject, Japanese then English.
    pub subject: String,
    /// The plain-text body, Japanese then English.
    pub body: String,
}

/// Why [`enqueue`] refused a notice.
#[derive(Debug, thiserror::Error)]
pub enum InvalidNotice {
    /// The recipient does not parse as an e-mail address (the address itself is not repeated here).
    #[error("the recipient is not a valid e-mail address: {0}")]
    Recipient(#[from] lettre::address::AddressError),
    /// The subject is empty or holds a control character such as a line break.
    #[error("the subject must be one non-empty line")]
    Subject,
}

/// Timestamps are stored as fixed-width RFC 3339 UTC text, so that text order is time order.
fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn validate(n: &Notice) -> Result<(), InvalidNotice> {
    n.to.parse::<Address>()?;
    if n.subject.trim().is_empty() || n.subject.chars().any(char::is_control) {
        return Err(InvalidNotice::Subject);
    }
    Ok(())
}

/// Queues a notice, due at once; call it inside the caller's transaction so the decision and its notice commit
/// together. An invalid recipient or subject is an error (nothing is written), never a panic.
pub fn enqueue(conn: &Connection, n: &Notice, now: DateTime<Utc>) -> rusqlite::Result<i64> {
    validate(n).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let now = ts(now);
    conn.execute(
        "INSERT INTO notices (recipient, subject, body, created_at, attempts, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, 0, ?4)",
        params![n.to, n.subject, n.body, now],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The delay after `attempts` failed attempts: 30 s, 1 min, 2 min, … doubling, never more than one hour.
pub fn backoff(attempts: u32) -> chrono::Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    let delay = FIRST_RETRY * (1i32 << doublings);
    delay.min(MAX_RETRY)
}

// ----- Texts ------------------------------------------------------------------------------------------------------

const FOOTER_JA: &str = "このメールは送信専用のアドレスから自動で送信しています。返信はできません。\n\
選挙管理委員会がメールで暗証番号やパスワードを尋ねたり、リンクを開くよう求めたりすることはありません。";

const FOOTER_EN: &str = "This message was sent automatically from an address that cannot receive replies.\n\
The election administration commission never asks for your PIN or a password by e-mail, \
and never asks you to open a link.";

fn compose(to: &str, subject_ja: &str, subject_en: &str, body_ja: &str, body_en: &str) -> Notice {
    Notice {
        to: to.to_owned(),
        subject: format!("{SUBJECT_PREFIX_JA}{subject_ja} / {SUBJECT_PREFIX_EN}{subject_en}"),
        body: format!(
            "（English follows the Japanese text.）\n\n{body_ja}\n\n{FOOTER_JA}\n\n\
             ----------------------------------------\n\n{body_en}\n\n{FOOTER_EN}\n"
        ),
    }
}

/// The notice that the committee accepted an application for internet voting (R-REG-7).
pub fn acceptance_notice(to: &str, name: &str, receipt_no: &str, municipality: &str) -> Notice {
    compose(
        to,
        "登録申請受理のお知らせ",
        "your application was accepted",
        &format!(
            "{name} 様\n\n\
             在外選挙インターネット投票の登録申請（受付番号 {receipt_no}）は、\
             {municipality}選挙管理委員会により受理されました。\n\
             これからの選挙では、マイナンバーカードを使ってインターネットで投票できます。\
             切替申出（郵便等による投票などへ戻す申出）をしない限り、以後の選挙でも同じです。\n\
             お問い合わせは、{municipality}選挙管理委員会へお願いします。"
        ),
        &format!(
            "Dear {name},\n\n\
             Your application for overseas internet voting (receipt number {receipt_no}) has been accepted by the \
             election administration commission of {municipality}.\n\
             From now on you can vote online with your My Number Card, in every election until you ask to switch \
             back to paper voting.\n\
             For questions, please contact the election administration commission of {municipality}."
        ),
    )
}

/// The notice that the committee rejected an application, with its reason verbatim (R-REG-7).
pub fn rejection_notice(to: &str, name: &str, receipt_no: &str, municipality: &str, reason: &str) -> Notice {
    compose(
        to,
        "登録申請を受理できませんでした",
        "your application was not accepted",
        &format!(
            "{name} 様\n\n\
             在外選挙インターネット投票の登録申請（受付番号 {receipt_no}）は、\
             {municipality}選挙管理委員会において受理できませんでした。\n\n\
             理由:\n{reason}\n\n\
             理由となった事情が解消されたときは、改めて申請することができます。\n\
             お問い合わせは、{municipality}選挙管理委員会へお願いします。"
        ),
        &format!(
            "Dear {name},\n\n\
             Your application for overseas internet voting (receipt number {receipt_no}) could not be accepted by \
             the election administration commission of {municipality}.\n\n\
             Reason (as written by the commission):\n{reason}\n\n\
             You may apply again once the reason no longer applies.\n\
             For questions, please contact the election administration commission of {municipality}."
        ),
    )
}

/// The notice that an online switch request was accepted: the voter is a paper voter again (R-REG-9).
pub fn switch_accepted_notice(to: &str, name: &str, municipality: &str) -> Notice {
    compose(
        to,
        "切替申出受理のお知らせ",
        "you are a paper voter again",
        &format!(
            "{name} 様\n\n\
             インターネット投票から郵便等による投票などへの切替申出は、\
             {municipality}選挙管理委員会により受理されました。\n\
             今後の選挙では、インターネットでは投票できません。在外公館投票、郵便等投票又は日本国内における投票で\
             投票してください。\n\
             在外選挙人証をまだ郵送していない場合は、インターネット投票の記載を削除するため、\
             {municipality}選挙管理委員会へ郵送してください。\n\
             再びインターネットで投票するには、新たに登録申請をし、受理される必要があります。"
        ),
        &format!(
            "Dear {name},\n\n\
             Your request to switch from internet voting back to paper voting has been accepted by the election \
             administration commission of {municipality}.\n\
             You can no longer vote online: please vote at an embassy or consulate, by post, or in Japan.\n\
             If you have not yet mailed your overseas voter card, please mail it to the election administration \
             commission of {municipality} so that the internet voting endorsement can be removed.\n\
             To vote online again, you need to submit a new application and have it accepted."
        ),
    )
}

/// The notice that an application received after the cut-off is kept for the next election (R-REG-11).
pub fn kept_for_next_election_notice(to: &str, name: &str, receipt_no: &str) -> Notice {
    compose(
        to,
        "申請は次回の選挙に向けて保管されます",
        "your application is kept for the next election",
        &format!(
            "{name} 様\n\n\
             在外選挙インターネット投票の登録申請（受付番号 {receipt_no}）は、今回の選挙の申請締切の後に\
             受け付けたため、今回の選挙には間に合いません。\n\
             申請は保管され、次の選挙に向けて審査されます。改めて申請する必要はありません。\n\
             今回の選挙は、在外公館投票、郵便等投票又は日本国内における投票で投票してください。"
        ),
        &format!(
            "Dear {name},\n\n\
             Your application for overseas internet voting (receipt number {receipt_no}) arrived after the \
             application cut-off for the current election, so it cannot apply to it.\n\
             The application is kept and will be examined for the next election; you do not need to apply again.\n\
             In the current election, please vote at an embassy or consulate, by post, or in Japan."
        ),
    )
}

// ----- Delivery ---------------------------------------------------------------------------------------------------

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

/// A notice claimed for sending.
struct Due {
    id: i64,
    recipient: String,
    subject: String,
    body: String,
    created_at: String,
    attempts: u32,
}

fn claim_next(conn: &mut Connection, now: DateTime<Utc>) -> rusqlite::Result<Option<Due>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let due = tx
        .query_row(
            "SELECT id, recipient, subject, body, created_at, attempts FROM notices
             WHERE sent_at IS NULL AND next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT 1",
            params![ts(now)],
            |r| {
                Ok(Due {
                    id: r.get(0)?,
                    recipient: r.get(1)?,
                    subject: r.get(2)?,
                    body: r.get(3)?,
                    created_at: r.get(4)?,
                    attempts: r.get(5)?,
                })
            },
        )
        .optional()?;
    if let Some(d) = &due {
        tx.execute("UPDATE notices SET next_attempt_at = ?1 WHERE id = ?2", params![ts(now + LEASE), d.id])?;
    }
    tx.commit()?;
    Ok(due)
}

fn mark_sent(conn: &mut Connection, id: i64, now: DateTime<Utc>) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "UPDATE notices SET sent_at = ?1, attempts = attempts + 1 WHERE id = ?2 AND sent_at IS NULL",
        params![ts(now), id],
    )?;
    audit::append(&tx, now, audit::SYSTEM, "notice_sent", &serde_json::json!({ "notice": id }))?;
    tx.commit()
}

fn record_failure(conn: &Connection, id: i64, attempts: u32, now: DateTime<Utc>, error: &str) -> rusqlite::Result<()> {
    let attempts = attempts.saturating_add(1);
    conn.execute(
        "UPDATE notices SET attempts = ?1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?4 AND sent_at IS NULL",
        params![attempts, error, ts(now + backoff(attempts)), id],
    )?;
    Ok(())
}

/// The server is unreachable: every other due notice fails this round with the same error, without a connection
/// attempt each (a round stays short however long the queue is).
fn defer_all_due(conn: &mut Connection, now: DateTime<Utc>, error: &str) -> rusqlite::Result<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let due: Vec<(i64, u32)> = {
        let mut stmt =
            tx.prepare("SELECT id, attempts FROM notices WHERE sent_at IS NULL AND next_attempt_at <= ?1")?;
        stmt.query_map(params![ts(now)], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?
    };
    for (id, attempts) in &due {
        record_failure(&tx, *id, *attempts, now, error)?;
    }
    tx.commit()?;
    Ok(due.len())
}

fn count_pending(conn: &Connection) -> rusqlite::Result<usize> {
    let n: i64 = conn.query_row("SELECT count(*) FROM notices WHERE sent_at IS NULL", [], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
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

/// The notices not yet sent, oldest first: id, recipient, subject and attempts so far (for operators).
pub fn pending(db: &Db) -> anyhow::Result<Vec<(i64, String, String, u32)>> {
    Ok(db.with(|c| {
        let mut stmt = c.prepare(
            "SELECT id, recipient, subject, attempts FROM notices WHERE sent_at IS NULL ORDER BY created_at, id",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect()
    })?)
}
