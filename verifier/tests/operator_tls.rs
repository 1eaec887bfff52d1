//! The operator listener over real TLS on 127.0.0.1 (R-SEC-4): client certificates from the operator CA are
//! required (none, another CA's, or a revoked one fail the handshake), then a TOTP session bound to the
//! certificate, then roles and municipalities (R-SYS-1); every call is in the audit log with the person's name.
//! (The `verifier` binary's operator commands and listener, end to end: operator_binary.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use support::operator_client::{assert_refused, client, code};
use verifier::operators::api::{
    OperatorApiConfig, OperatorContext, OperatorServer, blocking, check_municipality, no_routes, require,
};
use verifier::operators::auth::{self, IssuedOperator, OperatorCa};
use verifier::operators::{Operator, Role};
use verifier::store::Db;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::{Reply, Response};

struct Fixture {
    dir: tempfile::TempDir,
    ca: OperatorCa,
    db: Arc<Db>,
    base: String,
}

/// A small domain endpoint as other engineers write them: committee roles only, own municipality only.
/// `GET /op/v1/example/municipalities/{code}/applications`
fn example_routes(ctx: &OperatorContext) -> BoxedFilter<(Response,)> {
    let c = ctx.clone();
    warp::path!("example" / "municipalities" / String / "applications")
        .and(warp::get())
        .and(require(ctx, &[Role::Clerk, Role::Approver]))
        .and_then(move |municipality: String, operator: Operator| {
            let ctx = c.clone();
            blocking(move || {
                check_municipality(&ctx, &operator, &municipality)?;
                Ok(warp::reply::json(&json!({ "municipality": municipality, "applications": [] })).into_response())
            })
        })
        .boxed()
}

async fn start_server(dir: &std::path::Path, ca: &OperatorCa, db: &Arc<Db>) -> String {
    let (cert, key) = ca.server_cert(&["127.0.0.1".to_string()]).unwrap();
    let config = OperatorApiConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ca_dir: dir.to_path_buf(),
        server_cert_pem: cert,
        server_key_pem: key,
    };
    let ctx = OperatorContext::new(db.clone()).unwrap();
    let election = verifier::CurrentElection::new(verifier::demo::demo_election(Utc::now()).unwrap());
    let routes = example_routes(&ctx).or(verifier::registration::routes::routes(&ctx, election)).unify().boxed();
    let server = OperatorServer::bind(config, &ctx, routes).await.unwrap();
    let base = format!("https://{}", server.local_addr());
    tokio::spawn(server.run(std::future::pending()));
    base
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let ca = OperatorCa::init(dir.path()).unwrap();
    let db = Arc::new(Db::open_in_memory().unwrap());
    let base = start_server(dir.path(), &ca, &db).await;
    Fixture { dir, ca, db, base }
}

impl Fixture {
    fn issue(&self, name: &str, role: Role, municipality: Option<&str>) -> IssuedOperator {
        let issued = self.ca.issue(name, role, municipality).unwrap();
        auth::register(&self.db, &issued, "operator:test-setup", Utc::now()).unwrap();
        issued
    }

