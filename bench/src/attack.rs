//! The attack mix of `--attack` (issue 19): while legitimate voters cast from 127.0.0.1 (exempt from the rate
//! limits, as the operator's own machine is), attackers on other loopback addresses (each its own /24 or host, as a
//! botnet's would be) run four floods at stated rates, bounded in time (they stop when the run stops) and in count
//! (at most [`MAX_IN_FLIGHT`] requests outstanding per flood: what a slow server does not answer is not resent):
//!
//! - a **challenge flood**: `POST /api/v1/session/challenge`;
//! - **malformed bodies**: broken JSON, a login with a nonce that is not base64, and a 70 KB cast body;
//! - a **login-failure flood**: well-formed logins with a made-up nonce, a real card's certificate and a wrong
//!   signature;
//! - **slowloris**: connections that send a request head one header line every 2 s and never finish it, each
//!   reopened when the verifier closes it.
//!
//! It reports what each flood sent and what it got back; the caller measures the legitimate voters beside it.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

/// Challenges a second, from 256 addresses in 64 networks.
pub const CHALLENGES_PER_S: u32 = 2_000;
/// Malformed requests a second, from 64 addresses in 16 networks.
pub const MALFORMED_PER_S: u32 = 500;
/// Failed logins a second, from 256 addresses in 64 networks.
pub const LOGIN_FAILURES_PER_S: u32 = 500;
/// Slowloris connections held open at once, from 256 addresses in 64 networks.
pub const SLOWLORIS_CONNECTIONS: usize = 1_000;
/// Requests one flood may have outstanding; past it a tick's requests are skipped (and counted).
const MAX_IN_FLIGHT: usize = 2_000;

/// The addresses of one flood: `networks` /24s in 127.`second`.0.0/16, `hosts` addresses in each.
fn sources(second: u8, networks: u8, hosts: u8) -> Vec<IpAddr> {
    (0..networks).flat_map(|n| (1..=hosts).map(move |h| IpAddr::V4(Ipv4Addr::new(127, second, n, h)))).collect()
}

/// Statuses by flood (0: the request failed outright; "skipped": not sent, too many outstanding).
type Tally = Arc<Mutex<BTreeMap<&'static str, BTreeMap<String, u64>>>>;

fn count(tally: &Tally, flood: &'static str, what: String) {
    let mut t = tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    *t.entry(flood).or_default().entry(what).or_default() += 1;
}

/// A running attack mix; [`Attack::stop`] ends it and returns its report.
pub struct Attack {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
    tally: Tally,
    slowloris: Arc<Mutex<Vec<f64>>>,
    started: Instant,
}

