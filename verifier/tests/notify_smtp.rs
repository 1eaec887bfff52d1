//! Voter notices (R-REG-7, R-REG-9) through a real SMTP exchange: a local SMTP server on a free loopback port
//! (mailin's SMTP state machine over a std TCP listener), the messages decoded as MIME by mail-parser.
//! Also: the server down (nothing listening) keeps every notice queued with its error and delivers it after the
//! backoff once the server is up; a refused recipient does not hold back the others; the outbox folder gets .eml
//! files; an invalid address is refused when queued; the background loop delivers by itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use e2e::smtp::SmtpSink;
use mail_parser::MessageParser;
use verifier::registration::notify::{self, DeliveryReport, MailConfig, Mailer, Notice, SmtpTls};
use verifier::store::Db;

const FROM: &str = "在外選挙インターネット投票 <noreply@vote.example.jp>";

/// A loopback port with nothing listening on it (bound once by the OS, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn smtp(port: u16) -> Mailer {
    Mailer::new(MailConfig::Smtp {
        host: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        from: FROM.into(),
        credentials: None,
    })
    .unwrap()
}

fn db() -> Db {
    Db::open_in_memory().unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 3, 0, 0).unwrap()
}

/// Queues notices the way a committee decision does: in one transaction with the caller's own writes.
fn enqueue_all(db: &Db, notices: &[Notice], now: DateTime<Utc>) -> Vec<i64> {
    db.with(|c| {
        let tx = c.transaction()?;
        let ids = notices.iter().map(|n| notify::enqueue(&tx, n, now)).collect::<rusqlite::Result<Vec<_>>>()?;
        tx.commit()?;
        Ok(ids)
    })
    .unwrap()
}

/// (attempts, next_attempt_at, sent_at, last_error) of one notice.
fn row(db: &Db, id: i64) -> (u32, String, Option<String>, Option<String>) {
    db.with(|c| {
        c.query_row("SELECT attempts, next_attempt_at, sent_at, last_error FROM notices WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
    })
    .unwrap()
}

fn count_notices(db: &Db) -> i64 {
    db.with(|c| c.query_row("SELECT count(*) FROM notices", [], |r| r.get(0))).unwrap()
}

/// Decodes one received message and checks it is exactly the queued notice (MIME, UTF-8, any transfer encoding).
fn assert_is(data: &[u8], n: &Notice) {
    let msg = MessageParser::default().parse(data).expect("a MIME message");
    assert_eq!(msg.subject(), Some(n.subject.as_str()));
    assert_eq!(msg.to().and_then(|a| a.first()).and_then(|a| a.address()), Some(n.to.as_str()));
    let from = msg.from().and_then(|a| a.first()).unwrap();
    assert_eq!(from.address(), Some("noreply@vote.example.jp"));
    assert_eq!(from.name(), Some("在外選挙インターネット投票"));
    let body = msg.body_text(0).expect("a text body").replace("\r\n", "\n");
    assert_eq!(body.trim_end(), n.body.trim_end(), "the decoded body is the notice's text");
    let raw = String::from_utf8_lossy(data).to_ascii_lowercase();
    assert!(raw.contains("content-type: text/plain; charset=utf-8"), "{raw}");
    assert!(raw.contains("auto-submitted: auto-generated"));
}

fn audit_details(db: &Db, action: &str) -> Vec<String> {
    let entries = db.with(|c| verifier::store::audit::entries(c)).unwrap();
    entries.into_iter().filter(|e| e.action == action).map(|e| e.detail).collect()
}

const REASON: &str = "申請時の署名用電子証明書が失効していました。\n\
.有効な証明書で、改めて申請してください。 (The signing certificate had been revoked; please apply again.)";

#[test]
fn acceptance_and_rejection_reach_the_smtp_server() {
    let sink = SmtpSink::start(0);
    let mailer = smtp(sink.port);
    let db = db();
    let accepted = notify::acceptance_notice("taro@example.com", "在外 太郎", "R-2026-000123", "千代田区");
    let rejected = notify::rejection_notice("hanako@example.org", "在外 花子", "R-2026-000124", "札幌市", REASON);
    let ids = enqueue_all(&db, &[accepted.clone(), rejected.clone()], t0());
    assert_eq!(notify::pending(&db).unwrap().len(), 2);

    let report = mailer.deliver_pending(&db, t0()).unwrap();
    assert_eq!(report, DeliveryReport { sent: 2, failed: 0, pending: 0 });

    let got = sink.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].rcpt_to, vec!["taro@example.com".to_string()]);
    assert_eq!(got[1].rcpt_to, vec!["hanako@example.org".to_string()]);
    assert_eq!(got[0].mail_from, "noreply@vote.example.jp");
    assert_is(&got[0].data, &accepted);
    assert_is(&got[1].data, &rejected);

    // Japanese first, then English; the reason verbatim (a line starting with "." survives dot-stuffing).
    assert!(accepted.subject.starts_with("【在外選挙インターネット投票】"));
    assert!(accepted.subject.contains(" / Overseas internet voting: "));
    let body = MessageParser::default().parse(&got[1].data).unwrap().body_text(0).unwrap().replace("\r\n", "\n");
    assert!(body.contains(REASON), "{body}");
    let (ja, en) = (body.find("受理できませんでした").unwrap(), body.find("could not be accepted").unwrap());
    assert!(ja < en);
    assert!(body.contains("在外 花子 様") && body.contains("Dear 在外 花子,") && body.contains("R-2026-000124"));

    for id in &ids {
        let (attempts, _, sent_at, last_error) = row(&db, *id);
        assert_eq!((attempts, sent_at.as_deref(), last_error), (1, Some("2026-06-01T03:00:00.000Z"), None));
    }
    // One audit entry per sent notice, naming the notice only.
    let details = audit_details(&db, "notice_sent");
    assert_eq!(details, ids.iter().map(|id| format!("{{\"notice\":{id}}}")).collect::<Vec<_>>());
    assert!(db.with(|c| verifier::store::audit::verify(c)).unwrap().first_broken.is_none());

    // Nothing is sent twice.
    assert_eq!(mailer.deliver_pending(&db, t0() + chrono::Duration::hours(2)).unwrap().sent, 0);
    assert_eq!(sink.received().len(), 2);
    assert_eq!(count_notices(&db), 2, "sent notices are kept");
}

