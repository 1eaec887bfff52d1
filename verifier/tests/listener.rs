//! The voter listener against clients that hold it open (issue 19): a slowloris client that never finishes its
//! request head is cut off, and connections past the cap are closed at once. Run against the real binary, set up
//! through environment variables that an older verifier ignores, so the same test shows what the older one did.
//! TLS in the verifier itself: HSTS on every answer, and plain HTTP to the TLS port gets nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(env: &[(&str, &str)]) -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_verifier"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("verifier: listening on http://").expect("started").trim_end_matches('/');
    (Running(child), addr.to_string())
}

/// Waits up to `within` for the server to close the connection; returns how long it took, or None if it kept it.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> Option<Duration> {
    let t = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(within.saturating_sub(t.elapsed()), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return Some(t.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn a_slow_client_is_cut_off() {
    let (_running, addr) = start(&[("VERIFIER_HEADER_TIMEOUT_SECONDS", "1")]);

    // Slowloris: half a request head, then silence.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"POST /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await.unwrap();
    let took = closed_within(&mut slow, Duration::from_secs(5)).await;
    assert!(took.is_some_and(|t| t < Duration::from_secs(3)), "a slow client's connection was kept: {took:?}");
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_at_once() {
    // A long head deadline, so that only the cap can close a connection here, however slow the machine is.
    let (_running, addr) = start(&[("VERIFIER_HEADER_TIMEOUT_SECONDS", "60"), ("VERIFIER_MAX_CONNECTIONS", "3")]);
    let connect = || tokio::net::TcpStream::connect(&addr);
    let (mut a, mut b, mut c, mut d) =
        (connect().await.unwrap(), connect().await.unwrap(), connect().await.unwrap(), connect().await.unwrap());
    // Exactly one of the four is closed by the server (whichever it accepted last); the others are held.
    let within = Duration::from_secs(3);
    let waits = tokio::join!(
        closed_within(&mut a, within),
        closed_within(&mut b, within),
        closed_within(&mut c, within),
        closed_within(&mut d, within)
    );
    let closed = [waits.0, waits.1, waits.2, waits.3].iter().filter(|t| t.is_some()).count();
    assert_eq!(closed, 1, "with a cap of 3, one of 4 connections is closed at once and 3 are held");

    // Once they are gone, a normal request is served again.
    drop((a, b, c, d));
    let mut served = false;
    for _ in 0..50 {
        if reqwest::get(format!("http://{addr}/api/v1/health")).await.is_ok_and(|r| r.status() == 200) {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "the listener serves again once connections are released");
}

#[tokio::test]
async fn the_verifier_serves_voters_over_tls_itself_with_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_pem, key_pem) = (dir.path().join("site.pem"), dir.path().join("site.key"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.signing_key.serialize_pem()).unwrap();
    let tls = verifier::voting::listener::tls_config(&cert_pem, &key_pem).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let f = support::fixture(0);
    let routes = verifier::voting::filters::routes(f.state.clone(), None);
    let limits = verifier::voting::listener::ListenerLimits::default();
    tokio::spawn(verifier::voting::listener::serve(listener, routes, Some(tls), limits, std::future::pending()));

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = client.get(format!("https://localhost:{port}/api/v1/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["strict-transport-security"].to_str().unwrap().starts_with("max-age="));
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/api/v1/health")).await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success(), "plain HTTP gets nothing from the TLS port");
}

#[tokio::test]
async fn the_listener_gives_the_rate_limits_each_clients_address() {
    // 127.0.0.1 is exempt by default; here only another address is, so this client is counted.
    let (_running, addr) =
        start(&[("VERIFIER_RATE_LIMIT_EXEMPT", "192.0.2.1"), ("VERIFIER_RATE_CHALLENGES_PER_MINUTE", "60")]);
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let r = client.post(format!("http://{addr}/api/v1/session/challenge")).send().await.unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
            break;
        }
    }
    assert_eq!(
        statuses.last(),
        Some(&429),
        "a burst of one (an address has a quarter of its network's 6), then 429: {statuses:?}"
    );
}