impl Attack {
    /// Starts the four floods against `base` (`http://127.0.0.1:PORT`); `certificate` is a real card's
    /// authentication certificate (DER) for the failed logins.
    pub fn start(base: &str, certificate: &[u8]) -> anyhow::Result<Attack> {
        let stop = Arc::new(AtomicBool::new(false));
        let tally: Tally = Arc::default();
        let mut tasks = Vec::new();
        let clients = |ips: Vec<IpAddr>| -> anyhow::Result<Vec<reqwest::Client>> {
            ips.into_iter()
                .map(|ip| {
                    reqwest::Client::builder()
                        .local_address(ip)
                        .timeout(Duration::from_secs(30))
                        .build()
                        .context("an attacker's client")
                })
                .collect()
        };

        let challenge = Arc::new(clients(sources(1, 64, 4))?);
        let url = format!("{base}/api/v1/session/challenge");
        tasks.push(flood("challenge_flood", CHALLENGES_PER_S, &stop, &tally, move |i| {
            let client = challenge[i % challenge.len()].clone();
            let url = url.clone();
            async move { client.post(url).send().await }
        }));

        let malformed = Arc::new(clients(sources(2, 16, 4))?);
        let base_m = base.to_string();
        tasks.push(flood("malformed_bodies", MALFORMED_PER_S, &stop, &tally, move |i| {
            let client = malformed[i % malformed.len()].clone();
            let request = match i % 3 {
                0 => {
                    client.post(format!("{base_m}/api/v1/session")).header("content-type", "application/json").body("{")
                }
                1 => client
                    .post(format!("{base_m}/api/v1/session"))
                    .json(&json!({ "nonce": "!!", "certificate": "?", "signature": "?" })),
                _ => client
                    .post(format!("{base_m}/api/v1/ballots"))
                    .header("content-type", "application/json")
                    .body(vec![b'A'; 70_000]),
            };
            async move { request.send().await }
        }));

        let failing = Arc::new(clients(sources(3, 64, 4))?);
        let (url, cert) = (format!("{base}/api/v1/session"), B64.encode(certificate));
        tasks.push(flood("login_failures", LOGIN_FAILURES_PER_S, &stop, &tally, move |i| {
            let client = failing[i % failing.len()].clone();
            let mut nonce = [0u8; 48];
            nonce[..8].copy_from_slice(&(i as u64).to_be_bytes());
            let body = json!({ "nonce": B64.encode(nonce), "certificate": cert, "signature": B64.encode([7u8; 256]) });
            let url = url.clone();
            async move { client.post(url).json(&body).send().await }
        }));

        let target: SocketAddr = base.trim_start_matches("http://").parse().context("the verifier's address")?;
        let slowloris = Arc::new(Mutex::new(Vec::new()));
        let ips = sources(4, 64, 4);
        for k in 0..SLOWLORIS_CONNECTIONS {
            let (stop, tally, held) = (stop.clone(), tally.clone(), slowloris.clone());
            let ip = ips[k % ips.len()];
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match slow_connection(ip, target, &stop).await {
                        Ok(Some(seconds)) => {
                            count(&tally, "slowloris", "closed_by_verifier".into());
                            held.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(seconds);
                        }
                        Ok(None) => count(&tally, "slowloris", "still_open_at_stop".into()),
                        Err(_) => {
                            count(&tally, "slowloris", "connect_failed".into());
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            }));
        }
        Ok(Attack { stop, tasks, tally, slowloris, started: Instant::now() })
    }

    /// Stops every flood and returns what each sent and got.
    pub async fn stop(self) -> serde_json::Value {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        let seconds = self.started.elapsed().as_secs_f64();
        let tally = self.tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let mut held = self.slowloris.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        held.sort_by(f64::total_cmp);
        let median = held.get(held.len() / 2).copied();
        json!({
            "seconds": seconds,
            "rates": {
                "challenges_per_s": CHALLENGES_PER_S, "malformed_per_s": MALFORMED_PER_S,
                "login_failures_per_s": LOGIN_FAILURES_PER_S, "slowloris_connections": SLOWLORIS_CONNECTIONS,
                "sources": "challenges and failed logins from 256 addresses in 64 /24s each, malformed bodies from 64 in 16, slowloris from 256 in 64; 127.0.0.1 (the legitimate voters) is exempt",
            },
            "statuses": tally,
            "slowloris_held_seconds_median": median,
            "slowloris_held_seconds_max": held.last(),
        })
    }
}

/// Sends `per_s` requests a second (in ticks of 10 ms) until stopped, counting the statuses.
fn flood<F, Fut>(name: &'static str, per_s: u32, stop: &Arc<AtomicBool>, tally: &Tally, request: F) -> JoinHandle<()>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static,
{
    let (stop, tally) = (stop.clone(), tally.clone());
    tokio::spawn(async move {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let start = tokio::time::Instant::now();
        let mut sent = 0usize;
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            let due = (start.elapsed().as_secs_f64() * f64::from(per_s)) as usize;
            while sent < due {
                let i = sent;
                sent += 1;
                if in_flight.load(Ordering::Relaxed) >= MAX_IN_FLIGHT {
                    count(&tally, name, "skipped".into());
                    continue;
                }
                in_flight.fetch_add(1, Ordering::Relaxed);
                let (fut, tally, in_flight) = (request(i), tally.clone(), in_flight.clone());
                tokio::spawn(async move {
                    let status = match fut.await {
                        Ok(r) => {
                            let s = r.status().as_u16();
                            let _ = r.bytes().await;
                            s
                        }
                        Err(_) => 0,
                    };
                    count(&tally, name, status.to_string());
                    in_flight.fetch_sub(1, Ordering::Relaxed);
                });
            }
        }
    })
}

/// One slowloris connection: a request head that never ends, a header line every 2 s. Returns how long the
/// verifier kept it (`None`: still open when the attack stopped).
async fn slow_connection(ip: IpAddr, target: SocketAddr, stop: &AtomicBool) -> anyhow::Result<Option<f64>> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(ip, 0))?;
    let mut stream = socket.connect(target).await?;
    let opened = Instant::now();
    stream.write_all(b"POST /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\n").await?;
    let mut buf = [0u8; 512];
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        match tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await {
            // The verifier answered (408) or closed: either way the connection is over.
            Ok(Ok(0) | Err(_)) => return Ok(Some(opened.elapsed().as_secs_f64())),
            Ok(Ok(_)) => {}
            Err(_) => {
                if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
                    return Ok(Some(opened.elapsed().as_secs_f64()));
                }
            }
        }
    }
}