    fn client(&self, identity: Option<&IssuedOperator>) -> reqwest::Client {
        client(self.ca.cert_pem(), identity)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn audit(&self) -> Vec<verifier::store::audit::Entry> {
        self.db.with(|c| verifier::store::audit::entries(c)).unwrap()
    }
}

/// A code that is none of the codes valid around now.
fn wrong_code(op: &IssuedOperator) -> String {
    let valid: Vec<String> = [-60, -30, 0, 30, 60].iter().map(|s| code(op, *s)).collect();
    ["000000", "111111", "222222", "333333", "444444", "555555"]
        .into_iter()
        .find(|c| !valid.iter().any(|v| v == c))
        .unwrap()
        .to_string()
}

async fn login(f: &Fixture, c: &reqwest::Client, totp: &str) -> (u16, Value) {
    let r = c.post(f.url("/op/v1/session")).json(&json!({ "totp": totp })).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn get(f: &Fixture, c: &reqwest::Client, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = c.get(f.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["content-security-policy"], verifier::operators::api::OPERATOR_CSP);
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_refuses_no_certificate_another_ca_and_revoked_certificates() {
    let f = fixture().await;
    let auditor = f.issue("Aiko Auditor", Role::Auditor, None);

    // No client certificate: the handshake fails, no HTTP answer at all.
    let e = f.client(None).get(f.url("/op/v1/whoami")).send().await.unwrap_err();
    assert_refused(&e, "CertificateRequired");

    // A certificate from another CA (same subject layout, different authority).
    let other_dir = tempfile::tempdir().unwrap();
    let other = OperatorCa::init(other_dir.path()).unwrap().issue("Mallory", Role::Admin, None).unwrap();
    let e = f.client(Some(&other)).get(f.url("/op/v1/whoami")).send().await.unwrap_err();
    // Same CA name, other key: the signature does not verify (rustls sends decrypt_error).
    assert_refused(&e, "alert");

    // The right CA: the handshake passes and the API asks for the TOTP session.
    let (status, body) = get(&f, &f.client(Some(&auditor)), "/op/v1/whoami", None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("TOTP_REQUIRED")));

    // A working operator, then revoked (CRL + database) while the listener runs.
    let rei = f.issue("Rei Revoked", Role::Clerk, Some("13101"));
    let rei_client = f.client(Some(&rei));
    let (status, body) = login(&f, &rei_client, &code(&rei, 0)).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    assert_eq!(get(&f, &rei_client, "/op/v1/whoami", Some(&token)).await.0, 200);
    assert_eq!(f.ca.revoke(&rei.serial).unwrap(), rei.serial);
    auth::mark_revoked(&f.db, &rei.serial, "operator:test-setup", Utc::now()).unwrap();
    // Its open connection (if the client reuses it) is refused by the database check; a new one by TLS.
    match rei_client.get(f.url("/op/v1/whoami")).bearer_auth(&token).send().await {
        Ok(r) => {
            assert_eq!(r.status(), 403);
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["code"], "OPERATOR_REVOKED");
        }
        Err(e) => assert_refused(&e, "CertificateRevoked"),
    }
    let e = f.client(Some(&rei)).get(f.url("/op/v1/whoami")).send().await.unwrap_err();
    assert_refused(&e, "CertificateRevoked");

    // A listener started after the revocation refuses it from the start.
    let base2 = start_server(f.dir.path(), &f.ca, &f.db).await;
    let e = f.client(Some(&rei)).get(format!("{base2}/op/v1/whoami")).send().await.unwrap_err();
    assert_refused(&e, "CertificateRevoked");
    let ok = f.client(Some(&auditor)).get(format!("{base2}/op/v1/whoami")).send().await.unwrap();
    assert_eq!(ok.status(), 401, "the second listener still serves valid operators");

    // Revoked in the database only (e.g. before the CRL reaches this host): refused by the API.
    let dai = f.issue("Dai Revoked-In-Db", Role::Approver, Some("13101"));
    auth::mark_revoked(&f.db, &dai.serial, "operator:test-setup", Utc::now()).unwrap();
    let (status, body) = login(&f, &f.client(Some(&dai)), &code(&dai, 0)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("OPERATOR_REVOKED")));

