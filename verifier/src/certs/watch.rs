//! The card CRLs kept current while serving (issue 19): a card revoked during the 12 days is refused within seconds,
//! without a restart, and with every session left as it was.
//!
//! - **On file change**: every `poll` (`--crl-poll-seconds`, default 5) the size and modification time of
//!   `auth.crl.pem` and `sign.crl.pem` are read (a `stat`, not the file: a JPKI CRL can be tens of MB). A change
//!   re-reads both files.
//! - **On a schedule**: every minute both files are re-read whatever their times say, and their nextUpdate checked.
//! - A re-read installs only a file whose contents changed ([`TrustStore::refresh_from_dir`]) and audits it
//!   (`crl_refreshed`).
//! - **Alarms** (an `ALARM:` error log line and an audit row): a file that cannot be read or verified
//!   (`crl_refresh_failed`: the lists in force stay), and a list within an hour of its nextUpdate (`crl_stale`).
//! - **Fail closed**: once a list's nextUpdate has passed, logins and casts are refused with 503 `CRL_UNAVAILABLE`
//!   (the voter app asks the voter to try again later) until a newer list is installed by this loop.
//!
//! What it must never do: let a list that failed to verify replace one in force, or touch the sessions.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::certs::{CertKind, TrustStore};
use crate::clock::Clock;
use crate::store::Db;

/// How often the whole lists are re-read and their nextUpdate checked, whatever the files' times say.
pub const FULL_CHECK: Duration = Duration::from_secs(60);
/// The files watched, in the trust folder.
const FILES: [&str; 2] = ["auth.crl.pem", "sign.crl.pem"];

/// Starts the watch on the runtime; it runs until the runtime stops. Its first look re-reads the lists (a file
/// changed between the store's loading and now is installed; unchanged ones are left as they are).
pub fn spawn(trust: Arc<TrustStore>, dir: PathBuf, db: Arc<Db>, clock: Clock, poll: Duration) {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut last_full = Instant::now();
        let mut every = tokio::time::interval(poll.max(Duration::from_millis(100)));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let now_stamps = stamps(&dir);
            if now_stamps != seen || last_full.elapsed() >= FULL_CHECK {
                seen = now_stamps;
                last_full = Instant::now();
                refresh(&trust, &dir, &db, clock).await;
            }
        }
    });
}

/// Each file's size and modification time (`None` for one that cannot be read: the re-read then raises the alarm).
fn stamps(dir: &Path) -> Vec<Option<(u64, SystemTime)>> {
    FILES
        .iter()
        .map(|name| std::fs::metadata(dir.join(name)).ok().and_then(|m| Some((m.len(), m.modified().ok()?))))
        .collect()
}

/// Re-reads the lists once, installs what changed, and raises the alarms; see the module's map.
async fn refresh(trust: &Arc<TrustStore>, dir: &Path, db: &Arc<Db>, clock: Clock) {
    let (trust, dir, db) = (trust.clone(), dir.to_path_buf(), db.clone());
    let _ = tokio::task::spawn_blocking(move || {
        let now = clock.now();
        let (action, detail) = match trust.refresh_from_dir(&dir) {
            Ok(kinds) if kinds.is_empty() => {
                let stale: Vec<&str> = [CertKind::Auth, CertKind::Sign]
                    .into_iter()
                    .filter(|k| trust.crl_next_update(*k).is_some_and(|t| t < now + chrono::Duration::hours(1)))
                    .map(CertKind::code)
                    .collect();
                if stale.is_empty() {
                    return;
                }
                tracing::error!(?stale, "ALARM: a card CRL reaches its nextUpdate within the hour; publish a new one");
                ("crl_stale", serde_json::json!({ "kinds": stale }))
            }
            Ok(kinds) => {
                let kinds: Vec<&str> = kinds.iter().map(|k| k.code()).collect();
                tracing::info!(?kinds, "card CRLs refreshed");
                ("crl_refreshed", serde_json::json!({ "kinds": kinds }))
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "ALARM: the card CRLs could not be refreshed");
                ("crl_refresh_failed", serde_json::json!({ "error": format!("{e:#}") }))
            }
        };
        if let Err(e) = db.audit(now, crate::store::audit::SYSTEM, action, detail) {
            tracing::error!(error = %e, "the CRL refresh could not be audited");
        }
    })
    .await;
}
