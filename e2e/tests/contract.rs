//! The APIs against their contracts (issue 17): schemathesis, a property-based API tester nobody here wrote,
//! pinned in `.tools/venv` by `cargo xtask setup`, generates requests from `verifier/openapi.json` and
//! `helper/openapi.json` and sends them to the real verifier and card helper on loopback: examples, coverage of
//! each schema's edges, fuzzing, and the stateful phase along the documents' links (challenge → login → ballot →
//! cast). It fails on any 5xx, any answer or header that the document does not describe (an undocumented status
//! or refusal code, a body off its schema, a 405 without `Allow`), invalid data accepted, and an operation that
//! needs the session answering without it. The hooks (`e2e/contract/hooks.py`) log in with the test card through
//! the helper's own page and have a share of the generated logins and casts really signed, so that success
//! answers are checked too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use e2e::{LiveElection, root};
use rand_core::SeedableRng;
use shared::election::{Choice, Election};

/// Examples per operation and phase: the run stays within a few minutes.
const MAX_EXAMPLES: &str = "60";

fn schemathesis() -> PathBuf {
    std::env::var_os("SCHEMATHESIS").map(PathBuf::from).unwrap_or_else(|| root().join(".tools/venv/bin/schemathesis"))
}

/// Ballots of the demo election sealed as the app seals them, each with its opening (`shared::sealed`), for the
/// hooks: the voter run has the helper sign them and casts them; the helper run signs and checks them.
fn ballots(dir: &std::path::Path) -> PathBuf {
    let election: Election =
        toml::from_str(&std::fs::read_to_string(root().join("verifier/elections/demo.toml")).unwrap()).unwrap();
    let key = shared::crypto::ElectionPublicKey::from_pem(
        &std::fs::read_to_string(root().join("shared/tests/data/test-election-key.pub.pem")).unwrap(),
    )
    .unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(u64::from(std::process::id()));
    let mut out = Vec::new();
    for _round in 0..6 {
        for contest in &election.contests {
            let (ballot, opening) = shared::sealed::seal(&mut rng, &key, &election.id, contest, Choice::Blank).unwrap();
            out.push(serde_json::to_value(opening.reveal(ballot)).unwrap());
        }
    }
    let path = dir.join("ballots.json");
    std::fs::write(&path, serde_json::to_string(&out).unwrap()).unwrap();
    path
}

/// Runs schemathesis and returns every answer it saw, as `METHOD PATH STATUS`.
fn run(
    api: &str,
    document: &str,
    base: &str,
    election: &LiveElection,
    ballots: Option<&std::path::Path>,
    extra: &[&str],
    env: &[(&str, String)],
) -> Vec<String> {
    let program = schemathesis();
    assert!(program.exists(), "{} is missing: run `cargo xtask setup`", program.display());
    let base = base.trim_end_matches('/');
    let report = e2e::target_dir().join("schemathesis").join(api);
    std::fs::create_dir_all(&report).unwrap();
    let seen = report.join("seen.jsonl");
    let _ = std::fs::remove_file(&seen);
    let mut command = Command::new(&program);
    let config = if api == "helper" { "e2e/contract/helper.toml" } else { "e2e/contract/schemathesis.toml" };
    command.arg("--config-file").arg(root().join(config));
    // Its cache of failures is written where it runs: in the report folder, never in the repository.
    let status = command
        .current_dir(&report)
        .args(["--no-color", "run"])
        .arg(root().join(document))
        .args(["--url", base, "--checks", "all", "--max-examples", MAX_EXAMPLES, "--workers", "1"])
        .args(["--phases", "examples,coverage,fuzzing,stateful", "--suppress-health-check", "all"])
        .args(["--generation-deterministic", "--report", "junit", "--report-dir"])
        .arg(&report)
        .args(extra)
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("PYTHONPATH", root().join("e2e/contract"))
        .env("IVOTE_CONTRACT", api)
        .env("IVOTE_VERIFIER", election.base_url.trim_end_matches('/'))
        .env("IVOTE_HELPER", election.helper_origin())
        .env("IVOTE_AUTH_PIN", election.auth_pin)
        .env("IVOTE_SIGN_PASSWORD", election.sign_password)
        .env("IVOTE_SEEN", &seen)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .envs(ballots.map(|b| ("IVOTE_BALLOTS", b)))
        .status()
        .unwrap();
    assert!(status.success(), "schemathesis found {api} API answers off its contract (report in {})", report.display());
    std::fs::read_to_string(&seen)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| format!("{} {} {}", v["method"].as_str().unwrap_or(""), v["path"].as_str().unwrap_or(""), v["status"]))
        .collect()
}

/// Whether some answer of `method path` had `status`.
fn answered(seen: &[String], line: &str) -> bool {
    seen.iter().any(|s| s == line)
}