    // Signed by the operator CA but never registered here.
    let uma = f.ca.issue("Uma Unregistered", Role::Admin, None).unwrap();
    let (status, body) = login(&f, &f.client(Some(&uma)), &code(&uma, 0)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("UNKNOWN_OPERATOR")));

    let audit = f.audit();
    let refused = |who: &str, code: &str| {
        audit.iter().any(|e| e.action == "operator_refused" && e.actor.contains(who) && e.detail.contains(code))
    };
    assert!(refused("Aiko Auditor", "TOTP_REQUIRED"));
    assert!(refused("Dai Revoked-In-Db", "OPERATOR_REVOKED"));
    assert!(refused("operator-cert:", "UNKNOWN_OPERATOR"));
    assert!(audit.iter().any(|e| e.action == "operator_revoked" && e.detail.contains("Rei Revoked")));
    assert_eq!(f.db.with(|c| verifier::store::audit::verify(c)).unwrap().first_broken, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_sessions_roles_and_municipalities_are_enforced_and_audited() {
    let f = fixture().await;
    let akira = f.issue("Akira Clerk", Role::Clerk, Some("13101"));
    let bunko = f.issue("Bunko Clerk", Role::Clerk, Some("27100"));
    let aiko = f.issue("Aiko Auditor", Role::Auditor, None);
    let (a, b, au) = (f.client(Some(&akira)), f.client(Some(&bunko)), f.client(Some(&aiko)));

    // Right certificate, no session.
    let (status, body) = get(&f, &a, "/op/v1/whoami", None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("TOTP_REQUIRED")), "{body}");

    // Wrong code.
    let (status, body) = login(&f, &a, &wrong_code(&akira)).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("TOTP_INVALID")), "{body}");

    // Right code: a session bound to this certificate.
    let right = code(&akira, 0);
    let (status, body) = login(&f, &a, &right).await;
    assert_eq!(status, 200, "{body}");
    let a_token = body["token"].as_str().unwrap().to_string();
    let expires: chrono::DateTime<Utc> = body["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(expires > Utc::now() + TimeDelta::hours(7) && expires <= Utc::now() + TimeDelta::hours(8));
    let (status, me) = get(&f, &a, "/op/v1/whoami", Some(&a_token)).await;
    assert_eq!(status, 200, "{me}");
    let me: Operator = serde_json::from_value(me).unwrap();
    assert_eq!((me.name.as_str(), me.role, me.municipality.as_deref()), ("Akira Clerk", Role::Clerk, Some("13101")));
    assert_eq!(me.fingerprint, akira.fingerprint);

    // The same code again is refused (RFC 6238 §5.2).
    let (status, body) = login(&f, &a, &right).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("TOTP_INVALID")), "{body}");

    // A clerk may not verify the audit log; an auditor may.
    let (status, body) = get(&f, &a, "/op/v1/audit/verify", Some(&a_token)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("FORBIDDEN_ROLE")), "{body}");
    let (status, body) = login(&f, &au, &code(&aiko, 0)).await;
    assert_eq!(status, 200, "{body}");
    let au_token = body["token"].as_str().unwrap().to_string();
    let (status, v) = get(&f, &au, "/op/v1/audit/verify", Some(&au_token)).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["first_broken"].is_null() && v["entries"].as_i64().unwrap() > 5, "{v}");

    // Municipalities (R-SYS-1): each clerk sees only their own.
    let apps = |m: &str| format!("/op/v1/example/municipalities/{m}/applications");
    let (status, body) = get(&f, &a, &apps("13101"), Some(&a_token)).await;
    assert_eq!((status, body["municipality"].as_str()), (200, Some("13101")), "{body}");
    let (status, body) = get(&f, &a, &apps("27100"), Some(&a_token)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("OTHER_MUNICIPALITY")), "{body}");
    let (status, body) = login(&f, &b, &code(&bunko, 0)).await;
    assert_eq!(status, 200, "{body}");
    let b_token = body["token"].as_str().unwrap().to_string();
    assert_eq!(get(&f, &b, &apps("27100"), Some(&b_token)).await.0, 200);
    // An auditor is not a committee role: refused by role before the municipality.
    let (status, body) = get(&f, &au, &apps("13101"), Some(&au_token)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("FORBIDDEN_ROLE")), "{body}");

    // A session token works only with the certificate it was started with.
    let (status, body) = get(&f, &b, "/op/v1/whoami", Some(&a_token)).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("TOTP_REQUIRED")), "{body}");

    // Logout ends the session.
    let r = a.delete(f.url("/op/v1/session")).bearer_auth(&a_token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (status, body) = get(&f, &a, "/op/v1/whoami", Some(&a_token)).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("TOTP_REQUIRED")), "{body}");

    // Every call of Akira's is in the audit log under Akira's name, in order.
    let audit = f.audit();
    let akira_actions: Vec<(String, String)> = audit
        .iter()
        .filter(|e| e.actor.contains("Akira Clerk") && e.actor.starts_with("operator:Clerk@13101:"))
        .map(|e| (e.action.clone(), e.detail.clone()))
        .collect();
    let actions: Vec<&str> = akira_actions.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "operator_refused",         // whoami without a session
            "operator_totp_failed",     // wrong code
            "operator_session_started", // right code
            "operator_request",         // whoami
            "operator_totp_failed",     // the code again
            "operator_request",         // audit/verify ...
            "operator_forbidden",       // ... refused by role
            "operator_request",         // own municipality
            "operator_request",         // other municipality ...
            "operator_refused",         // ... refused
            "operator_request",         // logout
            "operator_session_ended",
            "operator_refused", // whoami after logout
        ],
        "{akira_actions:#?}"
    );
    assert!(akira_actions[0].1.contains("TOTP_REQUIRED"));
    assert!(akira_actions[4].1.contains("reused"));
    assert!(akira_actions[9].1.contains("OTHER_MUNICIPALITY") && akira_actions[9].1.contains("27100"));
    assert!(
        audit.iter().any(|e| e.actor.contains("Bunko Clerk")
            && e.action == "operator_refused"
            && e.detail.contains("TOTP_REQUIRED")),
        "Bunko's try with Akira's token is Bunko's entry"
    );
    assert!(audit.iter().any(|e| e.actor.contains("Aiko Auditor") && e.detail.contains("/op/v1/audit/verify")));
    // Nothing after the setup is anonymous.
    assert!(audit.iter().all(|e| e.actor.starts_with("operator:")), "{audit:#?}");
    assert_eq!(f.db.with(|c| verifier::store::audit::verify(c)).unwrap().first_broken, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_wrong_codes_lock_the_certificate_for_a_while() {
    let f = fixture().await;
    let op = f.issue("Kenta Admin", Role::Admin, None);
    let c = f.client(Some(&op));
    let wrong = wrong_code(&op);
    for _ in 0..verifier::operators::api::MAX_TOTP_FAILURES {
        assert_eq!(login(&f, &c, &wrong).await.1["code"], "TOTP_INVALID");
    }
    let (status, body) = login(&f, &c, &code(&op, 0)).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("TOTP_LOCKED")), "{body}");
    let failed = f.audit().iter().filter(|e| e.action == "operator_totp_failed").count();
    assert_eq!(failed, verifier::operators::api::MAX_TOTP_FAILURES);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_with_only_the_built_in_routes() {
    let dir = tempfile::tempdir().unwrap();
    let ca = OperatorCa::init(dir.path()).unwrap();
    ca.write_server_cert(&["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let db = Arc::new(Db::open_in_memory().unwrap());
    let config = OperatorApiConfig::from_ca_dir("127.0.0.1:0".parse().unwrap(), dir.path()).unwrap();
    let ctx = OperatorContext::new(db.clone()).unwrap();
    let server = OperatorServer::bind(config, &ctx, no_routes()).await.unwrap();
    let base = format!("https://localhost:{}", server.local_addr().port());
    tokio::spawn(server.run(std::future::pending()));
    let op = ca.issue("Hana Admin", Role::Admin, None).unwrap();
    auth::register(&db, &op, "operator:test-setup", Utc::now()).unwrap();
    let c = client(ca.cert_pem(), Some(&op));
    let r = c.post(format!("{base}/op/v1/session")).json(&json!({ "totp": code(&op, 0) })).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let r = c.get(format!("{base}/op/v1/nothing")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "NOT_FOUND");
    let r = c.get(format!("{base}/op/v1/audit/verify")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c.post(format!("{base}/op/v1/session")).json(&json!({ "totp": "1", "x": 1 })).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "MALFORMED");
}

/// R-SEC-5: an auditor reads the audit log through the operator API, a page at a time with the chain verified;
/// a committee clerk may not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_reads_the_audit_log_and_a_clerk_may_not() {
    let f = fixture().await;
    let auditor = f.issue("Aiko Auditor", Role::Auditor, None);
    let clerk = f.issue("Kenji Clerk", Role::Clerk, Some("13101"));
    let c = f.client(Some(&auditor));
    let (status, body) = login(&f, &c, &code(&auditor, 0)).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    let (status, page) = get(&f, &c, "/op/v1/audit", Some(&token)).await;
    assert_eq!(status, 200, "{page}");
    let entries = page["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["action"] == "operator_session_started"), "{page}");
    assert_eq!(page["chain"]["first_broken"], Value::Null);
    assert!(page["chain"]["entries"].as_i64().unwrap() >= entries.len() as i64);
    let last = entries.last().unwrap()["seq"].as_i64().unwrap();
    let (_, rest) = get(&f, &c, &format!("/op/v1/audit?after={last}"), Some(&token)).await;
    assert!(rest["entries"].as_array().unwrap().iter().all(|e| e["seq"].as_i64().unwrap() > last));

    let cc = f.client(Some(&clerk));
    let (_, body) = login(&f, &cc, &code(&clerk, 0)).await;
    let token = body["token"].as_str().unwrap().to_string();
    let (status, body) = get(&f, &cc, "/op/v1/audit", Some(&token)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("FORBIDDEN_ROLE")));
}
