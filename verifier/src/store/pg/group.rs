//! Group commit on PostgreSQL: each cast queues; whoever finds the front-end's writer free takes every queued cast
//! (up to [`MAX_GROUP`]) and writes them in ONE transaction, in random order, each decided on its own (a mark
//! already there: `AlreadyVoted`; a copy: `Duplicate`); one synchronous commit answers them all. A commit cut off
//! is asked about on the (new) primary by one of the group's random pool entry ids before the group is written
//! again.
//!
//! It must never answer a cast before the commit returned, or write a group again without asking first.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ballot_box::Ballot;
use ballot_box::pg::{Group, PgBox, PgBoxError};
use postgres::Client;

use super::{CastError, PgStore, unavailable};

/// The most casts one transaction takes.
pub const MAX_GROUP: usize = 256;

/// One cast waiting for the writer, and its answer once the writer has one.
pub struct Job {
    person_id: String,
    municipality: Option<String>,
    election_id: String,
    contest_id: String,
    ciphertext: Vec<u8>,
    answer: Mutex<Option<Result<String, CastError>>>,
}

impl Job {
    /// A cast to queue.
    pub fn new(
        person_id: &str,
        municipality: Option<&str>,
        election_id: &str,
        contest_id: &str,
        ciphertext: &[u8],
    ) -> Arc<Job> {
        Arc::new(Job {
            person_id: person_id.into(),
            municipality: municipality.map(str::to_owned),
            election_id: election_id.into(),
            contest_id: contest_id.into(),
            ciphertext: ciphertext.to_vec(),
            answer: Mutex::new(None),
        })
    }

    fn take_answer(&self) -> Option<Result<String, CastError>> {
        self.answer.lock().map_or_else(|_| Some(Err(unavailable("lock"))), |mut a| a.take())
    }

    fn answer(&self, a: Result<String, CastError>) {
        if let Ok(mut slot) = self.answer.lock() {
            *slot = Some(a);
        }
    }
}

/// The casts waiting at one front-end, and whether a writer is at work.
#[derive(Default)]
pub struct Queue {
    state: Mutex<(Vec<Arc<Job>>, bool)>,
    written: Condvar,
}

/// Queues `job` and waits for its answer, writing groups (its own among them) whenever the writer is free.
pub fn cast(store: &PgStore, job: Arc<Job>) -> Result<String, CastError> {
    let q = &store.queue;
    let mut state = q.state.lock().map_err(|_| unavailable("lock"))?;
    state.0.push(Arc::clone(&job));
    loop {
        if let Some(answer) = job.take_answer() {
            return answer;
        }
        if state.1 {
            state = q.written.wait(state).map_err(|_| unavailable("lock"))?;
            continue;
        }
        state.1 = true;
        let take = state.0.len().min(MAX_GROUP);
        let jobs: Vec<Arc<Job>> = state.0.drain(..take).collect();
        drop(state);
        write(store, &jobs);
        state = q.state.lock().map_err(|_| unavailable("lock"))?;
        state.1 = false;
        q.written.notify_all();
    }
}

