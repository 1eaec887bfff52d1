//! The voting store on PostgreSQL under cast load (issue 24 part 6): a primary and its synchronous standby on
//! loopback (`pg-lab`), two front-ends' stores ([`PgStore`], group commit) cast into by many threads, beside the
//! store's own limit measured in the same run: single-row commits per second on one connection, each waiting for
//! the standby, as a cast without group commit would.
//!
//! This measures the store alone, not the HTTP front-end: the signature checks are the RSA limit of the SQLite row.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use postgres::{Client, NoTls};
use serde_json::{Value, json};
use shared::crypto::ElectionPublicKey;
use verifier::store::pg::PgStore;

const KEY: &str = include_str!("../../shared/tests/data/test-election-key.pub.pem");

/// The PostgreSQL bench's options.
#[derive(Parser, Debug)]
#[command(about = "Cast load on the voting store on PostgreSQL with a synchronous standby; prints a JSON report")]
pub struct PgArgs {
    /// Seconds of cast load.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Casting threads, spread over the front-ends.
    #[arg(long, default_value_t = 64)]
    pub threads: usize,
    /// Front-ends (stores with their own connection and batches).
    #[arg(long, default_value_t = 2)]
    pub front_ends: usize,
}

/// Runs the limit and the load; the JSON report.
pub fn run(args: &PgArgs) -> anyhow::Result<Value> {
    let lab = pg_lab::Lab::pair()?;
    let conninfo = lab.connection_string();
    let limit = commits_per_second(&conninfo, Duration::from_secs(5))?;
    let key = ElectionPublicKey::from_pem(KEY)?;
    let fronts: Vec<Arc<PgStore>> = (0..args.front_ends.max(1))
        .map(|_| {
            let store = PgStore::connect(&conninfo, ballot_box::DEFAULT_BATCH)?;
            store.create_election("bench", &key)?;
            Ok(Arc::new(store))
        })
        .collect::<anyhow::Result<_>>()?;
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let threads: Vec<_> = (0..args.threads)
        .map(|t| {
            let (front, stop) = (Arc::clone(&fronts[t % fronts.len()]), Arc::clone(&stop));
            std::thread::spawn(move || -> anyhow::Result<Vec<Duration>> {
                let mut latencies = Vec::new();
                for v in 0u64.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let mut ct = vec![0u8; 384];
                    getrandom::fill(&mut ct).map_err(|e| anyhow::anyhow!("{e}"))?;
                    let at = Instant::now();
                    front.cast(&format!("t{t}v{v}"), Some("13101"), "bench", "tokyo", &ct)?;
                    latencies.push(at.elapsed());
                }
                Ok(latencies)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(args.seconds));
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for t in threads {
        latencies.extend(t.join().map_err(|_| anyhow::anyhow!("a casting thread panicked"))??);
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort();
    let accepted = latencies.len();
    let marks: i64 = fronts[0].marks("bench")?.iter().map(|(_, n)| n).sum();
    anyhow::ensure!(marks as usize == accepted, "{accepted} casts accepted but {marks} marks in the store");
    let per_s = accepted as f64 / elapsed;
    Ok(json!({
        "postgres": {
            "version": lab.psql(0, "SHOW server_version")?,
            "synchronous_commit": lab.psql(0, "SHOW synchronous_commit")?,
            "synchronous_standby_names": lab.psql(0, "SHOW synchronous_standby_names")?,
            "front_ends": fronts.len(),
            "threads": args.threads,
            "accepted": accepted,
            "seconds": elapsed,
            "accepted_per_s": per_s,
            "p50_ms": crate::percentile_ms(&latencies, 50.0),
            "p99_ms": crate::percentile_ms(&latencies, 99.0),
            "commits_per_s": limit,
            "accepted_per_s_over_commits_per_s": per_s / limit,
        }
    }))
}

/// Single-row commits per second on one connection, each waiting for the synchronous standby.
fn commits_per_second(conninfo: &str, duration: Duration) -> anyhow::Result<f64> {
    let mut client = Client::connect(conninfo, NoTls)?;
    client.batch_execute("CREATE TABLE bench_limit (id bigint PRIMARY KEY, ciphertext bytea NOT NULL)")?;
    let payload = vec![0x5au8; 384];
    let start = Instant::now();
    let mut n: i64 = 0;
    while start.elapsed() < duration {
        let mut tx = client.transaction()?;
        tx.execute("INSERT INTO bench_limit (id, ciphertext) VALUES ($1, $2)", &[&n, &payload])?;
        tx.commit()?;
        n += 1;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}
