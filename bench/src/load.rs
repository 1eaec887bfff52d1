//! The load: every voter logs in (not timed), then casts in two phases — as fast as `concurrency` connections go
//! (throughput), and at a fixed offered rate (latency measured from each ballot's scheduled send time, so a slow
//! server cannot hide its queue). With `--tls` each cast opens its own TLS connection; with `--attack` the attack
//! mix runs alone first (the database's growth from it) and then beside both phases.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::rand::SystemRandom;
use ring::signature::RsaKeyPair;
use shared::api::Challenge;

use crate::prepare::Prepared;
use crate::server::{Server, cpu_seconds};
use crate::{Args, percentile_ms};

/// One cast's outcome: its latency and HTTP status (0 when the request failed outright).
type Outcome = (Duration, u16);

/// Logs everyone in, runs both phases and returns their figures.
pub async fn run(args: &Args, server: &Server, prepared: &Prepared) -> anyhow::Result<serde_json::Value> {
    let http = server.client(args.concurrency.max(256))?;
    let base = server.base.as_str();
    let origin = args.origin();
    eprintln!("bench: logging in {} voters", prepared.voters.len());
    let cookies = Arc::new(login_all(&http, base, origin, prepared, args.concurrency).await?);
    // With --tls, a client that keeps no connection: every cast makes its own TCP connection and TLS handshake.
    let casting = if args.tls { server.client(0)? } else { http.clone() };
    let http = casting;
    let (attack, attack_alone) = if args.attack {
        let cert = &prepared.voters.first().context("no voters")?.auth_cert_der;
        let bytes = || database_bytes(&prepared.db);
        let before = bytes();
        eprintln!("bench: the attack mix alone for {} s", args.attack_seconds);
        let attack = crate::attack::Attack::start(base, cert)?;
        tokio::time::sleep(Duration::from_secs(args.attack_seconds)).await;
        let grown = bytes().saturating_sub(before);
        (Some(attack), serde_json::json!({ "seconds": args.attack_seconds, "database_growth_bytes": grown }))
    } else {
        (None, serde_json::Value::Null)
    };

    // Phase 1: every contest of every voter but the last, closed loop.
    let jobs: Vec<(usize, usize)> =
        (0..args.contests - 1).flat_map(|c| (0..prepared.voters.len()).map(move |v| (v, c))).collect();
    eprintln!("bench: throughput phase, {} casts over {} connections", jobs.len(), args.concurrency);
    let bodies = Arc::new(prepared.voters.iter().map(|v| v.casts.clone()).collect::<Vec<_>>());
    let cpu = (cpu_seconds(&server.pid())?, cpu_seconds("self")?);
    let start = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let jobs = Arc::new(jobs);
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (http, base, cookies, bodies, jobs, next) =
            (http.clone(), base.to_string(), cookies.clone(), bodies.clone(), jobs.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut out: Vec<Outcome> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(v, c)) = jobs.get(i) else { break };
                let sent = Instant::now();
                let status = cast(&http, &base, &cookies[v], bodies[v][c].clone()).await;
                out.push((sent.elapsed(), status));
            }
            out
        }));
    }
    let mut outcomes = Vec::new();
    for w in workers {
        outcomes.extend(w.await?);
    }
    let elapsed = start.elapsed();
    let cpu = (cpu_seconds(&server.pid())? - cpu.0, cpu_seconds("self")? - cpu.1);
    let mut throughput = summary(outcomes, elapsed, None);
    // Where the time went: CPU seconds per accepted ballot in the verifier and in this load generator, which
    // share the machine's cores.
    let accepted = throughput["accepted"].as_f64().unwrap_or(0.0).max(1.0);
    throughput["verifier_cpu_ms_per_ballot"] = serde_json::json!(1000.0 * cpu.0 / accepted);
    throughput["load_generator_cpu_ms_per_ballot"] = serde_json::json!(1000.0 * cpu.1 / accepted);
    throughput["verifier_cpu_utilisation"] = serde_json::json!(cpu.0 / elapsed.as_secs_f64());

    // Phase 2: the last contest of every voter, open loop at a fixed offered rate.
    let last = args.contests - 1;
    let n = prepared.voters.len();
    eprintln!("bench: fixed-rate phase, {n} casts offered at {}/s", args.rate);
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for v in 0..n {
        let at = start + Duration::from_secs_f64(v as f64 / f64::from(args.rate));
        let (http, base, cookies, bodies) = (http.clone(), base.to_string(), cookies.clone(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let status = cast(&http, &base, &cookies[v], bodies[v][last].clone()).await;
            (at.elapsed(), status)
        }));
    }
    let mut outcomes = Vec::with_capacity(n);
    for t in tasks {
        outcomes.push(t.await?);
    }
    let fixed = summary(outcomes, start.elapsed(), Some(args.rate));
    let mut report =
        serde_json::json!({ "concurrency": args.concurrency, "throughput": throughput, "fixed_rate": fixed });
    if let Some(attack) = attack {
        let mut mix = attack.stop().await;
        mix["alone"] = attack_alone;
        report["attack"] = mix;
    }
    Ok(report)
}

