//! The spent tags of voter sessions on PostgreSQL (issue 24): the used login nonces and the ended or extended session
//! tokens of every front-end, by their 32-byte MAC tags, in `roll.spent` until their time is over, so that a nonce
//! used or a token logged out at one front-end is refused at all of them ([`crate::voting::sessions`]).
//!
//! Its statements run on a connection and a thread of their own, not the store's: the store's connection is held by
//! a group of casts for its whole commit (through a failover, up to [`RECONNECT_FOR`](super::RECONNECT_FOR)) while every voter request
//! checks a tag, and the blocking client must not run on an async worker (a logout is answered on one). A call
//! waits at most [`RECONNECT_FOR`](super::RECONNECT_FOR), then fails (the request is refused as `STORAGE_UNAVAILABLE`). A failed statement
//! drops the connection, and the call connects again through the multi-host connection string, so it finds a
//! promoted standby, and the call is tried again through a failover: a spend whose commit was cut off may have
//! happened, so its row carries a random mark of the call, and finding its own mark it is still the first use.
//!
//! What it must never do: store a card, a person, a certificate, a session's contents or a ballot. A row is a MAC
//! tag (random to anyone without the session key), the Unix second after which it is forgotten, and the random
//! mark of the call that spent it.

use std::sync::Arc;
use std::sync::mpsc;

use chrono::{DateTime, Utc};
use postgres::Client;

use super::PgStore;
use super::link::Endpoint;
use crate::voting::sessions::{Spent, SpentError};

/// The table of spent tags. The expiry is Unix seconds (rounded up): the workspace's `postgres` has no chrono.
pub const SPENT_SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS roll.spent (tag bytea PRIMARY KEY, expires bigint NOT NULL, spender bytea NOT NULL);";

type Job = Box<dyn FnOnce(&mut Option<Client>, &Endpoint) + Send>;

/// The spent tags that the front-ends on one PostgreSQL store share.
pub struct PgSpent {
    jobs: mpsc::Sender<Job>,
    /// How long a caller waits for an answer: the store's wait for a primary ([`RECONNECT_FOR`](super::RECONNECT_FOR) in `serve`).
    wait: std::time::Duration,
}

impl PgSpent {
    /// How long a call keeps trying to reach a primary: a little less than its caller waits.
    fn retry_for(&self) -> std::time::Duration {
        self.wait * 14 / 15
    }
}

impl PgSpent {
    /// Creates `roll.spent` if missing (under the lock the store takes to create its tables) and starts this
    /// front-end's connection for it, with the store's connection string.
    pub fn new(store: Arc<PgStore>) -> anyhow::Result<PgSpent> {
        store.with_client(|c| {
            let mut tx = c.transaction()?;
            // The same advisory lock as `PgStore::connect`: front-ends starting together do not race to create.
            tx.execute("SELECT pg_advisory_xact_lock(2024062401)", &[])?;
            tx.batch_execute(SPENT_SCHEMA)?;
            tx.commit()
        })?;
        let endpoint = store.endpoint.clone();
        let (jobs, queue) = mpsc::channel::<Job>();
        // The thread ends when the last sender, this value, is dropped.
        std::thread::Builder::new().name("pg-spent".into()).spawn(move || {
            let mut client = None;
            for job in queue {
                job(&mut client, &endpoint);
            }
        })?;
        Ok(PgSpent { jobs, wait: store.reconnect_for })
    }

    /// Runs `f` on the connection thread and waits for its answer, at most the store's wait ([`RECONNECT_FOR`](super::RECONNECT_FOR)).
    fn run<T: Send + 'static>(
        &self,
        f: impl FnMut(&mut Client) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T, SpentError> {
        let (answer, answered) = mpsc::sync_channel(1);
        let retry_for = self.retry_for();
        let job: Job = Box::new(move |slot, endpoint| {
            // The caller may have stopped waiting: its answer is then dropped.
            let _ = answer.send(on_connection(slot, endpoint, retry_for, f));
        });
        self.jobs.send(job).map_err(|_| unavailable("the spent store's thread has stopped"))?;
        answered
            .recv_timeout(self.wait)
            .map_err(|_| unavailable(format!("PostgreSQL did not answer within {} s", self.wait.as_secs())))?
    }
}

