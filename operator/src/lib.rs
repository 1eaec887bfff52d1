//! `operator`: the operators' command line for the verifier's operator API (R-SEC-4).
//!
//! Every call goes over TLS with the operator's own client certificate and key, trusting only the operator CA
//! (`--ca`) for the server. `login --totp CODE` starts a session (8 hours) and keeps its bearer token in a file
//! readable only by its owner (mode 0600; by default next to the key: `KEY.session`); the other commands send it.
//!
//! ```text
//! operator --server https://127.0.0.1:8443 --ca operator-ca.pem --cert me.pem --key me.key login --totp 123456
//! operator ... whoami
//! operator ... audit-verify
//! operator ... call GET applications            # relative paths are under /op/v1/
//! operator ... call POST /op/v1/something --json '{"a": 1}'
//! operator ... logout
//! ```
//!
//! Answers are printed as JSON on stdout. A refusal prints `CODE: message` on stderr and exits with 1.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use clap::{Args, Parser, Subcommand};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where operator API paths start.
pub const API_PREFIX: &str = "/op/v1";

/// The command line.
#[derive(Parser, Debug)]
#[command(name = "operator", about = "The operators' command line for the verifier's operator API")]
pub struct Cli {
    /// How to reach the verifier and who you are.
    #[command(flatten)]
    pub settings: Settings,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How to reach the operator API and with which credentials.
#[derive(Args, Debug, Clone)]
pub struct Settings {
    /// The operator API, e.g. `https://127.0.0.1:8443`.
    #[arg(long, env = "OPERATOR_SERVER", global = true, default_value = "https://127.0.0.1:8443")]
    pub server: String,
    /// The operator CA certificate (PEM): the only authority trusted for the server.
    #[arg(long, env = "OPERATOR_CA", global = true)]
    pub ca: Option<PathBuf>,
    /// Your operator certificate (PEM).
    #[arg(long, env = "OPERATOR_CERT", global = true)]
    pub cert: Option<PathBuf>,
    /// Your private key (PEM).
    #[arg(long, env = "OPERATOR_KEY", global = true)]
    pub key: Option<PathBuf>,
    /// Where the session token is kept (default: the key's path with `.session` appended).
    #[arg(long, env = "OPERATOR_SESSION_FILE", global = true)]
    pub session_file: Option<PathBuf>,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start a session with the code from your authenticator app (TOTP); the token is kept for the other commands.
    Login {
        /// The 6-digit code.
        #[arg(long)]
        totp: String,
    },
    /// End the session.
    Logout,
    /// Show who the server thinks you are.
    Whoami,
    /// Walk the audit log's hash chain on the server (auditors and administrators).
    AuditVerify,
    /// Call any operator endpoint: `call GET applications`, `call POST /op/v1/x --json '{...}'`.
    Call {
        /// The HTTP method (GET, POST, PUT, PATCH, DELETE).
        method: String,
        /// The path: absolute (`/op/v1/...`) or relative to `/op/v1/`.
        path: String,
        /// A JSON body, or `@FILE` to read it from a file.
        #[arg(long)]
        json: Option<String>,
    },
}

/// A refusal from the server with its HTTP status: the API's one refusal shape, `{code, message}`
/// ([`shared::api::ApiError`]), e.g. `TOTP_REQUIRED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The HTTP status.
    pub status: u16,
    /// The stable code and the sentence for a person.
    pub refusal: shared::api::ApiError,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} (HTTP {})", self.refusal.code, self.refusal.message, self.status)
    }
}

impl std::error::Error for Refused {}

/// The session file's contents.
#[derive(Debug, Serialize, Deserialize)]
struct SessionFile {
    server: String,
    token: String,
    expires_at: String,
}

/// A client for one operator: TLS with their certificate, and their session file.
#[derive(Debug)]
pub struct Client {
    server: String,
    http: reqwest::Client,
    session_file: PathBuf,
}

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

impl Client {
    /// Loads the CA, certificate and key and builds the TLS client (ring, the CA as the only root).
    pub fn new(settings: &Settings) -> anyhow::Result<Client> {
        let server = settings.server.trim_end_matches('/').to_string();
        anyhow::ensure!(server.starts_with("https://"), "--server must be an https:// address, got {server:?}");
        let ca = settings.ca.as_deref().context("give --ca (the operator CA certificate) or OPERATOR_CA")?;
        let cert = settings.cert.as_deref().context("give --cert (your operator certificate) or OPERATOR_CERT")?;
        let key = settings.key.as_deref().context("give --key (your private key) or OPERATOR_KEY")?;
        let mut identity = read(cert, "the certificate")?;
        identity.push(b'\n');
        identity.extend(read(key, "the key")?);
        let root = reqwest::Certificate::from_pem(&read(ca, "the CA certificate")?)
            .with_context(|| format!("{} is not a PEM certificate", ca.display()))?;
        let identity = reqwest::Identity::from_pem(&identity)
            .with_context(|| format!("{} and {} are not a PEM certificate and key", cert.display(), key.display()))?;
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(root)
            .identity(identity)
            .https_only(true)
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .context("setting up TLS")?;
        let session_file = settings.session_file.clone().unwrap_or_else(|| {
            let mut p = key.as_os_str().to_owned();
            p.push(".session");
            PathBuf::from(p)
        });
        Ok(Client { server, http, session_file })
    }