/// The bytes of the verifier's two stores on disk, with their WAL and shared-memory files.
fn database_bytes(db: &std::path::Path) -> u64 {
    let ballot_box = verifier::store::ballot_box_path(db);
    [db.to_path_buf(), ballot_box]
        .iter()
        .flat_map(|p| ["", "-wal", "-shm", "-journal"].map(|suffix| format!("{}{suffix}", p.display())))
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

async fn cast(http: &reqwest::Client, base: &str, cookie: &str, body: Vec<u8>) -> u16 {
    let r = http
        .post(format!("{base}/api/v1/ballots"))
        .header("content-type", "application/json")
        .header("cookie", cookie)
        .body(body)
        .send()
        .await;
    match r {
        Ok(r) => {
            let status = r.status().as_u16();
            // Read the receipt so the connection returns to the pool.
            let _ = r.bytes().await;
            status
        }
        Err(_) => 0,
    }
}

fn summary(mut outcomes: Vec<Outcome>, elapsed: Duration, offered: Option<u32>) -> serde_json::Value {
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    for (_, s) in &outcomes {
        *statuses.entry(s.to_string()).or_default() += 1;
    }
    outcomes.retain(|(_, s)| *s == 201);
    let mut latencies: Vec<Duration> = outcomes.into_iter().map(|(d, _)| d).collect();
    latencies.sort();
    let secs = elapsed.as_secs_f64();
    serde_json::json!({
        "offered_per_s": offered,
        "accepted": latencies.len(),
        "statuses": statuses,
        "seconds": secs,
        "accepted_per_s": latencies.len() as f64 / secs,
        "p50_ms": percentile_ms(&latencies, 50.0),
        "p99_ms": percentile_ms(&latencies, 99.0),
        "max_ms": percentile_ms(&latencies, 100.0),
    })
}

async fn login_all(
    http: &reqwest::Client,
    base: &str,
    origin: &'static str,
    prepared: &Prepared,
    concurrency: usize,
) -> anyhow::Result<Vec<String>> {
    let keys = Arc::new(prepared.auth_keys.clone());
    let voters: Arc<Vec<(Vec<u8>, usize)>> =
        Arc::new(prepared.voters.iter().map(|v| (v.auth_cert_der.clone(), v.key_pair)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (http, base, keys, voters, next) =
            (http.clone(), base.to_string(), keys.clone(), voters.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((cert, key_pair)) = voters.get(i) else { break };
                let cookie = login(&http, &base, origin, cert, &keys[*key_pair])
                    .await
                    .with_context(|| format!("logging in voter {i}"))?;
                out.push((i, cookie));
            }
            anyhow::Ok(out)
        }));
    }
    let mut cookies: Vec<Option<String>> = vec![None; voters.len()];
    for w in workers {
        for (i, c) in w.await?? {
            cookies[i] = Some(c);
        }
    }
    cookies.into_iter().map(|c| c.context("a voter was not logged in")).collect()
}

async fn login(
    http: &reqwest::Client,
    base: &str,
    origin: &str,
    cert: &[u8],
    key: &RsaKeyPair,
) -> anyhow::Result<String> {
    let c: Challenge = http.post(format!("{base}/api/v1/session/challenge")).send().await?.json().await?;
    let nonce = c.nonce.0.clone();
    let sig = crate::prepare::sign(key, &SystemRandom::new(), &shared::crypto::auth_message(origin, &nonce))?;
    let body = serde_json::json!({ "nonce": c.nonce, "certificate": B64.encode(cert), "signature": B64.encode(sig) });
    let r = http.post(format!("{base}/api/v1/session")).json(&body).send().await?;
    if r.status() != 201 {
        bail!("login refused: {} {}", r.status(), r.text().await.unwrap_or_default());
    }
    let cookie = r.headers().get("set-cookie").context("no session cookie")?.to_str()?;
    Ok(cookie.split(';').next().unwrap_or_default().to_string())
}

/// The soak: each voter, at evenly spaced times over `seconds`, logs in and casts every prepared contest, while
/// the verifier's resident memory is sampled every ten seconds. Sessions expire during the run (20 minutes), so
/// the session table, the certificate cache and SQLite's caches all reach their steady state.
pub async fn soak(args: &Args, server: &Server, prepared: &Prepared) -> anyhow::Result<serde_json::Value> {
    let http = server.client(64)?;
    let origin = args.origin();
    let seconds = args.soak_seconds as f64;
    let n = prepared.voters.len();
    eprintln!("bench: soak for {seconds:.0} s: {n} voters log in and cast {} contests each", args.contests);
    let start = tokio::time::Instant::now();
    let keys = Arc::new(prepared.auth_keys.clone());
    let mut tasks = Vec::with_capacity(n);
    for (v, voter) in prepared.voters.iter().enumerate() {
        let at = start + Duration::from_secs_f64(seconds * v as f64 / n as f64);
        let (http, base, keys) = (http.clone(), server.base.clone(), keys.clone());
        let (cert, key_pair, casts) = (voter.auth_cert_der.clone(), voter.key_pair, voter.casts.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let Ok(cookie) = login(&http, &base, origin, &cert, &keys[key_pair]).await else { return vec![0u16] };
            let mut statuses = Vec::with_capacity(casts.len());
            for body in casts {
                statuses.push(cast(&http, &base, &cookie, body).await);
            }
            statuses
        }));
    }
    let mut samples: Vec<(f64, u64)> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    while start.elapsed().as_secs_f64() < seconds + 5.0 {
        tick.tick().await;
        let rss = server.memory()?["vm_rss_kib"].as_u64().unwrap_or(0);
        samples.push((start.elapsed().as_secs_f64(), rss));
    }
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    for t in tasks {
        for s in t.await? {
            *statuses.entry(s.to_string()).or_default() += 1;
        }
    }
    Ok(serde_json::json!({
        "seconds": seconds,
        "voters": n,
        "statuses": statuses,
        "rss_kib_samples": samples,
    }))
}
