//! The helper's HTTP API and confirmation page, driven over HTTP end to end against the real `card-helper`
//! binary, with both backends: a soft card file, and a SoftHSM2 token pair through PKCS#11 (never skipped:
//! `cargo xtask setup` installs softhsm2). Signatures are checked with `shared`'s verification and with openssl.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use shared::crypto::{CardPublicKey, auth_digest};
use shared::helper_api::{HelperStatus, OperationStarted, OperationView};
use test_pki::{Person, Sex, TestAuthority, spki_der};

const ORIGIN: &str = "http://vote.test:8080";
const AUTH_PIN: &str = "1234";
const SIGN_PW: &str = "ABC123";

struct Helper {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(backend_args: &[String], env: &[(&str, &Path)]) -> Helper {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_card-helper"));
    cmd.args(["serve", "--port", "0", "--allowed-origin", ORIGIN]).args(backend_args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("card-helper: listening on ").expect("helper started").trim_end_matches('/');
    Helper { child, base: base.to_string(), http: reqwest::Client::new() }
}

impl Helper {
    async fn get(&self, path: &str, origin: Option<&str>) -> reqwest::Response {
        let mut r = self.http.get(format!("{}{path}", self.base));
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send().await.unwrap()
    }

    async fn post_json(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.http.post(format!("{}{path}", self.base)).header("origin", ORIGIN).json(&body).send().await.unwrap()
    }

    async fn status(&self) -> HelperStatus {
        self.get("/api/v1/status", Some(ORIGIN)).await.json().await.unwrap()
    }

