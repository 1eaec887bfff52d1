//! A municipal committee and an admin on the real operator API: its TLS listener on 127.0.0.1, client
//! certificates from a fresh operator CA, a TOTP session each, and the domain routes over the fixture's database
//! and election. Registration tests walk their paths through this, as a committee does (issue 20).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;
use verifier::CurrentElection;
use verifier::operators::Role;
use verifier::operators::api::{OperatorApiConfig, OperatorContext, OperatorServer};
use verifier::operators::auth::{self, OperatorCa, totp_code};
use verifier::store::Db;

/// One person with a client certificate and a TOTP session.
pub struct Person {
    client: reqwest::Client,
    token: String,
}

/// The committee of municipality 13101 and the system's admin, logged in.
pub struct Committee {
    _dir: tempfile::TempDir,
    base: String,
    pub clerk: Person,
    pub approver: Person,
    pub admin: Person,
}

impl Committee {
    /// Starts the operator API over `db` and `election` (the voter API's handle) and logs everyone in.
    pub async fn start(db: &Arc<Db>, election: &CurrentElection) -> Committee {
        let dir = tempfile::tempdir().unwrap();
        let ca = OperatorCa::init(dir.path()).unwrap();
        let (cert, key) = ca.server_cert(&["127.0.0.1".to_string()]).unwrap();
        let config = OperatorApiConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ca_dir: dir.path().to_path_buf(),
            server_cert_pem: cert,
            server_key_pem: key,
        };
        let ctx = OperatorContext::new(db.clone()).unwrap();
        let routes = verifier::registration::routes::routes(&ctx, election.clone());
        let server = OperatorServer::bind(config, &ctx, routes).await.unwrap();
        let base = format!("https://{}", server.local_addr());
        tokio::spawn(server.run(std::future::pending()));
        let mut people = Vec::new();
        for (name, role, municipality) in [
            ("Kei Clerk", Role::Clerk, Some("13101")),
            ("Aya Approver", Role::Approver, Some("13101")),
            ("Ren Admin", Role::Admin, None),
        ] {
            let issued = ca.issue(name, role, municipality).unwrap();
            auth::register(db, &issued, "operator:test-setup", Utc::now()).unwrap();
            let client = reqwest::Client::builder()
                .use_rustls_tls()
                .tls_built_in_root_certs(false)
                .add_root_certificate(reqwest::Certificate::from_pem(ca.cert_pem().as_bytes()).unwrap())
                .identity(
                    reqwest::Identity::from_pem(format!("{}{}", issued.cert_pem, issued.key_pem).as_bytes()).unwrap(),
                )
                .build()
                .unwrap();
            let totp = totp_code(&issued.totp_secret_base32, Utc::now()).unwrap();
            let r = client
                .post(format!("{base}/op/v1/session"))
                .json(&serde_json::json!({ "totp": totp }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{name} logs in");
            let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
            people.push(Person { client, token });
        }
        let admin = people.pop().unwrap();
        let approver = people.pop().unwrap();
        let clerk = people.pop().unwrap();
        Committee { _dir: dir, base, clerk, approver, admin }
    }

    /// Sends a request as `who`; returns the status and the JSON answer (null when it is not JSON).
    pub async fn call(&self, who: &Person, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/op/v1/{path}", self.base);
        let req = match method {
            "GET" => who.client.get(url),
            _ => who.client.post(url),
        };
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        let r = req.bearer_auth(&who.token).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Calls and expects success.
    pub async fn ok(&self, who: &Person, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.call(who, method, path, body).await;
        assert!((200..300).contains(&status), "{method} {path}: {status} {v}");
        v
    }

    /// The clerk records the card's arrival and the approver accepts; returns the accepted application.
    pub async fn arrive_and_accept(&self, receipt: &str) -> Value {
        self.ok(&self.clerk, "POST", &format!("applications/{receipt}/card-arrived"), None).await;
        self.ok(&self.approver, "POST", &format!("applications/{receipt}/accept"), None).await
    }

    /// The clerk sends roll changes as the CSV the roll system writes.
    pub async fn roll_change(&self, entry: &str, name: &str, birth_date: &str, change: &str) -> Value {
        let csv = format!(
            "municipality,roll_entry,name,birth_date,districts,change\n13101,{entry},{name},{birth_date},tokyo|national,{change}\n"
        );
        self.ok(&self.clerk, "POST", "roll-changes", Some(Value::String(csv))).await
    }
}