#[test]
fn smtp_down_keeps_every_notice_and_delivers_after_the_backoff() {
    let port = free_port();
    let mailer = smtp(port);
    let db = db();
    let notices = [
        notify::acceptance_notice("taro@example.com", "在外 太郎", "R-1", "千代田区"),
        notify::rejection_notice("hanako@example.org", "在外 花子", "R-2", "札幌市", REASON),
    ];
    let ids = enqueue_all(&db, &notices, t0());

    // Nothing listens: a graceful failure, every notice kept with its attempt and error.
    let report = mailer.deliver_pending(&db, t0()).unwrap();
    assert_eq!(report, DeliveryReport { sent: 0, failed: 2, pending: 2 });
    let retry_at = t0() + notify::backoff(1);
    for id in &ids {
        let (attempts, next, sent_at, last_error) = row(&db, *id);
        assert_eq!(attempts, 1);
        assert_eq!(next, retry_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        assert!(sent_at.is_none());
        let last_error = last_error.expect("the error is recorded");
        assert!(!last_error.is_empty() && !last_error.contains("example"), "{last_error}");
    }
    let pending = notify::pending(&db).unwrap();
    assert_eq!(
        pending
            .iter()
            .map(|(id, to, subject, attempts)| (*id, to.as_str(), subject.as_str(), *attempts))
            .collect::<Vec<_>>(),
        vec![
            (ids[0], "taro@example.com", notices[0].subject.as_str(), 1),
            (ids[1], "hanako@example.org", notices[1].subject.as_str(), 1)
        ]
    );
    assert!(audit_details(&db, "notice_sent").is_empty());

    // The server comes up on that port; before the backoff nothing is tried.
    let sink = SmtpSink::start(port);
    let report = mailer.deliver_pending(&db, retry_at - chrono::Duration::seconds(1)).unwrap();
    assert_eq!(report, DeliveryReport { sent: 0, failed: 0, pending: 2 });
    assert!(sink.received().is_empty());

    let report = mailer.deliver_pending(&db, retry_at).unwrap();
    assert_eq!(report, DeliveryReport { sent: 2, failed: 0, pending: 0 });
    let got = sink.received();
    assert_eq!(got.len(), 2);
    assert_is(&got[0].data, &notices[0]);
    assert_is(&got[1].data, &notices[1]);
    for id in &ids {
        let (attempts, _, sent_at, last_error) = row(&db, *id);
        assert_eq!(attempts, 2);
        assert!(sent_at.is_some());
        assert!(last_error.is_some(), "the last failure stays on record");
    }
    assert_eq!(audit_details(&db, "notice_sent").len(), 2);
    assert!(notify::pending(&db).unwrap().is_empty());
}

#[test]
fn backoff_doubles_from_thirty_seconds_up_to_an_hour() {
    let secs: Vec<i64> = (1..=10).map(|a| notify::backoff(a).num_seconds()).collect();
    assert_eq!(secs, vec![30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
    assert_eq!(notify::backoff(u32::MAX).num_seconds(), 3600);
}

#[test]
fn a_refused_recipient_fails_alone_and_is_retried_later() {
    let sink = SmtpSink::start(0);
    let mailer = smtp(sink.port);
    let db = db();
    let ids = enqueue_all(
        &db,
        &[
            notify::acceptance_notice(e2e::smtp::REFUSED_RECIPIENT, "名無し", "R-9", "千代田区"),
            notify::acceptance_notice("taro@example.com", "在外 太郎", "R-10", "千代田区"),
        ],
        t0(),
    );
    let report = mailer.deliver_pending(&db, t0()).unwrap();
    assert_eq!(report, DeliveryReport { sent: 1, failed: 1, pending: 1 });
    assert_eq!(sink.received().len(), 1);
    assert_eq!(sink.received()[0].rcpt_to, vec!["taro@example.com".to_string()]);
    let (attempts, _, sent_at, last_error) = row(&db, ids[0]);
    assert_eq!((attempts, sent_at), (1, None));
    assert!(last_error.unwrap().contains("550"));

    // Retried at every backoff, never dropped.
    let report = mailer.deliver_pending(&db, t0() + notify::backoff(1)).unwrap();
    assert_eq!(report, DeliveryReport { sent: 0, failed: 1, pending: 1 });
    assert_eq!(row(&db, ids[0]).0, 2);
    assert_eq!(count_notices(&db), 2);
}

#[test]
fn outbox_writes_one_eml_file_per_notice() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let mailer = Mailer::new(MailConfig::Outbox { dir: outbox.clone(), from: FROM.into() }).unwrap();
    let db = db();
    let notices = [
        notify::switch_accepted_notice("taro@example.com", "在外 太郎", "千代田区"),
        notify::kept_for_next_election_notice("hanako@example.org", "在外 花子", "R-2026-000999"),
    ];
    enqueue_all(&db, &notices, t0());
    assert_eq!(mailer.deliver_pending(&db, t0()).unwrap(), DeliveryReport { sent: 2, failed: 0, pending: 0 });

    let mut files: Vec<_> = std::fs::read_dir(&outbox).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert_eq!(files.len(), 2);
    assert!(files.iter().all(|f| f.extension().is_some_and(|e| e == "eml")));
    let mut subjects = Vec::new();
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let msg = MessageParser::default().parse(&data).unwrap();
        let n = notices.iter().find(|n| Some(n.subject.as_str()) == msg.subject()).expect("a queued subject");
        assert_is(&data, n);
        subjects.push(n.subject.clone());
    }
    subjects.sort();
    let mut expected: Vec<_> = notices.iter().map(|n| n.subject.clone()).collect();
    expected.sort();
    assert_eq!(subjects, expected);

    let switch = &notices[0].body;
    assert!(switch.contains("新たに登録申請") && switch.contains("new application"));
    assert!(switch.contains("paper voting"));
    let kept = &notices[1].body;
    assert!(kept.contains("次の選挙") && kept.contains("next election") && kept.contains("R-2026-000999"));
}

#[test]
fn an_invalid_address_is_refused_when_queued() {
    let db = db();
    for bad in [
        "",
        "not-an-address",
        "a@b@c",
        "@example.com",
        "taro@",
        "在外 太郎 <taro@example.com>",
        "taro@example.com\r\nBcc: eve@example.net",
        "taro@example.com, eve@example.net",
    ] {
        let n = notify::acceptance_notice(bad, "在外 太郎", "R-1", "千代田区");
        let err = db.with(|c| notify::enqueue(c, &n, t0())).expect_err(bad);
        assert!(err.to_string().contains("not a valid e-mail address"), "{bad:?}: {err}");
    }
    let mut n = notify::acceptance_notice("taro@example.com", "在外 太郎", "R-1", "千代田区");
    n.subject.push_str("\r\nBcc: eve@example.net");
    assert!(db.with(|c| notify::enqueue(c, &n, t0())).is_err());
    assert_eq!(count_notices(&db), 0);
}

#[test]
fn mailer_settings_are_checked() {
    let cleartext_password = MailConfig::Smtp {
        host: "smtp.example.jp".into(),
        port: 25,
        tls: SmtpTls::None,
        from: FROM.into(),
        credentials: Some(("user".into(), "secret".into())),
    };
    assert!(!format!("{cleartext_password:?}").contains("secret"));
    assert!(Mailer::new(cleartext_password).is_err());
    let bad_from = MailConfig::Smtp {
        host: "127.0.0.1".into(),
        port: 25,
        tls: SmtpTls::None,
        from: "not a mailbox".into(),
        credentials: None,
    };
    assert!(Mailer::new(bad_from).is_err());
    for tls in [SmtpTls::StartTls, SmtpTls::Wrapper] {
        let cfg = MailConfig::Smtp {
            host: "smtp.example.jp".into(),
            port: 587,
            tls,
            from: FROM.into(),
            credentials: Some(("user".into(), "secret".into())),
        };
        assert!(Mailer::new(cfg).is_ok());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_loop_sends_by_itself() {
    let sink = SmtpSink::start(0);
    let db = Arc::new(db());
    let notice = notify::acceptance_notice("taro@example.com", "在外 太郎", "R-1", "千代田区");
    enqueue_all(&db, std::slice::from_ref(&notice), Utc::now());
    let handle = notify::spawn_delivery_loop(Arc::clone(&db), Arc::new(smtp(sink.port)), Duration::from_millis(50));
    let deadline = Instant::now() + Duration::from_secs(20);
    while sink.received().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    handle.abort();
    let got = sink.received();
    assert_eq!(got.len(), 1);
    assert_is(&got[0].data, &notice);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !notify::pending(&db).unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(notify::pending(&db).unwrap().is_empty());
}