    async fn confirm(&self, url: &str, pin: &str) -> String {
        self.http
            .post(url)
            .header("origin", &self.base)
            .form(&[("pin", pin), ("action", "confirm")])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn poll(&self, id: &str) -> OperationView {
        self.get(&format!("/api/v1/operations/{id}"), Some(ORIGIN)).await.json().await.unwrap()
    }

    async fn start_auth(&self, challenge: &[u8]) -> OperationStarted {
        let r = self.post_json("/api/v1/authenticate", serde_json::json!({ "challenge": B64.encode(challenge) })).await;
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    /// Starts a signature on an application; returns the operation and the digest the helper must sign.
    async fn start_sign(&self, name: &str) -> (OperationStarted, [u8; 32]) {
        let text = format!(
            r#"{{"kind":"apply","municipality":"13101","roll_entry":"E-1","name":"{name}","birth_date":"1990-04-01","address_abroad":"New York","email":"h@example.com"}}"#
        );
        let r = self.post_json("/api/v1/sign/application", serde_json::json!({ "application": text })).await;
        assert_eq!(r.status(), 201);
        let status = self.status().await;
        let auth = B64.decode(status.auth_certificate.unwrap()).unwrap();
        (r.json().await.unwrap(), shared::crypto::application_digest(text.as_bytes(), &auth))
    }
}

fn issue_card(dir: &Path) -> test_pki::IssuedCard {
    let ca = TestAuthority::init(&dir.join("ca")).unwrap();
    let person = Person {
        name: "在外 花子".into(),
        address: "東京都千代田区霞が関2-1-2".into(),
        birth_date: "1990-04-01".parse().unwrap(),
        sex: Sex::Female,
    };
    ca.issue(&person, 365).unwrap()
}

/// Checks a PKCS#1 v1.5 SHA-256 signature over a digest with `shared` and with `openssl pkeyutl -verify`.
fn verify_both_ways(cert_der: &[u8], digest: &[u8; 32], sig: &[u8], dir: &Path) {
    let spki = spki_der(cert_der).unwrap();
    CardPublicKey::from_spki_der(&spki).unwrap().verify_digest(digest, sig).unwrap();
    std::fs::write(dir.join("pub.der"), &spki).unwrap();
    std::fs::write(dir.join("digest.bin"), digest).unwrap();
    std::fs::write(dir.join("sig.bin"), sig).unwrap();
    let out = Command::new("openssl")
        .args(["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-pkeyopt", "digest:sha256"])
        .arg("-inkey")
        .arg(dir.join("pub.der"))
        .arg("-in")
        .arg(dir.join("digest.bin"))
        .arg("-sigfile")
        .arg(dir.join("sig.bin"))
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
}

/// The whole login flow: start, confirm on the helper's page with a wrong then the right PIN, poll the result.
async fn login_flow(h: &Helper, auth_cert: &[u8], dir: &Path) {
    let challenge = [42u8; 32];
    let op = h.start_auth(&challenge).await;
    assert!(op.confirm_url.starts_with(&h.base));
    let page = h.http.get(&op.confirm_url).send().await.unwrap();
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let page = page.text().await.unwrap();
    assert!(page.contains(ORIGIN), "the page shows who asks");
    assert!(page.contains("残り回数: 3回"), "{page}");

    let page = h.confirm(&op.confirm_url, "12").await;
    assert!(page.contains("形式が正しくありません"), "a malformed PIN costs no try: {page}");
    assert_eq!(h.status().await.auth_tries.left, 3);
    let page = h.confirm(&op.confirm_url, "0000").await;
    assert!(page.contains("残り2回"), "{page}");
    assert_eq!(h.poll(&op.operation_id).await, OperationView::Pending { last_error: Some("WRONG_PIN".into()) });
    let page = h.confirm(&op.confirm_url, AUTH_PIN).await;
    assert!(page.contains("完了しました"), "{page}");
    let OperationView::Done { signature, certificate } = h.poll(&op.operation_id).await else { panic!("not done") };
    let (sig, cert) = (B64.decode(signature).unwrap(), B64.decode(certificate).unwrap());
    assert_eq!(cert, auth_cert);
    verify_both_ways(&cert, &auth_digest(ORIGIN, &challenge), &sig, dir);
    assert_eq!(h.status().await.auth_tries.left, 3, "a right PIN resets the count");
    let again = h.get(&format!("/api/v1/operations/{}", op.operation_id), Some(ORIGIN)).await;
    assert_eq!(again.status(), 404, "a result is handed out once");
    let reuse = h.http.get(&op.confirm_url).send().await.unwrap();
    assert_eq!(reuse.status(), 404, "the confirmation URL is one-time");
}

#[tokio::test]
async fn soft_card_full_flow_origins_limits_and_lockout_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let card = issue_card(dir.path());
    let path = dir.path().join("card.json");
    let auth = card_helper::pin::Pin::parse(card_helper::pin::KeyKind::Auth, AUTH_PIN.to_string().into()).unwrap();
    let sign = card_helper::pin::Pin::parse(card_helper::pin::KeyKind::Sign, SIGN_PW.to_string().into()).unwrap();
    card_helper::soft::SoftCardFile::create(
        "在外 花子",
        (&card.auth_key_pkcs8_der, &card.auth_cert_der, &auth),
        (&card.sign_key_pkcs8_der, &card.sign_cert_der, &sign),
    )
    .unwrap()
    .save(&path)
    .unwrap();
    let args = vec!["--soft-card".to_string(), path.display().to_string()];
    let h = start(&args, &[]);

    // Status: the authentication certificate without a PIN, the signing one not yet.
    let s = h.status().await;
    assert_eq!((s.backend.as_str(), s.card_present), ("soft", true));
    assert_eq!(B64.decode(s.auth_certificate.unwrap()).unwrap(), card.auth_cert_der);
    assert_eq!(s.signing_certificate, None);
    assert_eq!((s.auth_tries.left, s.sign_tries.left), (3, 5));

    // Origins: another origin, or none, is refused; preflight only for the allowed one.
    for origin in [Some("https://evil.example"), None] {
        let r = h.get("/api/v1/status", origin).await;
        assert_eq!(r.status(), 403);
        assert!(r.headers().get("access-control-allow-origin").is_none());
        let e: shared::api::ApiError = r.json().await.unwrap();
        assert_eq!(e.code, "ORIGIN_NOT_ALLOWED");
    }
    let pre = h.http.request(reqwest::Method::OPTIONS, format!("{}/api/v1/sign", h.base)).header("origin", ORIGIN);
    let pre = pre.send().await.unwrap();
    assert_eq!(pre.status(), 204);
    assert_eq!(pre.headers()["access-control-allow-origin"], ORIGIN);
    let r = h.http.get(format!("{}/api/v1/status", h.base)).header("origin", ORIGIN).header("host", "evil.example:80");
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), 403, "DNS rebinding: a foreign Host is refused");