    /// Returns where the session token is kept.
    pub fn session_file(&self) -> &Path {
        &self.session_file
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.server)
        } else {
            format!("{}{API_PREFIX}/{path}", self.server)
        }
    }

    fn token(&self) -> Option<String> {
        let bytes = fs::read(&self.session_file).ok()?;
        let s: SessionFile = serde_json::from_slice(&bytes).ok()?;
        (s.server == self.server).then_some(s.token)
    }

    /// Sends a request with the session token (if any) and returns the JSON answer, or the refusal as an error.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let mut req = self.http.request(method.clone(), self.url(path));
        if let Some(token) = self.token() {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let url = self.url(path);
        let resp = req.send().await.map_err(|e| connection_error(&url, &e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.with_context(|| format!("{method} {url}: reading the answer"))?;
        let value: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        if status.is_success() {
            return Ok(value);
        }
        // A body that is not the refusal shape (a proxy's page, say) still says what came back.
        let refusal = serde_json::from_value(value.clone())
            .unwrap_or_else(|_| shared::api::ApiError { code: "HTTP_ERROR".into(), message: value.to_string() });
        Err(Refused { status: status.as_u16(), refusal }.into())
    }

    /// Starts a session with a TOTP code and writes the token to the session file (mode 0600).
    pub async fn login(&self, totp: &str) -> anyhow::Result<Value> {
        let answer = self.call(Method::POST, "session", Some(&serde_json::json!({ "totp": totp }))).await?;
        let token = answer.get("token").and_then(Value::as_str).context("the server sent no session token")?;
        let expires_at = answer.get("expires_at").and_then(Value::as_str).unwrap_or_default();
        let file = SessionFile { server: self.server.clone(), token: token.to_owned(), expires_at: expires_at.into() };
        files::replace(&self.session_file, &serde_json::to_vec_pretty(&file)?, files::Access::Owner)?;
        let mut shown = answer.clone();
        if let Some(o) = shown.as_object_mut() {
            o.remove("token");
            o.insert("session_file".into(), Value::String(self.session_file.display().to_string()));
        }
        Ok(shown)
    }

    /// Ends the session and removes the session file.
    pub async fn logout(&self) -> anyhow::Result<Value> {
        let answer = self.call(Method::DELETE, "session", None).await;
        let _ = fs::remove_file(&self.session_file);
        answer
    }
}

fn connection_error(url: &str, e: &reqwest::Error) -> anyhow::Error {
    let mut chain = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        src = s.source();
    }
    let hint = if chain.contains("CertificateRevoked") {
        " (your operator certificate is revoked: ask an administrator for a new one)"
    } else if chain.contains("alert") || chain.contains("certificate") {
        " (check --ca, --cert and --key: the server accepts only certificates from its operator CA)"
    } else {
        ""
    };
    anyhow!("cannot reach {url}: {chain}{hint}")
}

fn parse_method(m: &str) -> anyhow::Result<Method> {
    match m.to_ascii_uppercase().as_str() {
        "GET" => Ok(Method::GET),
        "POST" => Ok(Method::POST),
        "PUT" => Ok(Method::PUT),
        "PATCH" => Ok(Method::PATCH),
        "DELETE" => Ok(Method::DELETE),
        _ => anyhow::bail!("unsupported method {m:?}: use GET, POST, PUT, PATCH or DELETE"),
    }
}

fn parse_body(json: &str) -> anyhow::Result<Value> {
    let text = match json.strip_prefix('@') {
        Some(path) => fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?,
        None => json.to_owned(),
    };
    serde_json::from_str(&text).context("--json is not valid JSON")
}

/// Runs one command and returns what to print.
pub async fn run(cli: Cli) -> anyhow::Result<Value> {
    let client = Client::new(&cli.settings)?;
    match cli.command {
        Command::Login { totp } => client.login(&totp).await,
        Command::Logout => client.logout().await,
        Command::Whoami => client.call(Method::GET, "whoami", None).await,
        Command::AuditVerify => client.call(Method::GET, "audit/verify", None).await,
        Command::Call { method, path, json } => {
            let body = json.as_deref().map(parse_body).transpose()?;
            client.call(parse_method(&method)?, &path, body.as_ref()).await
        }
    }
}

/// The binary: parses the command line, runs, prints JSON or the refusal.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("operator: error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(value) => {
            println!("{}", serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string()));
            ExitCode::SUCCESS
        }
        Err(e) => {
            match e.downcast_ref::<Refused>() {
                Some(r) => eprintln!("operator: refused: {r}"),
                None => eprintln!("operator: error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}