fn unavailable(e: impl std::fmt::Display) -> SpentError {
    SpentError::Unavailable(e.to_string())
}

/// Runs `f` on the connection, connecting first if there is none or it is closed; a failure drops it. Through a
/// failover or a switchover (no primary to connect to, or the connection lost: `super::lost_connection`) it tries
/// again every 100 ms for `retry_for`: a connection that cannot be made has sent nothing, and every `f` here
/// may run twice (a read, or a spend that recognises its own row by a random mark of the call).
fn on_connection<T>(
    slot: &mut Option<Client>,
    endpoint: &Endpoint,
    retry_for: std::time::Duration,
    mut f: impl FnMut(&mut Client) -> Result<T, postgres::Error>,
) -> Result<T, SpentError> {
    let since = std::time::Instant::now();
    loop {
        if slot.as_ref().is_some_and(Client::is_closed) {
            *slot = None;
        }
        let failure = match slot {
            Some(client) => match f(client) {
                Ok(v) => return Ok(v),
                Err(e) => {
                    *slot = None;
                    if !super::lost_connection(&e) {
                        return Err(unavailable(e));
                    }
                    e
                }
            },
            None => match endpoint.connect() {
                Ok(client) => {
                    *slot = Some(client);
                    continue;
                }
                Err(e) => e,
            },
        };
        if since.elapsed() >= retry_for {
            return Err(unavailable(failure));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Unix seconds, rounded up: a tag is never forgotten before its time.
fn seconds_up(t: DateTime<Utc>) -> i64 {
    t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
}

impl Spent for PgSpent {
    fn spend(&self, tag: [u8; 32], expires: DateTime<Utc>, _now: DateTime<Utc>) -> Result<bool, SpentError> {
        let (tag, expires) = (tag.to_vec(), seconds_up(expires));
        // A random mark of this call: a spend tried again after its connection was lost mid-commit finds its own
        // row (it happened) and is still this call's first use, not someone else's.
        let mut spender = [0u8; 16];
        getrandom::fill(&mut spender).map_err(unavailable)?;
        let spender = spender.to_vec();
        self.run(move |c| {
            let sql = "INSERT INTO roll.spent (tag, expires, spender) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
            if c.execute(sql, &[&tag, &expires, &spender])? == 1 {
                return Ok(true);
            }
            let row = c.query_opt("SELECT spender FROM roll.spent WHERE tag = $1", &[&tag])?;
            Ok(row.is_some_and(|r| r.get::<_, Vec<u8>>(0) == spender))
        })
    }

    fn is_spent(&self, tag: &[u8; 32]) -> Result<bool, SpentError> {
        let tag = tag.to_vec();
        self.run(move |c| Ok(c.query_opt("SELECT 1 FROM roll.spent WHERE tag = $1", &[&tag])?.is_some()))
    }

    /// Forgets the tags whose time is over, without waiting (the serve loop calls it from an async task).
    fn prune(&self, now: DateTime<Utc>) {
        let (now, retry_for) = (now.timestamp(), self.retry_for());
        let job: Job = Box::new(move |slot, endpoint| {
            let deleted = on_connection(slot, endpoint, retry_for, |c| {
                c.execute("DELETE FROM roll.spent WHERE expires <= $1", &[&now])
            });
            if let Err(e) = deleted {
                tracing::warn!(error = %e, "spent tags could not be pruned; the next minute tries again");
            }
        });
        let _ = self.jobs.send(job);
    }

    fn held(&self) -> Result<usize, SpentError> {
        let n: i64 = self.run(|c| Ok(c.query_one("SELECT count(*) FROM roll.spent", &[])?.get(0)))?;
        usize::try_from(n).map_err(unavailable)
    }
}