    // Limits and malformed bodies.
    let big = serde_json::json!({ "challenge": "A".repeat(9000) });
    assert_eq!(h.post_json("/api/v1/authenticate", big).await.status(), 413);
    let stray = serde_json::json!({ "challenge": B64.encode([1u8; 32]), "pin": "1234" });
    let r = h.post_json("/api/v1/authenticate", stray).await;
    assert_eq!(r.status(), 400, "unknown fields (such as a PIN) are refused");
    let short = serde_json::json!({ "challenge": B64.encode([1u8; 4]) });
    assert_eq!(h.post_json("/api/v1/authenticate", short).await.status(), 400);

    // The confirmation form only from the helper's own page.
    let op = h.start_auth(&[7u8; 32]).await;
    let r = h.http.post(&op.confirm_url).header("origin", ORIGIN).form(&[("pin", AUTH_PIN), ("action", "confirm")]);
    assert_eq!(r.send().await.unwrap().status(), 403);
    let cancelled = h.http.post(&op.confirm_url).header("origin", &h.base).form(&[("action", "cancel")]);
    assert!(cancelled.send().await.unwrap().text().await.unwrap().contains("キャンセル"));
    assert_eq!(h.poll(&op.operation_id).await, OperationView::Cancelled);

    login_flow(&h, &card.auth_cert_der, dir.path()).await;

    // A raw digest is never signed (issue 18): the page cannot choose what the card signs.
    let raw = serde_json::json!({ "digest": hex::encode([7u8; 32]), "what": { "ja": "投票", "en": "Ballot" } });
    let r = h.post_json("/api/v1/sign", raw).await;
    assert_eq!(r.status(), 410);
    assert_eq!(r.json::<shared::api::ApiError>().await.unwrap().code, "RAW_DIGEST_REFUSED");

    // Signing an application: the helper shows every field it parsed, and signs the digest it computed.
    let (op, digest) = h.start_sign("在外 花子").await;
    let page = h.http.get(&op.confirm_url).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("申出への電子署名") && page.contains("在外 花子") && page.contains("残り回数: 5回"),
        "{page}"
    );
    assert!(h.confirm(&op.confirm_url, "abc123").await.contains("完了"), "lower case is folded to upper case");
    let OperationView::Done { signature, certificate } = h.poll(&op.operation_id).await else { panic!("not done") };
    let sig = B64.decode(signature).unwrap();
    verify_both_ways(&B64.decode(certificate).unwrap(), &digest, &sig, dir.path());
    assert!(h.status().await.signing_certificate.is_some());

    // Lockout: 5 wrong signing passwords lock the key; 3 wrong PINs the authentication key.
    let (op, _) = h.start_sign("在外 花子").await;
    for left in (1..=4).rev() {
        let page = h.confirm(&op.confirm_url, "WRONG1").await;
        assert!(page.contains(&format!("残り{left}回")) || (left == 1 && page.contains("あと1回")), "{left}: {page}");
    }
    let page = h.confirm(&op.confirm_url, "WRONG1").await;
    assert!(page.contains("ロックされています") && page.contains("郵便等投票"), "{page}");
    assert_eq!(h.poll(&op.operation_id).await, OperationView::Failed { code: "PIN_LOCKED".into() });
    let op = h.start_auth(&[9u8; 32]).await;
    h.confirm(&op.confirm_url, "1111").await;
    h.confirm(&op.confirm_url, "2222").await;
    assert!(h.confirm(&op.confirm_url, "3333").await.contains("ロックされています"));
    drop(h);