/// Writes one group and answers every job in it, reconnecting (for at most [`super::RECONNECT_FOR`]) through a
/// failover.
fn write(store: &PgStore, jobs: &[Arc<Job>]) {
    let since = Instant::now();
    let Ok(mut guard) = store.client.lock() else {
        return jobs.iter().for_each(|j| j.answer(Err(unavailable("lock"))));
    };
    let mut cut_off: Option<Box<Written>> = None;
    loop {
        let failure = match store.connected(&mut guard) {
            Err(e) => e.to_string(),
            Ok(client) => {
                if let Some(written) = cut_off.take() {
                    match PgBox::group_committed(client, &written.group) {
                        Ok(true) => {
                            store.cut_off.1.fetch_add(1, Ordering::Relaxed);
                            return finish(store, client, jobs, *written);
                        }
                        Ok(false) => {}
                        Err(_) => cut_off = Some(written),
                    }
                }
                if cut_off.is_some() {
                    "the store could not say whether a cut-off commit happened".to_string()
                } else {
                    match attempt(store, client, jobs) {
                        Ok(written) => return finish(store, client, jobs, written),
                        Err(failed) => {
                            if failed.cut_off.is_some() {
                                store.cut_off.0.fetch_add(1, Ordering::Relaxed);
                            }
                            cut_off = failed.cut_off;
                            failed.error
                        }
                    }
                }
            }
        };
        tracing::warn!(error = %failure, "voting store failed during a group of casts; reconnecting");
        *guard = None;
        if since.elapsed() >= store.reconnect_for {
            return jobs.iter().for_each(|j| j.answer(Err(unavailable(&failure))));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the transaction decided for one job: written (receipted once the commit returns), or refused.
type Decision = Result<(), CastError>;

/// A group written in a transaction, with what it decided for each job.
struct Written {
    group: Group,
    decisions: Vec<Decision>,
}

/// A transaction that failed: why, and the group it wrote if the failure came in the commit (it may have
/// happened).
struct Failed {
    error: String,
    cut_off: Option<Box<Written>>,
}

impl From<postgres::Error> for Failed {
    fn from(e: postgres::Error) -> Failed {
        Failed { error: e.to_string(), cut_off: None }
    }
}

/// Writes the group in one transaction, in random order. On failure: the error, and the group with its decisions
/// if the failure came in the commit (it may have happened).
fn attempt(store: &PgStore, client: &mut Client, jobs: &[Arc<Job>]) -> Result<Written, Failed> {
    let other = |e: &dyn std::fmt::Display| Failed { error: e.to_string(), cut_off: None };
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    ballot_box::shuffle(&mut order).map_err(|e| other(&e))?;
    let mut decisions: Vec<Decision> = jobs.iter().map(|_| Ok(())).collect();
    let mut tx = client.transaction()?;
    let paper = emergency_declared(&mut tx, jobs)?;
    let mut group = Group::default();
    for i in order {
        let job = &jobs[i];
        let key = match store.election_key(&mut tx, &job.election_id) {
            Ok(k) => k,
            Err(e) => {
                decisions[i] = Err(e);
                continue;
            }
        };
        if paper.contains(&(job.election_id.as_str(), job.person_id.as_str())) {
            decisions[i] = Err(CastError::EmergencyPaperVote);
            continue;
        }
        match store.ballot_box.check(&mut tx, &group, &job.election_id, &job.ciphertext) {
            Ok(()) => {}
            Err(PgBoxError::Duplicate) => {
                decisions[i] = Err(CastError::Duplicate);
                continue;
            }
            Err(PgBoxError::Box(ballot_box::BoxError::Sealed(_))) => {
                decisions[i] = Err(CastError::Sealed);
                continue;
            }
            Err(e) => return Err(other(&e)),
        }
        let marked = tx.execute(
            "INSERT INTO roll.voted (election_id, contest_id, person_id, municipality) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[&job.election_id, &job.contest_id, &job.person_id, &job.municipality],
        )?;
        if marked == 0 {
            decisions[i] = Err(CastError::AlreadyVoted);
            continue;
        }
        let ballot = Ballot { contest: &job.contest_id, ciphertext: &job.ciphertext };
        store.ballot_box.receive_in(&mut tx, &mut group, &key, &job.election_id, ballot).map_err(|e| other(&e))?;
    }
    // Whatever the commit's error (the connection closed, or a FATAL from a server whose postmaster died, sent
    // after the local commit), the server may have committed: the caller asks before writing the group again.
    match tx.commit() {
        Ok(()) => Ok(Written { group, decisions }),
        Err(e) if group.is_empty() => Err(e.into()),
        Err(e) => Err(Failed { error: e.to_string(), cut_off: Some(Box::new(Written { group, decisions })) }),
    }
}

/// Takes each job's person lock shared (a declaration takes it alone, [`super::PgStore::declare_emergency`]), then
/// reads which of the group's persons declared an emergency paper vote (R-VOTE-11): a declaration committed while
/// a lock was awaited is seen, since this read starts after every lock is held; one that waits for this
/// transaction sees its marks. Shared locks never wait for each other, so groups of front-ends never deadlock here.
fn emergency_declared<'a>(
    tx: &mut postgres::Transaction<'_>,
    jobs: &'a [Arc<Job>],
) -> Result<std::collections::HashSet<(&'a str, &'a str)>, Failed> {
    let (elections, persons): (Vec<&str>, Vec<&str>) =
        jobs.iter().map(|j| (j.election_id.as_str(), j.person_id.as_str())).unzip();
    tx.query(
        &format!(
            "SELECT pg_advisory_xact_lock_shared({}) FROM unnest($1::text[], $2::text[]) AS t(e, p)",
            super::PERSON_LOCK
        ),
        &[&elections, &persons],
    )?;
    let declared: std::collections::HashSet<(String, String)> = tx
        .query(
            "SELECT election_id, person_id FROM roll.emergency
             WHERE (election_id, person_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
            &[&elections, &persons],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Ok(jobs
        .iter()
        .map(|j| (j.election_id.as_str(), j.person_id.as_str()))
        .filter(|(e, p)| declared.contains(&((*e).to_string(), (*p).to_string())))
        .collect())
}

/// The group committed: its entries join this front-end's batches, each job gets its answer, and a batch now due
/// enters the box (a failure there leaves it held, to be tried again).
fn finish(store: &PgStore, client: &mut Client, jobs: &[Arc<Job>], written: Written) {
    let held = store.ballot_box.committed(written.group);
    for (job, decision) in jobs.iter().zip(written.decisions) {
        let answer = match (&held, decision) {
            (Err(e), Ok(())) => Err(unavailable(e)),
            (_, Ok(())) => Ok(shared::crypto::tracker(&job.ciphertext)),
            (_, Err(e)) => Err(e),
        };
        job.answer(answer);
    }
    if let Err(e) = store.ballot_box.flush_due(client) {
        tracing::error!(error = %e, "a due batch could not enter the ballot box; it stays held and is tried again");
    }
}