#[test]
fn the_voter_api_keeps_its_contract() {
    // With the demo study served, so that the study's routes answer rather than refuse with NO_STUDY.
    let study = root().join("verifier/elections/demo-study.toml");
    let election = LiveElection::start_with(1, &["--research-study", study.to_str().unwrap()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ballots = ballots(dir.path());
    let seen = run("voter", "verifier/openapi.json", &election.base_url, &election, Some(&ballots), &[], &[]);
    // The success answers were reached and checked too, not only the refusals.
    for line in [
        "POST /api/v1/session 201",
        "POST /api/v1/ballots 201",
        "POST /api/v1/ballots 409",
        "GET /api/v1/ballot 200",
        "GET /api/v1/research/study 200",
        "POST /api/v1/research/study/participants 201",
    ] {
        assert!(answered(&seen, line), "no {line} among {} answers", seen.len());
    }
}

#[test]
fn the_card_helper_api_keeps_its_contract() {
    let election = LiveElection::start().unwrap();
    let origin = format!("Origin: {}", election.base_url.trim_end_matches('/'));
    let dir = tempfile::tempdir().unwrap();
    let ballots = ballots(dir.path());
    let helper = election.helper_origin();
    let seen = run("helper", "helper/openapi.json", &helper, &election, Some(&ballots), &["-H", &origin], &[]);
    for line in [
        "GET /api/v1/status 200",
        "POST /api/v1/authenticate 201",
        "GET /api/v1/operations/{id} 200",
        "POST /api/v1/sign/ballot 201",
        "POST /api/v1/sign/application 201",
        "POST /api/v1/check/ballot 201",
        "POST /api/v1/sign 410",
    ] {
        assert!(answered(&seen, line), "no {line} among {} answers", seen.len());
    }
}

/// Runs a `verifier` command and returns what it printed.
fn verifier(args: &[&str]) -> String {
    let out = Command::new(e2e::bin_dir().join("verifier")).args(args).output().unwrap();
    assert!(out.status.success(), "verifier {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The operator API over its own TLS listener: schemathesis presents an approver's client certificate, and the
/// hooks start the session with the TOTP code of that approver (RFC 6238, computed as an authenticator app does).
#[test]
fn the_operator_api_keeps_its_contract() {
    let dir = tempfile::tempdir().unwrap();
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let ca = dir.path().join("operator-ca");
    verifier(&["operators", "init-ca", "--ca", &s(&ca)]);
    verifier(&["operators", "server-cert", "--host", "127.0.0.1", "--ca", &s(&ca)]);
    let listen = format!("127.0.0.1:{}", e2e::free_port().unwrap());
    let election = LiveElection::start_with(1, &["--operator-listen", &listen, "--operator-ca", &s(&ca)]).unwrap();
    let out = dir.path().join("approver");
    // Issued on the test's own CA (the listener trusts it), under four eyes by the election's crew.
    let printed = election
        .crew
        .four_eyes(&[
            "operators",
            "issue",
            "--name",
            "契約 試験",
            "--role",
            "approver",
            "--municipality",
            "13101",
            "--ca",
            &s(&ca),
            "--out",
            &s(&out),
        ])
        .unwrap();
    let secret = printed
        .lines()
        .find_map(|l| l.strip_prefix("TOTP secret: "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the TOTP secret is printed")
        .to_string();
    let file = |ext: &str| {
        std::fs::read_dir(&out)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().and_then(|e| e.to_str()) == Some(ext))
            .unwrap()
    };
    let (cert, key, ca_pem) = (file("pem"), file("key"), ca.join("operator-ca.pem"));
    let up = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        std::net::TcpStream::connect(&listen).is_ok()
    });
    assert!(up, "the operator API never listened on {listen}");
    let base = format!("https://{listen}");
    let (cert_s, key_s, ca_s) = (s(&cert), s(&key), s(&ca_pem));
    let tls = ["--request-cert", &cert_s, "--request-cert-key", &key_s, "--tls-verify", &ca_s];
    let env = [
        ("IVOTE_OPERATOR", base.clone()),
        ("IVOTE_OPERATOR_CERT", cert_s.clone()),
        ("IVOTE_OPERATOR_KEY", key_s.clone()),
        ("IVOTE_OPERATOR_CA", ca_s.clone()),
        ("IVOTE_TOTP_SECRET", secret),
    ];
    let seen = run("operator", "verifier/operator-openapi.json", &base, &election, None, &tls, &env);
    for line in ["GET /op/v1/whoami 200", "GET /op/v1/applications 200", "POST /op/v1/session 401"] {
        assert!(answered(&seen, line), "no {line} among {} answers", seen.len());
    }
}