    // A restart does not give tries back, and the right PIN does not unlock.
    let h = start(&args, &[]);
    let s = h.status().await;
    assert_eq!((s.auth_tries.left, s.sign_tries.left), (0, 0));
    let op = h.start_auth(&[9u8; 32]).await;
    assert!(h.confirm(&op.confirm_url, AUTH_PIN).await.contains("ロックされています"));
}

const PKCS11_FLOW: &str = "pkcs11_softhsm_token_pair_full_flow";
/// Set in the child that runs `test-pki issue`: its arguments, as a JSON array.
const TEST_PKI_ARGS: &str = "CARD_HELPER_TEST_PKI_ARGS";

#[tokio::test]
async fn pkcs11_softhsm_token_pair_full_flow() {
    // `test-pki issue` provisions the tokens in a process whose environment names the lab's token folder (SoftHSM2
    // reads it once per process; setting it here would be `unsafe`), and this package cannot run the `test-pki`
    // binary: this test binary runs again as that child, with the same command line through the tool's own code.
    if let Some(args) = std::env::var_os(TEST_PKI_ARGS) {
        let args: Vec<String> = serde_json::from_str(args.to_str().unwrap()).unwrap();
        test_pki::cli::run_from(&args).unwrap();
        println!("TEST-PKI DONE");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lab = hsm_lab::Lab::new(dir.path()).unwrap();
    let conf = lab.conf.clone();
    let ca: PathBuf = dir.path().join("ca");
    test_pki::cli::run_from(["test-pki".as_ref(), "init".as_ref(), "--dir".as_ref(), ca.as_os_str()]).unwrap();
    let state = dir.path().join("state.json");
    let pkcs11_args = vec![
        "--pkcs11-module".to_string(),
        lab.module_arg(),
        "--auth-token".into(),
        "JPKI auth".into(),
        "--sign-token".into(),
        "JPKI sign".into(),
        "--state-file".into(),
        state.display().to_string(),
    ];
    let mut issue: Vec<String> = ["test-pki", "issue", "--dir", ca.to_str().unwrap()].map(String::from).into();
    issue.extend(
        ["--name", "在外 太郎", "--address", "大阪府大阪市北区1-1", "--birth-date", "1985-12-24", "--sex", "male"]
            .map(String::from),
    );
    issue.extend(["--auth-pin", AUTH_PIN, "--sign-password", SIGN_PW].map(String::from));
    issue.extend(pkcs11_args.iter().cloned());
    let issued = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", PKCS11_FLOW, "--nocapture", "--test-threads=1"])
        .env(TEST_PKI_ARGS, serde_json::to_string(&issue).unwrap())
        .env(hsm_lab::CONF_ENV, &conf)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&issued.stdout);
    assert!(issued.status.success(), "{printed}{}", String::from_utf8_lossy(&issued.stderr));
    assert!(printed.contains("TEST-PKI DONE"), "the child did not run test-pki: {printed}");
    assert!(printed.contains("token pair 'JPKI auth' / 'JPKI sign' provisioned in"), "{printed}");

    let h = start(&pkcs11_args, &[(hsm_lab::CONF_ENV, &conf)]);
    let s = h.status().await;
    assert_eq!((s.backend.as_str(), s.card_present), ("pkcs11", true));
    let auth_cert = B64.decode(s.auth_certificate.unwrap()).unwrap();
    assert!(test_pki::person_from_signing_cert(&auth_cert).is_err(), "no personal data in the auth cert");
    login_flow(&h, &auth_cert, dir.path()).await;

    let (op, digest) = h.start_sign("在外 太郎").await;
    assert!(h.confirm(&op.confirm_url, SIGN_PW).await.contains("完了"));
    let OperationView::Done { signature, certificate } = h.poll(&op.operation_id).await else { panic!("not done") };
    let cert = B64.decode(certificate).unwrap();
    let person = test_pki::person_from_signing_cert(&cert).unwrap();
    assert_eq!(person.name, "在外 太郎");
    verify_both_ways(&cert, &digest, &B64.decode(signature).unwrap(), dir.path());
}
